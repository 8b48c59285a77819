"""The port protocol every backend fills in: open an input with a callback, open an output and send, close.

Messages are plain lists of MIDI bytes; inputs stamp each one with `time.perf_counter()` on arrival, the
clock every other stage uses.
"""

from __future__ import annotations

from typing import Callable, Protocol

from duetto.errors import DuettoError

Receive = Callable[[list[int], float], None]  # (MIDI bytes, perf_counter seconds at arrival)


class PortError(DuettoError):
    """A port or MIDI system that cannot be used; the message says what to do, in one line."""


class InputPort(Protocol):
    name: str

    def close(self) -> None: ...


class OutputPort(Protocol):
    name: str

    def send(self, message: list[int]) -> None: ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def input_names(self) -> list[str]: ...

    def output_names(self) -> list[str]: ...

    def open_input(self, name: str, callback: Receive, virtual: bool = False) -> InputPort: ...

    def open_output(self, name: str, virtual: bool = False) -> OutputPort: ...

    def connected(self, target: str, direction: str) -> bool: ...

    def transport_latency(self) -> float: ...


def match_port(name: str, available: list[str], direction: str) -> str:
    """The available port `name` means: itself, or the one port whose name holds it (any letter case);
    a one-line PortError listing the ports otherwise."""
    if name in available:
        return name
    matches = [port for port in available if name.lower() in port.lower()]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(repr(port) for port in available) or "none"
    problem = "matches several" if matches else "matches none"
    raise PortError(f"MIDI {direction} {name!r} {problem} of the available ports: {listing}")
