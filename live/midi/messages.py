"""What MIDI bytes mean: the one module that knows status bytes, controller numbers, how a raw message is
parsed, and which messages silence a synth.

Ports hand Duetto raw messages as lists of ints, because that is what rtmidi delivers and the cheapest
thing to pass between threads; everything that needs to know what such a list says asks here.
"""

from __future__ import annotations

from typing import Iterable

# channel voice messages: the high nibble of the status byte (the low nibble is the channel)
NOTE_OFF, NOTE_ON, POLY_PRESSURE, CONTROL_CHANGE = 0x80, 0x90, 0xA0, 0xB0
PROGRAM_CHANGE, CHANNEL_PRESSURE, PITCH_BEND = 0xC0, 0xD0, 0xE0
CHANNEL_MESSAGE_LENGTHS = {POLY_PRESSURE: 3, PROGRAM_CHANGE: 2, CHANNEL_PRESSURE: 2, PITCH_BEND: 3}

# system real-time and common messages that carry time: 24 clocks a beat, transport, song position
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TIMING_STATUSES = (CLOCK, START, CONTINUE, STOP, SONG_POSITION)

# controller numbers
SUSTAIN, SOSTENUTO, SOFT = 64, 66, 67
PEDALS = (SUSTAIN, SOSTENUTO, SOFT)
ALL_SOUND_OFF, ALL_NOTES_OFF = 120, 123
CHANNEL_MODE_CONTROLLERS = range(120, 128)  # All Sound Off, Reset, Local, All Notes Off, omni, mono, poly
SWITCH_ON = 64  # a switch controller (a pedal, a button) is on at this value and above
BEND_CENTRE = (0, 64)  # pitch bend's data bytes at rest

DRUM_CHANNEL = 9  # General MIDI's channel 10, counted from 0: percussion, not pitches

Message = list[int]


def channel_of(message: Message) -> int:
    return message[0] & 0x0F


def parse_note(message: Message) -> tuple[int, int, int] | None:
    """(channel, pitch, velocity) for note messages, velocity 0 meaning release; None for the rest,
    including malformed notes (data bytes must be below 128, or a pitch would become another token)."""
    if len(message) != 3 or message[1] > 127 or message[2] > 127:
        return None
    kind, channel = message[0] & 0xF0, message[0] & 0x0F
    if kind == NOTE_ON:
        return channel, message[1], message[2]
    if kind == NOTE_OFF:
        return channel, message[1], 0
    return None


def parse_control(message: Message) -> tuple[int, int, int] | None:
    """(channel, controller, value) for a well-formed control change; None otherwise."""
    if len(message) != 3 or message[0] & 0xF0 != CONTROL_CHANGE or message[1] > 127 or message[2] > 127:
        return None
    return message[0] & 0x0F, message[1], message[2]


def is_channel_message(message: Message) -> bool:
    """A well-formed polyphonic pressure, program change, channel pressure or pitch bend."""
    return (bool(message) and CHANNEL_MESSAGE_LENGTHS.get(message[0] & 0xF0) == len(message)
            and all(byte < 128 for byte in message[1:]))


def is_timing(message: Message) -> bool:
    return bool(message) and message[0] in TIMING_STATUSES


def is_pitch_bend(message: Message | tuple[int, ...]) -> bool:
    return message[0] & 0xF0 == PITCH_BEND


def note_on(channel: int, pitch: int, velocity: int) -> Message:
    return [NOTE_ON | channel, pitch, velocity]


def note_off(channel: int, pitch: int) -> Message:
    return [NOTE_OFF | channel, pitch, 0]


def control_change(channel: int, controller: int, value: int) -> Message:
    return [CONTROL_CHANGE | channel, controller, value]


def centre_bend(channel: int) -> Message:
    return [PITCH_BEND | channel, *BEND_CENTRE]


def program_change(channel: int, program: int) -> Message:
    """Select an instrument: `program` 0..127, General MIDI's 1..128 counted from 0."""
    return [PROGRAM_CHANGE | channel, program]


def silence(channels: Iterable[int], notes: Iterable[tuple[int, int]] = (),
            pedals: Iterable[tuple[int, int]] = (), bent: Iterable[int] = ()) -> list[Message]:
    """The messages that silence a synth, in the order that works: a note-off for each (channel, pitch)
    in `notes`, each (channel, pedal) in `pedals` lifted (under a held sustain pedal All Notes Off would
    leave the synth ringing), each channel in `bent` re-centred, then All Notes Off on every channel."""
    messages = [note_off(channel, pitch) for channel, pitch in sorted(notes)]
    messages += [control_change(channel, pedal, 0) for channel, pedal in sorted(pedals)]
    messages += [centre_bend(channel) for channel in sorted(bent)]
    messages += [control_change(channel, ALL_NOTES_OFF, 0) for channel in sorted(channels)]
    return messages


def panic_everything() -> list[Message]:
    """`duetto panic`: a note-off for every key on all 16 channels, the sustain pedal lifted and All Notes
    Off, for a synth left ringing by a program that is gone (so nobody knows what it holds)."""
    channels = range(16)
    return silence(channels, notes=[(channel, pitch) for channel in channels for pitch in range(128)],
                   pedals=[(channel, SUSTAIN) for channel in channels])
