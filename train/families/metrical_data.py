"""Training windows for the metrical family: runs of notes from one piece, each opened by START.

A window of `seq_len` notes reads START and the notes before each target, and predicts every note's five
fields. START stands on the bar line of the window's first note, so that note's onset is its distance
from the bar line: the model always knows where in the bar it is, wherever a window begins (as live,
where the voice opens its context the same way).
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from duetto.encodings import metrical as encoding
from duetto.train.data.dataset import STYLE_WITHHELD_SHARE, random_shifts
from duetto.train.data.shards import read_shard

TEXTURE_WITHHELD_SHARE = 0.25  # of training windows: their texture says nothing, as when none is asked for


def windows(data_dir: str | os.PathLike, split: str, seq_len: int, train: bool) -> MetricalWindows:
    return MetricalWindows(data_dir, split, seq_len, augment=train)


class MetricalWindows:
    """Windows of one split of a built dataset's metrical notes (see duetto.train.data.shards)."""

    def __init__(self, data_dir: str | os.PathLike, split: str, seq_len: int, augment: bool = False) -> None:
        """`augment`: transpose each sampled window by up to ±6 semitones and withhold its style and texture
        now and then (training only; eval_batches never does)."""
        if seq_len < 1:
            raise ValueError(f"seq_len must be at least 1, not {seq_len}")
        shard = read_shard(data_dir, split)
        shard.check_metrical()
        self.columns, self.offsets, self.styles = shard.metrical, shard.metrical_offsets, shard.metrical_styles
        self.seq_len = seq_len
        self.augment = augment

    @property
    def num_tokens(self) -> int:
        """Notes in the split (the loop sizes its epochs by these)."""
        return len(self.columns)

    def _windows(self, pieces: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
        """Windows of the given pieces from the given notes (absolute rows), cut at each piece's end."""
        ends = self.offsets[pieces + 1]
        rows = starts[:, None] + np.arange(self.seq_len)
        real = rows < ends[:, None]
        columns = self.columns[np.minimum(rows, len(self.columns) - 1)]
        fields = columns[..., :5].copy()
        fields[:, 0, encoding.ONSET] = columns[:, 0, 5]  # the first onset counts from its bar line
        target = np.where(real[..., None], fields, -1)
        start = np.array(encoding.FIELD_SIZES)
        previous = np.concatenate([np.broadcast_to(start, (len(pieces), 1, 5)), fields[:, :-1]], axis=1)
        previous_bar = np.concatenate([np.zeros((len(pieces), 1), dtype=np.int64), columns[:, :-1, 5]], axis=1)
        meter = np.concatenate([columns[:, :1, 6], columns[:, :-1, 6]], axis=1)
        bar_length = np.concatenate([columns[:, :1, 7], columns[:, :-1, 7]], axis=1)
        return {"previous": previous, "previous_bar": previous_bar, "meter": meter, "bar_length": bar_length,
                "style": self.styles[pieces] + 1, "texture": np.where(real, columns[..., 8], 0), "target": target}

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, np.ndarray]:
        """Random windows: a piece chosen with probability proportional to its notes, then a random start."""
        if self.num_tokens == 0:
            raise ValueError("cannot sample from an empty split")
        lengths = np.diff(self.offsets)
        pieces = rng.choice(len(lengths), size=batch_size, p=lengths / lengths.sum())
        room = np.maximum(lengths[pieces] - self.seq_len, 0)
        batch = self._windows(pieces, self.offsets[pieces] + rng.integers(0, room + 1))
        if self.augment:
            self._augment(batch, rng)
        return batch

    def _augment(self, batch: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        """Transpose, and withhold style and texture, in place."""
        target, previous = batch["target"], batch["previous"]
        is_note = target[..., encoding.PITCH] >= 0
        shifts = random_shifts(target[..., encoding.PITCH], is_note, encoding.PITCHES, rng)
        target[..., encoding.PITCH] += np.where(is_note, shifts[:, None], 0)
        was_note = previous[..., encoding.PITCH] < encoding.PITCHES
        previous[..., encoding.PITCH] += np.where(was_note, shifts[:, None], 0)
        batch["style"][rng.random(len(target)) < STYLE_WITHHELD_SHARE] = 0
        batch["texture"][rng.random(len(target)) < TEXTURE_WITHHELD_SHARE] = 0

    def eval_batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Deterministic batches in which every note of the split is a target exactly once."""
        pieces, starts = [], []
        for piece, (begin, end) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            for start in range(begin, end, self.seq_len):
                pieces.append(piece)
                starts.append(start)
        pieces, starts = np.array(pieces, dtype=np.int64), np.array(starts, dtype=np.int64)
        for first in range(0, len(pieces), batch_size):
            yield self._windows(pieces[first:first + batch_size], starts[first:first + batch_size])
