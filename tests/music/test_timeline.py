"""Where beats and bars fall: a tempo map read both ways, bars counted from a pickup and across meter
changes, and tempos out of range refused."""

from __future__ import annotations

import pytest

from duetto.music.timeline import Timeline, bar_beats, check_bpm


def test_seconds_and_beats_are_read_both_ways_through_tempo_changes():
    timeline = Timeline(((0.0, 120.0), (2.0, 60.0)))  # 4 beats of 0.5 s, then beats of 1 s
    assert timeline.beats(2.0) == pytest.approx(4.0)
    assert timeline.beats(3.5) == pytest.approx(5.5)
    for beat in (0.0, 1.25, 4.0, 7.5):
        assert timeline.beats(timeline.seconds(beat)) == pytest.approx(beat)
    assert timeline.bpm_at(1.0) == 120.0 and timeline.bpm_at(2.5) == 60.0


def test_bars_follow_the_time_signature():
    assert bar_beats((3, 4)) == 3.0 and bar_beats((6, 8)) == 3.0 and bar_beats((5, 4)) == 5.0
    waltz = Timeline.steady(120.0, (3, 4))
    assert waltz.bar_position(4.0) == (pytest.approx(1.0), (3, 4))
    five = Timeline.steady(120.0, (5, 4))
    assert five.bar_position(7.0)[0] == pytest.approx(2.0)


def test_a_pickup_counts_its_bar_from_before_the_music_and_a_meter_change_opens_a_bar():
    # a one-beat pickup in 4/4: the first full bar starts at beat 1, so the music opens on beat 4 of a bar
    timeline = Timeline.of_lists([[0.0, 60.0]], [[-3.0, 4, 4], [5.0, 3, 4]])
    assert timeline.bar_position(0.0)[0] == pytest.approx(3.0)
    assert timeline.bar_position(1.0)[0] == pytest.approx(0.0)
    assert timeline.bar_position(5.0) == (pytest.approx(0.0), (3, 4))
    assert timeline.bar_position(9.0)[0] == pytest.approx(1.0)


def test_a_steady_timeline_puts_beat_zero_at_its_origin():
    timeline = Timeline.steady(100.0, origin=2.0)
    assert timeline.beats(2.0) == pytest.approx(0.0)
    assert timeline.seconds(1.0) == pytest.approx(2.6)


@pytest.mark.parametrize("bpm", [0.0, 19.9, 400.1, -5.0])
def test_a_tempo_out_of_range_is_refused_naming_it(bpm):
    with pytest.raises(ValueError, match="prompt.mid: a tempo of"):
        check_bpm(bpm, "prompt.mid")
    assert check_bpm(97.0, "x") == 97.0
