"""The channel router behind `--band-ports`: each channel's messages to that channel's port, the rest to
the main one, and closing it closes every port."""

from __future__ import annotations

from duetto.midi import messages
from duetto.midi.ports.router import ChannelRouter


class Port:
    def __init__(self, name: str) -> None:
        self.name, self.sent, self.closed = name, [], False

    def send(self, message: list[int]) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


def test_each_channel_goes_to_its_port_and_everything_else_to_the_main_one():
    main, bass, chords = Port("Duetto Out"), Port("Duetto Bass"), Port("Duetto Chords")
    router = ChannelRouter(main, {1: bass, 2: chords})
    assert router.name == "Duetto Out"
    for message in (messages.note_on(1, 40, 90), messages.note_on(2, 60, 70), messages.note_on(5, 72, 80),
                    messages.note_off(1, 40), [0xB2, messages.ALL_NOTES_OFF, 0], [messages.CLOCK]):
        router.send(message)
    assert bass.sent == [messages.note_on(1, 40, 90), messages.note_off(1, 40)]
    assert chords.sent == [messages.note_on(2, 60, 70), [0xB2, messages.ALL_NOTES_OFF, 0]]
    assert main.sent == [messages.note_on(5, 72, 80), [messages.CLOCK]]
    router.close()
    assert main.closed and bass.closed and chords.closed
