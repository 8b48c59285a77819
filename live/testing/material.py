"""Music written for tests: small real MIDI files with enough variety for a dataset split."""

from __future__ import annotations

from pathlib import Path

from duetto.midi.files import write_midi
from duetto.music.notes import Note


def write_tunes(folder: Path, count: int = 24) -> None:
    """Short tunes in different keys: arpeggios with a held bass, enough variety for a split."""
    for index in range(count):
        root = 48 + index
        notes = [Note(0.0, 2.0, root - 12, 70)]
        for step, interval in enumerate([0, 4, 7, 12, 7, 4, 0, 7] * 2):
            notes.append(Note(step * 0.25, step * 0.25 + 0.2, root + interval, 60 + (step * 7) % 40))
        write_midi(folder / f"tune{index:02d}.mid", {"tune": notes})
