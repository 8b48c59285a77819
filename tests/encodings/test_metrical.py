"""The metrical note encoding: onsets in ticks of the beat, bars placed by the time signature, long rests
shortened by whole bars, and a round trip back to the same notes."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.encodings import metrical
from duetto.music.notes import Note
from duetto.music.parts import MELODY
from duetto.music.timeline import Timeline


def line(starts_in_beats, beat_seconds=0.5, length_beats=0.5, pitch=60):
    return [Note(s * beat_seconds, (s + length_beats) * beat_seconds, pitch + i, 80) for i, s in enumerate(starts_in_beats)]


def test_onsets_count_ticks_of_the_beat_and_the_first_counts_from_its_bar_line():
    notes = line([1.0, 1.25, 1.5 + 1 / 3, 2.0])  # a sixteenth, a triplet eighth's worth, then the beat
    encoded = metrical.encode(notes, Timeline.steady(120.0), [MELODY] * 4)
    assert list(encoded.fields[:, metrical.ONSET]) == [24, 6, 14, 4]
    assert list(encoded.bar) == [24, 30, 44, 48]
    assert list(encoded.ticks) == [24, 30, 44, 48]


def test_the_bar_follows_the_time_signature():
    notes = line([0, 1, 2, 3, 4, 5, 6], length_beats=1.0)
    for meter, bar_ticks, expected in [((3, 4), 72, [0, 24, 48, 0, 24, 48, 0]),
                                       ((6, 8), 72, [0, 24, 48, 0, 24, 48, 0]),
                                       ((5, 4), 120, [0, 24, 48, 72, 96, 0, 24])]:
        encoded = metrical.encode(notes, Timeline.steady(120.0, meter), [MELODY] * 7)
        assert list(encoded.bar) == expected
        assert set(encoded.bar_length) == {bar_ticks}
        assert set(encoded.meter) == {metrical.meter_index(meter)}
    assert metrical.meter_index((3, 4)) != metrical.meter_index((6, 8))


def test_a_long_rest_is_shortened_by_whole_bars_and_keeps_the_place_in_the_bar():
    notes = line([0.0, 13.5])  # 13.5 beats later: 2.5 bars of 4/4 at most, the offbeat kept
    encoded = metrical.encode(notes, Timeline.steady(120.0), [MELODY] * 2)
    gap = encoded.fields[1, metrical.ONSET]
    assert gap < metrical.ONSETS and gap % 96 == (13.5 * 24) % 96
    assert encoded.bar[1] == (13.5 * 24) % 96


def test_notes_come_back_as_they_were_on_the_grid():
    timeline = Timeline(((0.0, 90.0), (4.0, 140.0)), ((0.0, 3, 4),))
    beats = [0, 0.5, 1, 2, 2.25, 3, 4.5, 6, 6.75, 8]
    notes = [Note(timeline.seconds(b), timeline.seconds(b + 0.5), 60 + i, 64) for i, b in enumerate(beats)]
    encoded = metrical.encode(notes, timeline, [MELODY] * len(notes))
    back = metrical.decode(encoded.fields, encoded.ticks, timeline)
    assert [n.pitch for n in back] == [n.pitch for n in notes]
    assert np.allclose([n.start for n in back], [n.start for n in notes], atol=1e-9)
    assert np.allclose([n.end for n in back], [n.end for n in notes], atol=1e-9)
    assert {n.velocity for n in back} == {metrical.bin_velocity(metrical.velocity_bin(64))}


def test_unison_voices_are_one_note_and_a_chord_reads_top_down():
    notes = [Note(0.0, 1.0, 60, 80, 0), Note(0.0, 1.0, 60, 80, 1), Note(0.0, 1.0, 67, 80, 0), Note(0.0, 1.0, 52, 80, 1)]
    encoded = metrical.encode(notes, Timeline.steady(120.0), [0, 1, 0, 1])
    assert list(encoded.fields[:, metrical.PITCH]) == [67, 60, 52]
    assert list(encoded.fields[:, metrical.ONSET]) == [0, 0, 0]


@pytest.mark.parametrize("ticks", [1, 5, 24, 47, 96, 200, 400])
def test_durations_keep_every_tick_up_to_a_beat_and_stay_close_beyond(ticks):
    kept = metrical.DURATION_TICKS[metrical.duration_bin(ticks)]
    assert kept == ticks if ticks <= 24 else abs(kept - ticks) <= max(6, 0.05 * ticks)
    assert metrical.DURATION_TICKS[-1] == 384


def test_columns_round_trip_as_shards_store_them():
    notes = line([0, 1, 2.5])
    encoded = metrical.encode(notes, Timeline.steady(120.0), [MELODY] * 3)
    again = metrical.MetricalNotes.from_columns(encoded.as_columns())
    for name in ("fields", "bar", "meter", "bar_length", "texture", "ticks"):
        assert np.array_equal(getattr(again, name), getattr(encoded, name))


@pytest.mark.parametrize("gap, bar_length", [(200, 96), (1000, 72), (500, 1584), (191, 1584), (5000, 288)])
def test_a_shortened_gap_is_always_an_onset_the_model_knows(gap, bar_length):
    assert 0 <= metrical.shortened_gap(gap, bar_length) < metrical.ONSETS
