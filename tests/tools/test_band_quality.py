"""The band's figures in `duetto bench quality` (duetto.tools.band_quality): each measure on music whose
answer is known, and one piece accompanied by the shipped model, from the melody and from held chords."""

from __future__ import annotations

import pytest

from duetto.model.sampler import Sampler
from duetto.music.chords import Chord
from duetto.music.notes import Note
from duetto.music.parts import BASS, INNER, MELODY, OTHER
from duetto.music.timeline import Timeline
from duetto.tools.band_quality import (LISTEN_BEATS, PLAY_BEATS, BandPiece, bass_on_root_or_fifth, chords_of,
                                       consonance, consonance_together, held_chords, piece_figures,
                                       registers_in_order)

TIMELINE = Timeline.steady(120.0)  # half a second a beat
C, G = Chord(0, ""), Chord(7, "")


def beat_note(beat: float, pitch: int, part: int, beats: float = 1.0) -> Note:
    return Note(beat / 2, (beat + beats) / 2, pitch, 80, part)


def test_consonance_sets_each_band_note_against_the_melody_note_sounding_at_its_onset():
    melody = [beat_note(0, 72, MELODY, 2), beat_note(2, 74, MELODY, 2)]
    band = [beat_note(0, 60, INNER),  # an octave below C: consonant
            beat_note(1, 71, OTHER),  # a semitone under the C still sounding: dissonant
            beat_note(2, 67, INNER),  # a fifth under D: consonant
            beat_note(6, 61, INNER)]  # no melody sounds: not counted
    assert consonance(band, melody) == pytest.approx(2 / 3)
    assert consonance([beat_note(6, 60, BASS)], melody) is None


def test_the_parts_together_count_each_pair_of_band_notes_sounding_at_once_from_both_ends():
    band = [beat_note(0, 36, BASS, 2),  # C2 under E3 (consonant) and, from beat 1, under D3 (dissonant)
            beat_note(0, 52, INNER),
            beat_note(1, 50, INNER),
            beat_note(4, 61, OTHER)]  # sounds alone: not counted
    # pairs seen from each note struck while another sounds: E3 against C2, C2 against E3 (both at beat
    # 0), D3 against C2 (C2 sounding since beat 0): 2 of 3 consonant
    assert consonance_together(band) == pytest.approx(2 / 3)
    assert consonance_together([beat_note(0, 60, INNER), beat_note(0, 60, BASS)]) is None  # a unison doubling


def test_the_bass_is_on_root_or_fifth_of_its_half_bars_chord_and_only_the_bass_counts():
    chords = [C, G]  # beats 0-1, then 2-3
    band = [beat_note(0, 36, BASS), beat_note(1, 43, BASS), beat_note(2, 40, BASS),  # C, G over C; E over G
            beat_note(3, 50, BASS), beat_note(0, 62, INNER)]  # D over G (its fifth); a chord note
    assert bass_on_root_or_fifth(band, chords, TIMELINE) == pytest.approx(3 / 4)


def test_registers_are_in_order_when_bass_lies_below_chords_and_chords_not_above_the_line():
    in_order = [beat_note(0, 40, BASS), beat_note(0, 60, INNER), beat_note(0, 64, INNER), beat_note(0, 72, OTHER)]
    crossed = [beat_note(1, 40, BASS), beat_note(1, 76, INNER), beat_note(1, 70, OTHER)]
    alone = [beat_note(2, 40, BASS)]  # one part: nothing to order
    assert registers_in_order(in_order + crossed + alone, TIMELINE) == pytest.approx(0.5)


def test_held_chords_change_on_the_beat_their_span_begins_and_the_last_is_held_on():
    held = held_chords([C, G], TIMELINE)
    assert held(0.0) == C and held(0.99) == C  # beat 1.98
    assert held(1.0) == G and held(30.0) == G


def test_the_chord_of_each_span_is_the_keys_chord_that_fits_its_notes():
    music = [beat_note(0, 60, MELODY), beat_note(0, 64, INNER), beat_note(1, 67, MELODY),
             beat_note(2, 67, MELODY), beat_note(2, 71, INNER), beat_note(3, 74, MELODY),
             beat_note(4, 72, MELODY), beat_note(4, 64, INNER), beat_note(5, 67, MELODY)]
    assert chords_of(music, TIMELINE, 6) == [C, G, C]


def test_the_shipped_band_accompanies_a_melody_from_what_it_heard_and_from_held_chords(shipped_model):
    # a C major tune over I-V, a bar each, its real accompaniment a bass on the roots and the chords
    beats = LISTEN_BEATS + PLAY_BEATS
    tune = [72, 76, 79, 76, 74, 71, 67, 71]
    melody = [beat_note(beat, tune[beat % 8], MELODY) for beat in range(beats)]
    real = [note for bar in range(beats // 4) for note in (
        beat_note(4 * bar, 36 if bar % 2 == 0 else 43, BASS, 4),
        *(beat_note(4 * bar + 2 * half, pitch, INNER, 2) for half in range(2)
          for pitch in ((60, 64, 67) if bar % 2 == 0 else (59, 62, 67))))]
    piece = BandPiece(melody, real, TIMELINE, "swing", shipped_model.info.styles.index("swing"))
    figures = piece_figures(shipped_model, piece, Sampler(seed=0))
    assert figures["notes"] > 0 and sum(figures["parts"].values()) == figures["notes"]
    assert figures["real_consonance"] == 1.0 and figures["real_bass"] == 1.0  # the chords fit the tune
    assert figures["real_on_beats"] == 1.0  # the real bass and chords strike on beats only
    for key in ("consonance", "split_consonance", "together", "real_together", "bass", "split_bass", "on_grid", "on_beats", "registers"):
        assert figures[key] is not None and 0.0 <= figures[key] <= 1.0, key
    # bass and chords play (a line comes in less often), above chance with the harmony known: a third of
    # random pitch classes would be root or fifth, 7 of 12 consonant
    assert figures["parts"][BASS] > 0 and figures["parts"][INNER] > 0
    assert figures["split_bass"] > 1 / 3 and figures["split_consonance"] > 7 / 12
