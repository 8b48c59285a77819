"""Where a tune goes next (duetto.music.motion): near its last note, in its key."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.music.key import Key
from duetto.music.motion import INTERVAL_PERCENT, next_pitch_classes


def test_the_interval_table_covers_an_octave_each_way_and_sums_to_a_hundred():
    assert len(INTERVAL_PERCENT) == 25
    assert INTERVAL_PERCENT.sum() == pytest.approx(100.0, abs=0.5)


def test_after_e_in_c_major_the_next_note_is_most_likely_a_step_away_or_the_same():
    chances = next_pitch_classes(64, Key(0, "major"))  # E4
    assert chances.sum() == pytest.approx(1.0)
    likeliest = set(np.argsort(chances)[-3:])
    assert likeliest == {2, 4, 5}  # D, E, F
    assert chances[3] < chances[2] / 4 and chances[6] < chances[7]  # Eb and F# lie outside the key


def test_with_no_key_heard_only_the_distance_counts():
    chances = next_pitch_classes(60, None)
    assert chances[2] == pytest.approx(chances[10] * 16.0 / 20.0, rel=0.1)  # up a tone, down a tone
    assert chances[6] == chances.min()  # the tritone, either way
