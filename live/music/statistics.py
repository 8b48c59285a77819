"""Statistics of a passage of music, as the quality tables compare a model's continuations with the real
ones (`duetto bench quality`): how its pitches spread and sit in a scale, how many notes sound at once,
and how its onsets are spaced.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from duetto.music.key import SCALES
from duetto.music.notes import Note

FRAME_SECONDS = 0.01  # how finely `polyphony` looks at what sounds
IOI_BINS = np.geomspace(0.01, 4.0, 25)  # inter-onset intervals from 10 ms to 4 s, log-spaced


def pitch_class_entropy(notes: Sequence[Note]) -> float:
    """Bits: 0 for one pitch class throughout, log2(12) = 3.58 for all twelve alike."""
    counts = np.bincount([note.pitch % 12 for note in notes], minlength=12).astype(float)
    if not counts.sum():
        return math.nan
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def scale_consistency(notes: Sequence[Note]) -> float:
    """The share of notes inside the best-fitting major or harmonic-minor scale."""
    if not notes:
        return math.nan
    counts = np.bincount([note.pitch % 12 for note in notes], minlength=12)
    best = max(sum(counts[(root + step) % 12] for step in scale)
               for root in range(12) for scale in (SCALES["major"], SCALES["harmonic-minor"]))
    return float(best / counts.sum())


def polyphony(notes: Sequence[Note]) -> float:
    """Mean number of notes sounding, over the moments when at least one does (FRAME_SECONDS apart)."""
    if not notes:
        return math.nan
    start = min(note.start for note in notes)
    frames = np.zeros(int((max(note.end for note in notes) - start) / FRAME_SECONDS) + 1)
    for note in notes:
        frames[int((note.start - start) / FRAME_SECONDS):int((note.end - start) / FRAME_SECONDS)] += 1
    sounding = frames[frames > 0]
    return float(sounding.mean()) if len(sounding) else math.nan


def inter_onset_intervals(notes: Sequence[Note]) -> np.ndarray:
    """Seconds between successive onsets, each rounded to 10 ms, so a chord counts as one onset."""
    onsets = np.unique(np.round([note.start for note in notes], 2))
    return np.diff(onsets)


def histogram_overlap(first: np.ndarray, second: np.ndarray) -> float:
    """1 when two interval distributions fall in the same bins in the same shares, 0 when disjoint."""
    if not len(first) or not len(second):
        return math.nan
    p = np.histogram(np.clip(first, IOI_BINS[0], IOI_BINS[-1]), IOI_BINS)[0].astype(float)
    q = np.histogram(np.clip(second, IOI_BINS[0], IOI_BINS[-1]), IOI_BINS)[0].astype(float)
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())
