"""The statistics the quality tables compare, on music whose answers are known."""

from __future__ import annotations

import math

import numpy as np

from duetto.music.notes import Note
from duetto.music.statistics import (histogram_overlap, inter_onset_intervals, pitch_class_entropy, polyphony,
                                     scale_consistency)


def line(pitches, step=0.5, length=0.4, start=0.0):
    return [Note(start + i * step, start + i * step + length, p, 80) for i, p in enumerate(pitches)]


def test_pitch_class_entropy_spans_one_class_to_all_twelve():
    assert pitch_class_entropy(line([60, 72, 48])) == 0.0
    assert math.isclose(pitch_class_entropy(line(range(60, 72))), math.log2(12))


def test_scale_consistency_of_a_scale_and_of_a_chromatic_run():
    assert scale_consistency(line([62, 64, 66, 67, 69, 71, 73, 74])) == 1.0  # D major
    assert math.isclose(scale_consistency(line(range(60, 72))), 7 / 12)


def test_polyphony_counts_only_sounding_moments():
    chord = [Note(0.0, 1.0, p, 80) for p in (60, 64, 67)]
    assert math.isclose(polyphony(chord + [Note(5.0, 6.0, 72, 80)]), 2.0, rel_tol=0.02)  # 3 for 1 s, 1 for 1 s


def test_interval_histograms_overlap_fully_when_alike_and_not_at_all_when_apart():
    even, fast = inter_onset_intervals(line(range(60, 70))), inter_onset_intervals(line(range(60, 70), step=0.05))
    assert np.allclose(even, 0.5)
    assert histogram_overlap(even, even) == 1.0 and histogram_overlap(even, fast) == 0.0
