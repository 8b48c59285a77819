"""How a tune moves from one note to the next, and so which pitch classes its next note is likely on.

A band composing ahead strikes most of its notes with a melody note it has not heard yet (seven in ten on
held-out band pieces, docs/quality.md). What it does know is the tune's last note, and tunes mostly
repeat a note or move by step: its next note is most likely within a whole tone of the last, in the key.
"""

from __future__ import annotations

import numpy as np

from duetto.music.key import Key

# The chance (per cent) of each interval in semitones, an octave down to an octave up (wider leaps are
# taken as the octave), from one melody note to the next: the melodies of the band corpus's training
# split (12,637 pieces, 980,446 intervals; `data/band`, built by `duetto data`), measured 2026-12-05.
INTERVAL_PERCENT = np.array([0.4, 0.0, 0.2, 0.3, 0.4, 1.3, 0.1, 2.4, 4.0, 7.6, 20.0, 8.5,  # -12 .. -1
                             14.4,  # the same note again
                             7.7, 16.0, 5.6, 3.2, 4.2, 0.1, 1.3, 0.5, 0.6, 0.3, 0.0, 0.7])  # +1 .. +12
OUTSIDE_KEY_WEIGHT = 0.2  # a next note outside the key heard is taken as a fifth as likely as one in it


def next_pitch_classes(last: int, key: Key | None) -> np.ndarray:
    """The chance of each pitch class (0 = C) being the tune's next note, after `last` (a MIDI pitch),
    in `key` (None: no key heard, every pitch class alike)."""
    chances = np.zeros(12)
    for interval, percent in zip(range(-12, 13), INTERVAL_PERCENT):
        pitch_class = (last + interval) % 12
        in_key = key is None or pitch_class in key.pitch_classes
        chances[pitch_class] += percent * (1.0 if in_key else OUTSIDE_KEY_WEIGHT)
    return chances / chances.sum()
