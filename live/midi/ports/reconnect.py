"""Ports connected by name to another program's port survive that program quitting and coming back.

A DAW or a synth that quits takes its port with it; when it starts again its port has the same name, but
nothing reconnects Duetto to it. `KeptOutput` and `KeptInput` wrap a port opened by name: `check()`
(called twice a second from the main thread) notices the port gone, reports it once through `on_lost`,
and reopens the connection when a port of that name is back. A port still listed is also asked whether
Duetto is still connected to it: on JACK a send to a peer that has gone raises nothing, and a synth that
restarted between two checks (or a patchbay that cut the cable) leaves a port of the right name that
hears nothing; that is reported and reconnected the same way. Virtual ports need none of this: there,
other programs connect to Duetto.
"""

from __future__ import annotations

import threading
from typing import Callable

from duetto.midi.ports.base import Backend, InputPort, OutputPort, PortError, Receive

Log = Callable[[str], None]


class _Kept:
    direction = ""

    def __init__(self, backend: Backend, on_lost: Callable[[], None], log: Log) -> None:
        self._backend = backend
        self._on_lost = on_lost
        self._log = log
        self.present = True
        self.reconnections = 0

    def _available(self) -> list[str]:
        raise NotImplementedError

    def _reopen(self) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Let go of the connection to a peer that has gone (before anyone is told)."""

    def check(self) -> None:
        """Notice the peer gone or back; call from one thread only."""
        try:
            there = self.target in self._available()
            connected = there and self._backend.connected(self.target, self.direction)
        except PortError:
            return  # the MIDI system did not answer this time (JACK busy): look again at the next check
        if self.present and not connected:
            self.present = False
            self._disconnect()
            what = "lost its connection; all notes off, reconnecting" if there else \
                "is gone; all notes off, waiting for it to come back"
            self._log(f"duetto: MIDI {self.direction} {self.target!r} {what}")
            self._on_lost()
        if not self.present and there:
            try:
                self._reopen()
            except PortError as error:
                self._log(f"duetto: {error}; trying again")
                return
            self.present = True
            self.reconnections += 1
            self._log(f"duetto: MIDI {self.direction} {self.target!r} is back; reconnected")


class KeptOutput(_Kept):
    """An output connected to `name`; sends go to whichever connection is current (any thread)."""

    direction = "output"

    def __init__(self, backend: Backend, name: str, on_lost: Callable[[], None], log: Log) -> None:
        super().__init__(backend, on_lost, log)
        self._port: OutputPort = backend.open_output(name)
        self.target = self.name = self._port.name
        self._lock = threading.Lock()

    def _available(self) -> list[str]:
        return self._backend.output_names()

    def send(self, message: list[int]) -> None:
        with self._lock:
            self._port.send(message)

    def _reopen(self) -> None:
        fresh = self._backend.open_output(self.target)
        with self._lock:
            stale, self._port = self._port, fresh
        stale.close()

    def close(self) -> None:
        with self._lock:
            self._port.close()


class KeptInput(_Kept):
    """An input connected to `name`, delivering to `callback`. When the peer goes, `on_lost` runs after
    the old connection is closed, so no callback of it can come in afterwards."""

    direction = "input"

    def __init__(self, backend: Backend, name: str, callback: Receive, on_lost: Callable[[], None], log: Log) -> None:
        super().__init__(backend, on_lost, log)
        self._callback = callback
        self._port: InputPort | None = backend.open_input(name, callback)
        self.target = self.name = self._port.name

    def _available(self) -> list[str]:
        return self._backend.input_names()

    def _disconnect(self) -> None:
        if self._port is not None:  # closed first, so no callback of it can come in after on_lost
            self._port.close()
            self._port = None

    def _reopen(self) -> None:
        self._port = self._backend.open_input(self.target, self._callback)

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
