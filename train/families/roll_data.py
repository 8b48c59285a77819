"""Piano rolls on a beat grid from a built dataset, cached, and cut into training windows.

The shards hold 10 ms event tokens; each sequence's beat (seconds per beat) is recorded beside them at
build time (`train.dataset`: the chorales are rendered at a known tempo, and each augmented copy's tempo
stretch is known), so every sequence can be put on its own beat grid. A sequence whose beat is unknown (a
MIDI file: its notes come without their tempo map) is gridded at MIDI's default of 120 BPM, the tempo of
a file that sets none. Decoding and gridding every sequence takes a while, so the rolls are cached in the
dataset folder under `rolls/`, keyed by the grid and checked against the shard they came from.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from duetto.atomic import write_atomically
from duetto.encodings.roll import PLAY, piano_roll
from duetto.train.data.dataset import TRANSPOSE_SEMITONES, random_shifts
from duetto.train.data.shards import Shard, read_shard

UNKNOWN_BEAT_SECONDS = 0.5  # MIDI's default tempo, 120 BPM
ROLL_CACHE_VERSION = 1  # bump when the gridding changes, so stale caches are rebuilt


@dataclass(frozen=True)
class Grid:
    """How sequences become rolls: frames per beat, the keys kept, and whether notes shorter than a
    frame keep their onset frame (see `duetto.encodings.roll.note_frames`)."""

    steps_per_beat: int
    lowest: int
    num_keys: int
    keep_short: bool

    def cache_name(self, split: str) -> str:
        return (f"{split}-spb{self.steps_per_beat}-keys{self.lowest}+{self.num_keys}"
                f"-short{int(self.keep_short)}-v{ROLL_CACHE_VERSION}.npz")


@dataclass
class Rolls:
    """One split as rolls: `frames` uint8 [total frames, keys, 2], sequence i is frames[offsets[i]:offsets[i+1]]."""

    frames: np.ndarray
    offsets: np.ndarray


def _shard_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_rolls(data_dir: str | os.PathLike, split: str, grid: Grid) -> Rolls:
    """The rolls of one split, from the cache when it was made from this very shard, else built and cached."""
    shard = read_shard(data_dir, split)
    digest = _shard_digest(shard.path)
    folder = Path(data_dir)
    cache = folder / "rolls" / grid.cache_name(split)
    try:
        with np.load(cache) as cached:
            if str(cached["shard_sha256"]) == digest:
                return Rolls(cached["frames"], cached["offsets"])
    except (OSError, KeyError, ValueError):
        pass  # absent or unreadable: rebuilt below
    rolls = build_rolls(shard, grid)
    cache.parent.mkdir(exist_ok=True)
    write_atomically(cache, lambda handle: np.savez_compressed(
        handle, frames=rolls.frames, offsets=rolls.offsets, shard_sha256=np.array(digest)))
    return rolls


def build_rolls(shard: Shard, grid: Grid) -> Rolls:
    """Decode every sequence of a shard to notes and grid it at its own beat."""
    rolls = []
    for notes, beat in zip(shard.notes(), shard.beats()):
        seconds_per_beat = UNKNOWN_BEAT_SECONDS if beat is None else beat
        rolls.append(piano_roll(notes, seconds_per_beat / grid.steps_per_beat, grid.lowest, grid.num_keys,
                                grid.keep_short))
    lengths = [len(roll) for roll in rolls]
    frames = np.concatenate(rolls) if rolls else np.zeros((0, grid.num_keys, 2), dtype=np.uint8)
    return Rolls(frames, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


@dataclass
class RollBatch:
    """Windows of frames: `frames` [batch, time + 1, keys, 2], where frames[:, 0] is the frame before
    the first target (silence at a sequence's start); `beats` [batch, time] the position of each target
    frame from its sequence's start; `mask` [batch, time] which targets are real (not past the end)."""

    frames: np.ndarray
    beats: np.ndarray
    mask: np.ndarray


class RollWindows:
    """Fixed-length windows of frames from one split, for the training loop (see train/families)."""

    def __init__(self, data_dir: str | os.PathLike, split: str, seq_len: int, grid: Grid,
                 transpose: bool = False) -> None:
        if seq_len < 1:
            raise ValueError(f"seq_len must be at least 1, not {seq_len}")
        rolls = load_rolls(data_dir, split, grid)
        # a silent frame in front of every sequence, so the frame before any target is one lookup
        self.offsets = rolls.offsets + np.arange(len(rolls.offsets))
        self.frames = np.insert(rolls.frames, rolls.offsets[:-1], 0, axis=0) if len(rolls.frames) else \
            np.zeros((len(rolls.offsets) - 1, grid.num_keys, 2), dtype=np.uint8)
        self.seq_len = seq_len
        self.transpose = transpose

    @property
    def num_tokens(self) -> int:
        """Target frames in the split (each sequence's leading silence is only context)."""
        return len(self.frames) - (len(self.offsets) - 1)

    def _batch(self, sequences: np.ndarray, firsts: np.ndarray) -> RollBatch:
        """Windows whose first target is frame `firsts` (from the sequence's start) of `sequences`."""
        starts = self.offsets[sequences] + firsts  # the leading silent frame shifts targets by one
        positions = starts[:, None] + np.arange(self.seq_len + 1)
        inside = positions < self.offsets[sequences + 1][:, None]
        frames = self.frames[np.minimum(positions, len(self.frames) - 1)] * inside[:, :, None, None]
        beats = firsts[:, None] + np.arange(self.seq_len)
        return RollBatch(frames.astype(np.uint8), beats.astype(np.int64), inside[:, 1:])

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> RollBatch:
        """Random windows: a sequence chosen in proportion to its length, a uniformly random start; when
        training, each window shifted by a random ±6 semitones if its notes stay on the keyboard."""
        lengths = np.diff(self.offsets) - 1
        if lengths.sum() == 0:
            raise ValueError("cannot sample from an empty split")
        sequences = rng.choice(len(lengths), size=batch_size, p=lengths / lengths.sum())
        firsts = rng.integers(0, np.maximum(lengths[sequences] - self.seq_len, 0) + 1)
        batch = self._batch(sequences, firsts)
        if self.transpose:
            transpose_frames(batch.frames, rng)
        return batch

    def eval_batches(self, batch_size: int) -> Iterator[RollBatch]:
        """Deterministic batches in which every frame of the split is a target exactly once. Each window
        starts the model afresh but sees the frame before its first target (the previous window's last)."""
        sequences, firsts = [], []
        for index, length in enumerate(np.diff(self.offsets) - 1):
            for first in range(0, length, self.seq_len):
                sequences.append(index)
                firsts.append(first)
        for at in range(0, len(sequences), batch_size):
            yield self._batch(np.array(sequences[at:at + batch_size], dtype=np.int64),
                              np.array(firsts[at:at + batch_size], dtype=np.int64))


def transpose_frames(frames: np.ndarray, rng: np.random.Generator,
                     semitones: int = TRANSPOSE_SEMITONES) -> None:
    """Shift each window [keys axis 2] in place, as `random_shifts` says (keys are the pitches here)."""
    keys = frames.shape[2]
    played = frames[..., PLAY].any(axis=1)  # [batch, keys]
    shifts = random_shifts(np.broadcast_to(np.arange(keys), played.shape), played, keys, rng, semitones)
    for index in np.flatnonzero(shifts):
        frames[index] = np.roll(frames[index], shifts[index], axis=1)

