"""The JACK server going away mid-session, and coming back.

When jackd stops (it crashed, or the user restarted it to change its settings), every JACK port of every
program goes with it, Duetto's own virtual ones too, and rtmidi says nothing: sends go into a queue
nobody reads until it is full, and then block for good (duetto.midi.ports.reconnect). So the session asks
this watch twice a second whether the server still answers. The moment it does not, `on_gone` lets go of
every port and note, and one line says so; when it answers again, one line says so, and the ports'
own checks open them again (duetto.midi.ports.reconnect). A server that stays away longer than `wait_seconds` ends the jam: a `ServerGone` error, one line,
exit status 1. A jam playing its own FluidSynth waits not at all (`wait_seconds` 0): the synth's MIDI
and audio went with the server.

Other MIDI systems stay up while the machine does: the watch is only made for JACK.
"""

from __future__ import annotations

import time
from typing import Callable

from duetto.errors import DuettoError
from duetto.midi.ports.libjack import jack_running

WAIT_SECONDS = 30.0  # how long a jam waits for its JACK server to come back
# checks in a row the server must fail to answer before it counts as gone: on a loaded machine one client
# may fail to open while the server plays on, and letting go of live ports would leave notes sounding
MISSES_TO_GO = 2


class ServerGone(DuettoError):
    """The JACK server went away and did not come back in time."""


class JackServerWatch:
    """Asks twice a second whether the server answers; `on_gone` runs once each time it stops."""

    def __init__(self, on_gone: Callable[[], None], log: Callable[[str], None],
                 wait_seconds: float = WAIT_SECONDS) -> None:
        self._on_gone, self._log = on_gone, log
        self._wait_seconds = wait_seconds
        self._gone_at: float | None = None
        self._misses = 0  # checks in a row the server did not answer

    @property
    def up(self) -> bool:
        return self._gone_at is None

    def check(self) -> bool:
        """Whether the server answers now; tells the session when that changes (main thread): gone after
        MISSES_TO_GO checks in a row without an answer, back at the first answer."""
        running = jack_running()
        self._misses = 0 if running else self._misses + 1
        now = time.monotonic()
        if self.up and self._misses >= MISSES_TO_GO:
            self._gone_at = now
            waiting = f", waiting {self._wait_seconds:g} s for it to come back" if self._wait_seconds else ""
            self._log(f"duetto: the JACK server went away; every note let go{waiting}")
            self._on_gone()
        elif not self.up and running:
            self._gone_at = None
            self._log("duetto: the JACK server is back; opening the ports again")
        if not self.up and now - self._gone_at >= self._wait_seconds:
            raise ServerGone("the JACK server went away" + (f" and did not come back within {self._wait_seconds:g} s"
                                                            if self._wait_seconds else ""))
        return running
