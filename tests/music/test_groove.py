"""The groove: where the bot's notes land on the grid (quantize, swing, humanize, offset) and how hard."""

from __future__ import annotations

import random

import pytest

from duetto.music.clock import SOURCE_BPM, Grid
from duetto.music.groove import Dynamics, Feel, Placement
from duetto.music.notes import KeyEvent


def test_placement_quantizes_onsets_and_releases():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0), random.Random(0))
    assert placement.place(KeyEvent(0.0, 60, 80)) == pytest.approx(10.0)
    assert placement.place(KeyEvent(0.14, 62, 80)) == pytest.approx(10.125)
    assert placement.place(KeyEvent(0.30, 60, 0)) == pytest.approx(10.25)
    assert placement.place(KeyEvent(0.16, 64, 80)) == pytest.approx(10.125)
    assert placement.place(KeyEvent(0.17, 64, 0)) == pytest.approx(10.125 + 0.02)  # never shorter than 20 ms


def test_a_restrike_squeezed_onto_one_grid_line_moves_to_the_next():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0), random.Random(0))
    times = [placement.place(event) for event in
             [KeyEvent(0.0, 60, 80), KeyEvent(0.03, 60, 0), KeyEvent(0.03, 60, 80), KeyEvent(0.2, 60, 0)]]
    assert times == pytest.approx([10.0, 10.02, 10.125, 10.25])


def test_without_a_grid_humanize_keeps_durations():
    placement = Placement(10.0, None, Feel(quantize=1.0, humanize_ms=10), random.Random(1))
    on = placement.place(KeyEvent(0.1, 60, 80))
    assert on != pytest.approx(10.1)
    assert placement.place(KeyEvent(0.4, 60, 0)) - on == pytest.approx(0.3)


def test_placement_never_restrikes_a_key_before_its_last_note_ended():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0, humanize_ms=5), random.Random(3))
    times = {}
    for event in [KeyEvent(0.0, 60, 80), KeyEvent(0.2, 60, 0), KeyEvent(0.2, 60, 70), KeyEvent(0.3, 60, 0)]:
        times.setdefault(event.velocity > 0, []).append(placement.place(event))
    (first_on, second_on), (first_off, second_off) = times[True], times[False]
    assert first_on < first_off <= second_on < second_off


def test_output_offset_and_partial_strength():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=0.5, output_offset=-0.02), random.Random(0))
    assert placement.place(KeyEvent(0.0, 60, 80)) == pytest.approx(9.98)
    assert placement.place(KeyEvent(0.1, 64, 80)) == pytest.approx(10.1125 - 0.02)
    assert placement.place(KeyEvent(0.2, 64, 0)) == pytest.approx(10.225 - 0.02)


def test_velocity_follow_moves_toward_the_players_dynamics():
    dynamics = Dynamics()
    for _ in range(20):
        dynamics.heard(40)
    assert dynamics.scale(100, follow=0.0) == 100
    assert dynamics.scale(100, follow=1.0) < 60
