"""The note-level families' own parts: the melody reduction, the notes family's features, timing bins and
likelihoods, and the windows both read from a real (tiny) dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from duetto.encodings.note_level import START
from duetto.music.notes import Note
from duetto.train.families import melody, notes
from duetto.train.families.note_level import NoteWindows, split_notes
from duetto.voices.melody import MelodyLine


def chorale_bar() -> list[Note]:
    """Four voices; the soprano holds a half note while the alto moves under it; chord tones are spread
    by a few milliseconds and the soprano's first note is released just after the next chord begins."""
    return [
        Note(0.00, 0.52, 72, 80), Note(0.01, 0.5, 67, 80), Note(0.02, 0.5, 64, 80), Note(0.0, 0.5, 48, 80),
        Note(0.51, 1.5, 74, 80), Note(0.5, 1.0, 65, 80), Note(0.5, 1.5, 59, 80), Note(0.5, 1.5, 43, 80),
        Note(1.0, 1.5, 67, 80),  # the alto moves while the soprano still sounds above it: not melody
        Note(1.5, 2.0, 72, 80), Note(1.5, 2.0, 64, 80), Note(1.52, 2.0, 48, 80),
    ]


def test_melody_is_the_top_line_of_chords_spread_in_time():
    assert melody.melody_of(chorale_bar()) == [72, 74, 72]


def test_a_melody_note_is_settled_once_its_chord_window_has_passed():
    line = MelodyLine(chord_seconds=0.05)
    assert line.hear(0.0, 60, 80) == []
    assert line.hear(0.03, 67, 80) == []  # a higher chord tone arrives late: it takes over the group
    assert line.hear(0.2, 60, 0) == [(0.0, 67)]
    assert line.hear(0.3, 64, 80) == []  # 67 still sounds above it: not melody
    assert line.hear(0.5, 67, 0) == []
    assert line.hear(0.6, 62, 80) == []  # 64 still sounds above it
    assert line.hear(0.7, 64, 0) == []
    assert line.hear(0.8, 62, 0) == []
    assert line.hear(0.9, 62, 80) == []
    assert line.flush() == [(0.9, 62)]
    assert line.flush() == []


def test_a_higher_key_let_go_within_the_chord_window_does_not_hide_the_next_note():
    line = MelodyLine(chord_seconds=0.05)
    line.hear(0.0, 72, 80)
    line.hear(0.5, 71, 80)  # legato: 72 is released 30 ms after 71 begins
    line.hear(0.53, 72, 0)
    assert line.flush() == [(0.5, 71)]


def test_note_rows_hold_pitch_step_since_previous_onset_and_duration():
    rows = notes.note_rows([Note(1.0, 1.5, 64, 80), Note(0.5, 1.0, 60, 80), Note(1.0, 2.0, 55, 80)])
    np.testing.assert_allclose(rows, [[60, 0.0, 0.5], [55, 0.5, 1.0], [64, 0.0, 0.5]])


def test_every_grid_value_round_trips_through_its_bin_within_half_the_bin():
    edges = notes.bin_edges(64)
    values = notes.bin_seconds(edges)
    steps = torch.arange(notes.LONGEST_STEPS + 1, dtype=torch.float32)
    chosen = notes.bin_of(steps, torch.from_numpy(edges).float()).numpy()
    widths = np.diff(edges)[chosen]
    error = np.abs(values[chosen] - steps.numpy() * notes.GRID_SECONDS)
    assert np.all(error <= (widths - 1) / 2 * notes.GRID_SECONDS + 1e-6)
    assert chosen[0] == 0 and values[0] == 0.0  # a step of zero (a chord tone) is its own bin
    assert np.all(error[:10] < 1e-6)  # the shortest values each have a bin of their own
    assert np.all(np.diff(edges) > 0) and 40 < len(values) <= 65
    longer = notes.bin_of(notes.grid_steps(torch.tensor([9.0])), torch.from_numpy(edges).float())
    assert int(longer) == len(values) - 1  # anything longer than 4 s is the last bin


