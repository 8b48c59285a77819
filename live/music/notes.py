"""Timed notes and key events: the units every stage speaks.

A `Note` is a sounding note with its start and end; a `KeyEvent` is one key going down or up. The corpus
reader and the MIDI file reader produce notes, the encodings turn them into tokens, the voices answer in
key events, and `--record` and `generate` write notes to MIDI files (duetto.midi.files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

CHORD_SECONDS = 0.05  # strikes closer than this are one moment: a chord, a flam, a rolled chord's start
# a hand's keys struck together land within this of each other: a band follows a new chord or melody note
# once it has settled, having heard the whole chord and not its first key, and still at once to the ear
SETTLE_SECONDS = 0.02


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note; times in seconds from the start of the piece."""

    start: float
    end: float
    pitch: int
    velocity: int
    channel: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class KeyEvent:
    """What a token means once read: a key going down or up at a time, or None for time/velocity."""

    seconds: float
    pitch: int
    velocity: int  # 0 for a release
    part: int | None = None  # the band part that plays it (duetto.music.parts); None: the bot's one part


def notes_from_events(events: Iterable[KeyEvent], keep_instant: bool = False) -> Iterator[Note]:
    """Pair key-downs with their key-ups (a band's note on the channel named by its part). A key-up at the
    very moment of its key-down is no note, unless `keep_instant`: a recording keeps what was sent, and a
    scheduler that fell behind sends a late note's key-down and key-up back to back."""
    pressed: dict[int, KeyEvent] = {}
    for event in events:
        if event.velocity > 0:
            pressed[event.pitch] = event
        elif event.pitch in pressed:
            down = pressed.pop(event.pitch)
            if event.seconds > down.seconds or keep_instant:
                yield Note(down.seconds, event.seconds, event.pitch, down.velocity, down.part or 0)


def transpose(notes: Iterable[Note], semitones: int) -> list[Note]:
    """Shift every pitch; callers check the range."""
    return [Note(n.start, n.end, n.pitch + semitones, n.velocity, n.channel) for n in notes]


NOTE_NAME = re.compile(r"([A-Ga-g])([#b]?)(-?\d)")
LETTER_CLASSES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_note_name(text: str, option: str = "note") -> int:
    """'C4' (middle C, 60), 'F#3', 'Bb2' or a MIDI number like '60' -> the MIDI note number; a one-line
    ValueError naming `option` otherwise."""
    text = text.strip()
    match = NOTE_NAME.fullmatch(text)
    if text.isdigit():
        number = int(text)
    elif match:
        letter, accidental, octave = match.groups()
        number = 12 * (int(octave) + 1) + LETTER_CLASSES[letter.lower()] + {"#": 1, "b": -1, "": 0}[accidental]
    else:
        number = -1
    if not 0 <= number <= 127:
        raise ValueError(f"{option} {text!r}: give a note like C4 (middle C), F#3, Bb2, or a MIDI number 0-127")
    return number
