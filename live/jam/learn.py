"""`duetto learn CONTROL`: move a knob, and that knob's CC now moves the control.

Listens on a MIDI input for the first control change that is not a channel-mode message (120-127: All
Notes Off and the like, which controllers send on their own) and returns its number; the caller maps
the control to it in the config file.
"""

from __future__ import annotations

import queue

from duetto.midi import messages
from duetto.midi.ports.base import Backend


def listen_for_cc(backend: Backend, port: str, virtual: bool, timeout: float) -> int | None:
    """The number of the first CC moved on `port` (opened as a virtual port of that name, or connected
    to an existing one) within `timeout`."""
    moved: queue.Queue[int] = queue.Queue()

    def hear(message: list[int], _stamp: float) -> None:
        control = messages.parse_control(message)
        if control is not None and control[1] not in messages.CHANNEL_MODE_CONTROLLERS:
            moved.put(control[1])

    source = backend.open_input(port, hear, virtual=virtual)
    try:
        return moved.get(timeout=timeout)
    except queue.Empty:
        return None
    finally:
        source.close()
