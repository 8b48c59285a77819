"""What the note-level families (melody, notes) share: the dataset's sequences read back as notes,
fixed-length windows of one row per note, and drawing from logits for the export's parity check.

The shards hold event tokens; decoding a sequence gives its notes back exactly (the encoding round trip
is exact on canonical notes), so these families train on the very pieces, splits and augmented copies
the event families see. A row is a note's features, pitch first; every sequence opens with a START row.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np
import torch

from duetto.encodings.note_level import PITCHES, START
from duetto.music.notes import Note
from duetto.train.data.dataset import TRANSPOSE_SEMITONES, covering_windows, random_shifts
from duetto.train.data.shards import read_shard


def split_notes(data_dir: str | os.PathLike, split: str) -> list[list[Note]]:
    """Every sequence of one split as notes, in time order (the dataset's checks apply)."""
    return read_shard(data_dir, split).notes()


class NoteWindows:
    """Windows of seq_len + 1 rows over sequences of note rows: the model reads rows[:-1] and predicts
    rows[1:], where `valid` says a row is a real note (not padding past a sequence's end).

    Batches are dicts {"rows": float32 [batch, seq_len + 1, features], "valid": bool [batch, seq_len + 1]}.
    """

    def __init__(self, sequences: Sequence[np.ndarray], seq_len: int, start_row: Sequence[float],
                 transpose: bool = False) -> None:
        if seq_len < 1:
            raise ValueError(f"seq_len must be at least 1, not {seq_len}")
        start = np.asarray(start_row, dtype=np.float32)[None, :]
        rows = [np.concatenate([start, np.asarray(sequence, dtype=np.float32).reshape(-1, start.shape[1])])
                for sequence in sequences]
        self.rows = np.concatenate(rows) if rows else np.zeros((0, start.shape[1]), dtype=np.float32)
        self.offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        self.seq_len = seq_len
        self.transpose = transpose
        self.start_row = start[0]

    @property
    def num_tokens(self) -> int:
        """Prediction targets in the split: its notes."""
        return len(self.rows) - (len(self.offsets) - 1)

    def _windows(self, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
        positions = starts[:, None] + np.arange(self.seq_len + 1)
        valid = positions < ends[:, None]
        rows = self.rows[np.minimum(positions, len(self.rows) - 1)]
        return {"rows": np.where(valid[..., None], rows, self.start_row), "valid": valid}

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, np.ndarray]:
        """Random windows: a sequence chosen in proportion to its length, then a random start in it;
        in training, each window transposed by up to ±TRANSPOSE_SEMITONES where it fits."""
        if self.num_tokens == 0:
            raise ValueError("cannot sample from an empty split")
        lengths = np.diff(self.offsets)
        chosen = rng.choice(len(lengths), size=batch_size, p=lengths / lengths.sum())
        room = np.maximum(lengths[chosen] - (self.seq_len + 1), 0)
        batch = self._windows(self.offsets[chosen] + rng.integers(0, room + 1), self.offsets[chosen + 1])
        if self.transpose:
            transpose_pitches(batch, rng)
        return batch

    def eval_batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Deterministic batches in which every note of the split is a target exactly once."""
        starts, ends = covering_windows(self.offsets, self.seq_len)
        for first in range(0, len(starts), batch_size):
            yield self._windows(starts[first:first + batch_size], ends[first:first + batch_size])


def transpose_pitches(batch: dict[str, np.ndarray], rng: np.random.Generator,
                      semitones: int = TRANSPOSE_SEMITONES) -> None:
    """Shift the note pitches of each window (in place), as `random_shifts` says."""
    pitch = batch["rows"][..., 0]
    is_note = batch["valid"] & (pitch != START)
    shifts = random_shifts(pitch, is_note, PITCHES, rng, semitones)
    pitch += np.where(is_note, shifts[:, None], 0).astype(pitch.dtype)


def draw(logits: torch.Tensor, rng: np.random.Generator) -> int:
    """One index drawn from a row of logits (the closed-loop parity check's next input)."""
    probabilities = torch.softmax(logits.double(), dim=-1).numpy()
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))
