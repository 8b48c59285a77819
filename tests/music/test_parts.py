"""Which part a note belongs to: channels by height, and one hand's chords split into melody, inner and
bass."""

from __future__ import annotations

from duetto.music.notes import Note
from duetto.music.parts import BASS, INNER, MELODY, part_roles


def test_channels_are_parts_by_height():
    notes = [Note(0.0, 1.0, 72, 80, 0), Note(0.0, 1.0, 64, 80, 1), Note(0.0, 1.0, 40, 80, 2),
             Note(1.0, 2.0, 74, 80, 0), Note(1.0, 2.0, 43, 80, 2)]
    assert part_roles(notes) == [MELODY, INNER, BASS, MELODY, BASS]


def test_a_single_line_is_the_melody_whatever_its_register():
    line = [Note(0.5 * index, 0.5 * index + 0.4, 40 + index, 80) for index in range(8)]
    assert part_roles(line) == [MELODY] * 8


def test_one_hand_playing_chords_under_a_tune_is_split_moment_by_moment():
    notes = []
    for bar in range(4):
        at = 2.0 * bar
        notes += [Note(at, at + 1.9, 48, 80), Note(at, at + 1.9, 55, 80), Note(at, at + 0.9, 76, 80),
                  Note(at + 1.0, at + 1.9, 74, 80)]  # bass, an inner fifth, the tune, and the tune alone
    roles = part_roles(notes)
    for note, role in zip(notes, roles):
        expected = {48: BASS, 55: INNER, 76: MELODY, 74: MELODY}[note.pitch]
        assert role == expected, (note, role)