@pytest.mark.parametrize("timing", ["bins", "mse"])
def test_timing_terms_are_a_distribution_over_the_grid(timing):
    """exp(-nats) summed over every grid value a step can take is one (bins) or the Gaussian's mass
    inside 0..4 s (mse): both variants report the log-probability of the same discrete value."""
    model = notes.build({"timing": timing, "timing_bins": 32})
    steps = torch.arange(notes.LONGEST_STEPS + 1, dtype=torch.float32) * notes.GRID_SECONDS
    targets = torch.stack([torch.full_like(steps, 60), steps, steps], dim=1)
    torch.manual_seed(0)
    width = model.step_head.out_features
    step_output = torch.randn(1, width).expand(len(steps), width) if timing == "bins" else \
        torch.full((len(steps), 1), 1.2)
    outputs = (torch.zeros(len(steps), 128), step_output, step_output)
    mass = torch.exp(-model.terms(outputs, targets)[1].double()).sum().item()
    if timing == "bins":
        assert mass == pytest.approx(1.0, abs=1e-6)
    else:
        assert mass == pytest.approx(0.9999, abs=2e-3)  # N(1.2 s, 0.158 s) lies inside 0..4 s


def test_the_mse_variant_minimises_the_classic_weighted_loss():
    """NLL = (0.05 x cross-entropy + squared error in seconds) / 0.05 + a constant: same gradients up to
    a factor of 20, so training it is training the classic recipe."""
    model = notes.build({"timing": "mse"})
    torch.manual_seed(1)
    targets = torch.tensor([[60.0, 0.25, 0.5], [62.0, 0.0, 1.0], [67.0, 0.5, 0.24]])
    outputs = (torch.randn(3, 128), torch.rand(3, 1), torch.rand(3, 1))
    ours = model.terms(outputs, targets).sum(0)
    classic = (0.05 * F.cross_entropy(outputs[0], targets[:, 0].long(), reduction="none")
               + (outputs[1][:, 0] - targets[:, 1]) ** 2 + (outputs[2][:, 0] - targets[:, 2]) ** 2)
    constant = 2 * math.log(model.sigma * math.sqrt(2 * math.pi) / notes.GRID_SECONDS)
    torch.testing.assert_close(ours, classic / 0.05 + constant)


def test_windows_read_every_note_of_a_split_once(tiny_dataset):
    data, _ = tiny_dataset
    pieces = split_notes(data, "test")
    windows = notes.windows(data, "test", seq_len=8, train=False)
    assert windows.num_tokens == sum(len(piece) for piece in pieces)
    targets = sum(int(batch["valid"][:, 1:].sum()) for batch in windows.eval_batches(3))
    assert targets == windows.num_tokens
    melodies = melody.windows(data, "test", seq_len=8, train=False)
    assert 0 < melodies.num_tokens < windows.num_tokens  # the held bass is not melody


def test_training_windows_transpose_notes_but_never_start_or_padding():
    sequence = np.array([[60, 0.0, 0.5], [64, 0.5, 0.5]], dtype=np.float32)
    windows = NoteWindows([sequence], seq_len=5, start_row=[START, 0.0, 0.0], transpose=True)
    rng = np.random.default_rng(0)
    shifts = set()
    for _ in range(20):
        batch = windows.sample_batch(rng, 1)
        rows, valid = batch["rows"][0], batch["valid"][0]
        assert rows[0, 0] == START and not valid[3:].any() and np.all(rows[3:, 0] == START)
        assert rows[2, 0] - rows[1, 0] == 4  # intervals survive
        np.testing.assert_array_equal(rows[1:3, 1:], sequence[:, 1:])  # timing untouched
        shifts.add(int(rows[1, 0]) - 60)
    assert len(shifts) > 3
