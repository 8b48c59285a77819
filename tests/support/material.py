"""Music written for tests: small real MIDI files with enough variety for a dataset split."""

from __future__ import annotations

import random
import struct
from pathlib import Path

from duetto.midi.files import write_midi
from duetto.music.key import SCALES
from duetto.music.notes import Note

MAJOR = SCALES["major"]
ODE_TO_JOY = [76, 76, 77, 79, 79, 77, 76, 74, 72, 72, 74, 76, 76, 74, 74, 72]  # in C, a note a beat: a stepwise tune


def tune_a_note_a_beat(pitches: list[int], beat: float, times: int = 2) -> list[Note]:
    """`pitches` played `times` over, a note a beat (of `beat` seconds) from 0, each held nine tenths of it."""
    return [Note(beat * index, beat * (index + 0.9), pitch, 90) for index, pitch in enumerate(pitches * times)]


def write_tunes(folder: Path, count: int = 24) -> None:
    """`count` different short tunes, each over a held bass in its own key: a melody of eighths and
    quarters stepping and leaping through the major scale, different enough from tune to tune that no two
    are copies of each other in any key (the dataset builder drops such copies)."""
    for index in range(count):
        rng = random.Random(index)
        root = 48 + index % 12
        notes = [Note(0.0, 4.0, root - 12, 70)]
        degree, time = 0, 0.0
        while time < 4.0:
            length = rng.choice((0.25, 0.25, 0.5))
            degree = max(-3, min(9, degree + rng.choice((-2, -1, -1, 1, 1, 2, 4))))
            pitch = root + 12 * (degree // 7) + MAJOR[degree % 7]
            notes.append(Note(time, time + length * 0.8, pitch, 60 + rng.randrange(40)))
            time += length
        write_midi(folder / f"tune{index:02d}.mid", {"tune": notes})


def break_key_signature(path: Path) -> None:
    """Give a file `write_midi` wrote a key signature in mode 255 (0 is major, 1 minor) at its start, as two
    tracks of a published game soundtrack carry one: a file players open and mido refuses."""
    data = path.read_bytes()
    start = data.index(b"MTrk") + 4
    (length,) = struct.unpack(">L", data[start:start + 4])
    event = b"\x00\xff\x59\x02\x00\xff"  # at tick 0, key signature: no sharps or flats, mode 255
    path.write_bytes(data[:start] + struct.pack(">L", length + len(event)) + event + data[start + 4:])
