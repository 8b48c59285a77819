"""Several output ports behind one: a band whose parts each play on a port of their own (`--band-ports`).

The engine's scheduler owns one output and sends every message to it. With a port for each band part,
that output is a `ChannelRouter`: each channel message goes to the port of its channel (a part's), every
other message, and those of channels without a port of their own, to the main port. A part's note-offs
and its All Notes Off go on its channel, so they reach the port its notes went to.
"""

from __future__ import annotations

from duetto.midi import messages
from duetto.midi.ports.base import OutputPort


class ChannelRouter:
    """One output (named as the main port) that sends each channel's messages to that channel's port."""

    def __init__(self, main: OutputPort, by_channel: dict[int, OutputPort]) -> None:
        self.main = main
        self.name = main.name
        self._by_channel = dict(by_channel)

    def send(self, message: list[int]) -> None:
        channel_message = 0x80 <= message[0] < 0xF0
        port = self._by_channel.get(messages.channel_of(message), self.main) if channel_message else self.main
        port.send(message)

    def close(self) -> None:
        for port in [*self._by_channel.values(), self.main]:
            port.close()
