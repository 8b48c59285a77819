"""Texture as a listener counts it: the notes sounding at each moment a key is struck."""

from __future__ import annotations

import pytest

from duetto.music.notes import Note
from duetto.music.texture import check_texture, texture_of, voices

LINE = [Note(0.5 * i, 0.5 * i + 0.45, 60 + i, 80) for i in range(8)]
LEGATO = [Note(0.5 * i, 0.5 * i + 0.55, 60 + i, 80) for i in range(8)]  # each note overlaps the next a little
TWO_PARTS = LINE + [Note(i, i + 0.95, 48 + i, 70) for i in range(4)]
CHORALE = [Note(i, i + 0.9, pitch + i, 80) for i in range(4) for pitch in (48, 55, 64, 67)]
ROLLED = [Note(0.01 * k, 1.0, pitch, 80) for k, pitch in enumerate((48, 52, 55, 60))]  # a chord, spread 30 ms


@pytest.mark.parametrize("notes, count, texture", [
    (LINE, 1.0, "line"), (LEGATO, 1.0, "line"), (TWO_PARTS, 2.0, "voices"), (CHORALE, 4.0, "chords"),
    (ROLLED, 4.0, "chords"),
])
def test_voices_count_what_sounds_at_each_strike(notes, count, texture):
    assert voices(notes) == pytest.approx(count)
    assert texture_of(notes) == texture


def test_no_notes_is_no_texture_and_unknown_names_are_refused():
    assert voices([]) == 0.0 and texture_of([]) is None
    assert check_texture("chords") == "chords"
    with pytest.raises(ValueError, match="line, voices, chords"):
        check_texture("thick")
