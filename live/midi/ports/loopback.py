"""In-process MIDI ports: the same protocol as real ports, with no MIDI system underneath.

Used by `duetto demo` where no MIDI system exists, and by unit tests. An output opened with the name of a
virtual input delivers to it directly; an output that is itself virtual can be listened to by opening an
input with its name. Delivery happens on the sender's thread, stamped with `time.perf_counter()`.
"""

from __future__ import annotations

import threading
import time

from duetto.midi.ports.base import PortError, Receive


class LoopbackBackend:
    name = "loopback"
    supports_virtual_ports = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inputs: dict[str, list[Receive]] = {}  # virtual input name -> its callback
        self._outputs: dict[str, list[Receive]] = {}  # virtual output name -> listeners

    def input_names(self) -> list[str]:
        with self._lock:
            return sorted(self._outputs)

    def output_names(self) -> list[str]:
        with self._lock:
            return sorted(self._inputs)

    def open_input(self, name: str, callback: Receive, virtual: bool = False) -> "LoopbackInput":
        with self._lock:
            if virtual:
                self._inputs[name] = [callback]
                return LoopbackInput(self, name, self._inputs, callback)
            if name not in self._outputs:
                raise PortError(f"loopback: no virtual output named {name!r}")
            self._outputs[name].append(callback)
            return LoopbackInput(self, name, self._outputs, callback)

    def open_output(self, name: str, virtual: bool = False) -> "LoopbackOutput":
        with self._lock:
            if virtual:
                return LoopbackOutput(name, self._outputs.setdefault(name, []), self._lock)
            if name not in self._inputs:
                raise PortError(f"loopback: no virtual input named {name!r}")
            return LoopbackOutput(name, self._inputs[name], self._lock)

    def connected(self, target: str, direction: str) -> bool:
        """A loopback connection lasts as long as its ports: a listed port is connected."""
        return True

    def transport_latency(self) -> float:
        """Delivery is a function call: nothing to make up for."""
        return 0.0

    def _detach(self, table: dict[str, list[Receive]], name: str, callback: Receive) -> None:
        with self._lock:
            listeners = table.get(name, [])
            if callback in listeners:
                listeners.remove(callback)


class LoopbackInput:
    def __init__(self, backend: LoopbackBackend, name: str, table: dict, callback: Receive) -> None:
        self.name = name
        self._close = lambda: backend._detach(table, name, callback)

    def close(self) -> None:
        self._close()


class LoopbackOutput:
    def __init__(self, name: str, listeners: list[Receive], lock: threading.Lock) -> None:
        self.name = name
        self._listeners = listeners
        self._lock = lock

    def send(self, message: list[int]) -> None:
        stamp = time.perf_counter()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(list(message), stamp)

    def close(self) -> None:
        self._listeners = []
