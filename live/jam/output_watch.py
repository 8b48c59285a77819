"""Whether the bot's notes are getting out, said within a second, in the log and in the live view.

The scheduler survives a send that fails (it counts it and carries on, so no note is left hanging), and a
port connected by name notices its peer gone or disconnected (duetto.midi.ports.reconnect). Neither is of
use to a player who is not told: silence from a dead port sounds like a bot with nothing to say. So the
session asks this watch twice a second what is wrong, and the answer is logged once when the trouble
begins and once when notes flow again (never once a note), and shown in the view for as long as it lasts.
"""

from __future__ import annotations

from typing import Callable

from duetto.jam.scheduler import Scheduler
from duetto.midi.ports.reconnect import KeptOutput


class OutputWatch:
    """The trouble with the output now, if any, from the scheduler's books and the kept port's state."""

    def __init__(self, name: str, scheduler: Scheduler, kept: KeptOutput | None, log: Callable[[str], None]) -> None:
        self._name = name
        self._scheduler = scheduler
        self._kept = kept
        self._log = log
        self._failed = scheduler.send_errors
        self._sent = scheduler.sent
        self._reconnections = 0 if kept is None else kept.reconnections
        self._failing = False  # sends failed since the last one that went through
        self.trouble: str | None = None

    def check(self) -> str | None:
        """Look at what was sent since the last check (main thread); returns the trouble now, or None."""
        failed, sent = self._scheduler.send_errors, self._scheduler.sent
        kept = self._kept
        if kept is not None and (not kept.present or kept.reconnections != self._reconnections):
            # the kept port said so itself (gone, lost its connection, back), and sends to it were refused
            self._reconnections, self._failing = kept.reconnections, False
        elif failed > self._failed:
            if not self._failing:
                self._log(f"duetto: notes are not getting out to {self._name!r} "
                          f"({self._scheduler.last_error}); still trying")
            self._failing = True
        elif sent > self._sent and self._failing:
            self._failing = False
            self._log(f"duetto: notes are getting out to {self._name!r} again")
        self._failed, self._sent = failed, sent
        if kept is not None and not kept.present:
            self.trouble = f"notes are not getting out: {kept.target!r} is gone"
        elif self._failing:
            self.trouble = f"notes are not getting out to {self._name!r}: {self._scheduler.last_error}"
        else:
            self.trouble = None
        return self.trouble
