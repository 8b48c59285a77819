"""Ports that survive another program, or the MIDI system itself, going away and coming back.

A DAW or a synth that quits takes its port with it; when it starts again its port has the same name, but
nothing reconnects Duetto to it. `KeptOutput` and `KeptInput` wrap a port opened by name: `check()`
(called twice a second from the main thread) notices the port gone, reports it once through `on_lost`,
and reopens the connection when a port of that name is back. A port still listed is also asked whether
Duetto is still connected to it: on JACK a send to a peer that has gone raises nothing, and a synth that
restarted between two checks (or a patchbay that cut the cable) leaves a port of the right name that
hears nothing; that is reported and reconnected the same way.

A JACK server that goes away takes every port with it, Duetto's virtual ones too (duetto.midi.ports.server
notices). Then `lose()` lets go of each port at once, before anything is sent to it: on a server that has
gone, an rtmidi output's queue fills after a couple of thousand messages and the next send blocks for
good, the interpreter with it. Until the port is back a send raises a PortError, which the scheduler
counts and survives. When the server is back, `check()` opens a virtual port again straight away, and a
port connected by name as soon as its program is back too.
"""

from __future__ import annotations

import threading
from typing import Callable

from duetto.midi.ports.base import Backend, InputPort, OutputPort, PortError, Receive

Log = Callable[[str], None]


class _Kept:
    direction = ""

    def __init__(self, backend: Backend, name: str, virtual: bool, on_lost: Callable[[], None], log: Log) -> None:
        self._backend = backend
        self._virtual = virtual
        self._on_lost = on_lost
        self._log = log
        self.target = self.name = name  # a port connected by name: the full name of the port it matched
        self.present = True
        self.reconnections = 0

    def _available(self) -> list[str]:
        raise NotImplementedError

    def _open(self) -> None:
        raise NotImplementedError

    def _let_go(self) -> None:
        """Close the port (its peer, or the server, has gone), before anyone is told."""
        raise NotImplementedError

    def lose(self) -> None:
        """The MIDI system went away: let go of the port now, quietly (whoever noticed says so once for
        every port); `check` opens it again once the system is back."""
        if self.present:
            self.present = False
            self._let_go()

    def check(self) -> None:
        """Notice the peer gone or back, or reopen a virtual port lost with its server; one thread only."""
        if self._virtual:
            if not self.present:
                self._reopen()  # the server's return was said once for every port
            return
        try:
            there = self.target in self._available()
            connected = there and self._backend.connected(self.target, self.direction)
        except PortError:
            return  # the MIDI system did not answer this time (JACK busy): look again at the next check
        if self.present and not connected:
            self.present = False
            self._let_go()
            what = "lost its connection; all notes off, reconnecting" if there else \
                "is gone; all notes off, waiting for it to come back"
            self._log(f"duetto: MIDI {self.direction} {self.target!r} {what}")
            self._on_lost()
        if not self.present and there:
            self._reopen(f"duetto: MIDI {self.direction} {self.target!r} is back; reconnected")

    def _reopen(self, said: str | None = None) -> None:
        try:
            self._open()
        except PortError as error:
            self._log(f"duetto: {error}; trying again")
            return
        self.present = True
        self.reconnections += 1
        if said is not None:
            self._log(said)


class KeptOutput(_Kept):
    """An output connected to `name` (or, `virtual`, a port of that name others connect to); sends go to
    whichever port is current (any thread), and raise a PortError while there is none."""

    direction = "output"

    def __init__(self, backend: Backend, name: str, on_lost: Callable[[], None], log: Log,
                 virtual: bool = False) -> None:
        self._lock = threading.Lock()
        self._port: OutputPort | None = backend.open_output(name, virtual=virtual)
        super().__init__(backend, self._port.name, virtual, on_lost, log)

    def _available(self) -> list[str]:
        return self._backend.output_names()

    def send(self, message: list[int]) -> None:
        with self._lock:
            if self._port is None:
                raise PortError(f"MIDI output {self.name!r} is not open")
            self._port.send(message)

    def _open(self) -> None:
        fresh = self._backend.open_output(self.target, virtual=self._virtual)
        with self._lock:
            self._port = fresh

    def _let_go(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()

    def close(self) -> None:
        self._let_go()


class KeptInput(_Kept):
    """An input connected to `name` (or, `virtual`, a port of that name others connect to), delivering to
    `callback`. When the peer goes, `on_lost` runs after the old port is closed, so no callback of it can
    come in afterwards."""

    direction = "input"

    def __init__(self, backend: Backend, name: str, callback: Receive, on_lost: Callable[[], None], log: Log,
                 virtual: bool = False) -> None:
        self._callback = callback
        self._port: InputPort | None = backend.open_input(name, callback, virtual=virtual)
        super().__init__(backend, self._port.name, virtual, on_lost, log)

    def _available(self) -> list[str]:
        return self._backend.input_names()

    def _open(self) -> None:
        self._port = self._backend.open_input(self.target, self._callback, virtual=self._virtual)

    def _let_go(self) -> None:
        if self._port is not None:  # closed first, so no callback of it can come in after on_lost
            self._port.close()
            self._port = None

    def close(self) -> None:
        self._let_go()
