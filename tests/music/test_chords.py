"""Chords from held keys (any inversion is the same chord) and the key's chords that fit a melody."""

import itertools

import numpy as np
import pytest

from duetto.music.chords import Chord, HeardMelody, chord_of_keys, diatonic_chords, fitting_chords
from duetto.music.key import Key


@pytest.mark.parametrize("name, pitches", [
    ("C", (60, 64, 67)), ("Dm", (62, 65, 69)), ("E7", (52, 56, 59, 62)), ("G7", (55, 59, 62, 65)),
    ("Ebmaj7", (51, 55, 58, 62)), ("Bdim", (59, 62, 65)),
])
def test_every_inversion_and_spread_of_an_unambiguous_chord_names_the_same_chord(name, pitches):
    for order in itertools.permutations(pitches):
        # each note lifted by its place in the order: the first lowest, so every inversion comes up
        voiced = [pitch + 12 * index for index, pitch in enumerate(order)]
        assert str(chord_of_keys(voiced)) == name, voiced


def test_where_notes_spell_two_chords_the_lowest_key_is_the_root():
    assert str(chord_of_keys([57, 60, 64, 67])) == "Am7"  # A in the bass
    assert str(chord_of_keys([60, 64, 67, 69])) == "C6"  # C in the bass, the same four pitch classes


def test_a_partial_hand_gets_the_shape_that_covers_it_and_one_key_is_no_chord():
    assert str(chord_of_keys([60, 64])) == "C"
    assert str(chord_of_keys([57, 60])) == "Am"
    assert chord_of_keys([60]) is None
    assert chord_of_keys([60, 72]) is None  # octaves: one pitch class


def test_the_diatonic_chords_of_major_and_minor_keys():
    assert [str(chord) for chord in diatonic_chords(Key(0, "major"))] == ["C", "Dm", "Em", "F", "G", "Am", "Bdim"]
    minor = [str(chord) for chord in diatonic_chords(Key(9, "minor"))]
    assert minor[:4] == ["Am", "Bdim", "C", "Dm"] and "E" in minor  # harmonic minor's major dominant too


def _weights(*pitch_classes: int) -> np.ndarray:
    weights = np.zeros(12)
    for pitch_class in pitch_classes:
        weights[pitch_class] += 1.0
    return weights


def test_a_melody_is_fitted_with_the_chords_its_notes_spell():
    spans = [_weights(0, 4, 7, 4), _weights(5, 9, 0, 9), _weights(7, 11, 2, 5), _weights(0, 4, 0)]
    assert [str(chord) for chord in fitting_chords(spans, Key(0, "major"))] == ["C", "F", "G", "C"]


def test_a_silent_span_keeps_the_chord_before_it():
    spans = [_weights(9, 0, 4), np.zeros(12)]
    assert fitting_chords(spans, Key(0, "major")) == [Chord(9, "m"), Chord(9, "m")]


def test_with_no_chord_held_a_band_follows_the_harmony_the_melody_implies_over_its_last_beats():
    heard = HeardMelody()
    for start, pitch in ((0.0, 72), (0.5, 76), (1.0, 79), (1.5, 76), (2.0, 77), (2.5, 81), (3.0, 84), (3.5, 81)):
        heard.key(start, pitch, 80)
        heard.key(start + 0.45, pitch, 0)
    c_major = Key(0, "major")
    assert str(heard.chord(c_major, 0.0, 2.0)) == "C"
    assert str(heard.chord(c_major, 2.0, 4.0)) == "F"
    heard.key(4.0, 79, 80)  # a note still held counts up to now
    assert str(heard.chord(c_major, 3.9, 4.4)) == "C"
    heard.key(4.5, 79, 0)
    assert heard.chord(None, 0.0, 2.0) is None and heard.chord(c_major, 10.0, 12.0) is None
