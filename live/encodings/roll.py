"""The piano roll on a beat grid: what the biaxial family hears and says ("duetto-roll" v1).

A roll is frames x keys x (play, articulate): frame t holds the keys sounding at grid point t (a time of
t x seconds-per-frame), and articulate marks the frame a key was struck in. The grid is in beats, not
seconds: a frame is 1/steps_per_beat of a beat, so the same music at another tempo gives the same roll.

Both training (from the dataset's notes) and the live voice (from key events as they arrive) snap a note's
start and end to the nearest grid point, with one rule, here, so the model hears live what it learnt from.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from duetto.music.notes import Note

ENCODING_NAME = "duetto-roll"
ENCODING_VERSION = 1
VOCAB_SIZE = 2  # what the model says per key and frame: logits of play and of articulate
PLAY, ARTICULATE = 0, 1
BEATS_PER_BAR = 4  # the grid assumes 4/4: the beat position a model hears counts within one bar


def grid_index(seconds: float, seconds_per_frame: float) -> int:
    """The nearest grid point to `seconds` (halves round up, the same for every caller)."""
    return math.floor(seconds / seconds_per_frame + 0.5)


def note_frames(start: float, end: float, seconds_per_frame: float, keep_short: bool) -> tuple[int, int]:
    """The frames [first, last + 1) a note sounds in: both ends snapped to the grid. A note too short to
    reach the next grid point covers no frame, unless `keep_short`, which gives it its onset frame (a
    live tap must be heard; the classic quarter-note benchmark rolls drop such passing notes)."""
    first = grid_index(start, seconds_per_frame)
    last = grid_index(end, seconds_per_frame)
    return first, max(last, first + 1) if keep_short else last


def piano_roll(notes: Iterable[Note], seconds_per_frame: float, lowest: int, num_keys: int,
               keep_short: bool = True) -> np.ndarray:
    """uint8 [frames, num_keys, 2]: play and articulate per frame and key, up to the last note's end.

    Keys outside lowest .. lowest + num_keys - 1 are left out. A key struck again while sounding is
    articulated again; overlapping notes of one key simply sound.
    """
    spans = []
    for note in notes:
        key = note.pitch - lowest
        if 0 <= key < num_keys:
            first, stop = note_frames(note.start, note.end, seconds_per_frame, keep_short)
            if stop > first:
                spans.append((key, first, stop))
    roll = np.zeros((max((stop for _, _, stop in spans), default=0), num_keys, 2), dtype=np.uint8)
    for key, first, stop in spans:
        roll[first:stop, key, PLAY] = 1
        roll[first, key, ARTICULATE] = 1
    return roll
