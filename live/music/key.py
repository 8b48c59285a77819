"""Keys and scales: naming them, and hearing which key the player is in.

`KeyFinder` keeps a pitch-class histogram of the player's onsets that fades with time (so the key can
move when the music does) and correlates it with the Krumhansl-Kessler major and minor profiles rotated
to all 12 tonics, one matrix product for all 24, and only when the key is asked for: hearing a note
costs next to nothing, even in a flood. A new key must beat the current one clearly before it takes
over, so the answer's scale does not flicker between relative keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from duetto.music.notes import Note

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "major-pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
# Krumhansl & Kessler (1982): how well each pitch class fits a major / minor key on its tonic
PROFILES = {
    "major": np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    "minor": np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}
CANDIDATES = [(tonic, scale) for scale in PROFILES for tonic in range(12)]


def _standardized(rows: np.ndarray) -> np.ndarray:
    """Rows minus their mean, divided by their norm: the dot product of two such rows is their correlation."""
    centred = rows - rows.mean(axis=-1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=-1, keepdims=True)


PROFILE_MATRIX = _standardized(np.array([np.roll(PROFILES[scale], tonic) for tonic, scale in CANDIDATES]))
HALF_LIFE_SECONDS = 8.0
MIN_WEIGHT = 6.0  # about this many recent notes before a key is named
SWITCH_MARGIN = 0.05  # correlation a new key must gain over the current one to replace it


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    scale: str

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + step) % 12 for step in SCALES[self.scale])

    def __str__(self) -> str:
        return f"{NAMES[self.tonic]}:{self.scale}"


def parse_key(text: str) -> Key:
    """'C:major', 'f#:minor', 'Bb:dorian' -> Key; a ValueError naming the problem otherwise."""
    tonic_text, _, scale = text.strip().partition(":")
    scale = scale.strip().lower() or "major"
    tonic_text = tonic_text.strip()
    if not tonic_text or tonic_text[0].lower() not in LETTERS or len(tonic_text) > 2:
        raise ValueError(f"key {text!r}: the tonic must be a note name like C, F#, Bb")
    tonic = LETTERS[tonic_text[0].lower()]
    if len(tonic_text) == 2:
        if tonic_text[1] not in "#b":
            raise ValueError(f"key {text!r}: the tonic must be a note name like C, F#, Bb")
        tonic += 1 if tonic_text[1] == "#" else -1
    if scale not in SCALES:
        raise ValueError(f"key {text!r}: unknown scale {scale!r} (use one of {', '.join(SCALES)})")
    return Key(tonic % 12, scale)


class KeyFinder:
    """The player's key, heard live. Owned by the engine thread."""

    def __init__(self) -> None:
        self._histogram = np.zeros(12)
        self._stamp: float | None = None
        self._changed = False
        self._key: Key | None = None

    @classmethod
    def of(cls, notes: Sequence[Note]) -> Key | None:
        """The key of some notes, heard in order (None when they are too few to tell)."""
        finder = cls()
        for note in sorted(notes):
            finder.heard(note.start, note.pitch)
        return finder.key

    def heard(self, stamp: float, pitch: int) -> None:
        """A key-down of the player's at `stamp` seconds."""
        if self._stamp is not None and stamp > self._stamp:
            self._histogram *= 0.5 ** ((stamp - self._stamp) / HALF_LIFE_SECONDS)
        self._stamp = stamp if self._stamp is None else max(stamp, self._stamp)
        self._histogram[pitch % 12] += 1.0
        self._changed = True

    @property
    def key(self) -> Key | None:
        """The key heard so far (None until enough notes are heard)."""
        if self._changed:
            self._changed = False
            self._update()
        return self._key

    def _update(self) -> None:
        if self._histogram.sum() < MIN_WEIGHT or np.ptp(self._histogram) == 0:
            return
        scores = PROFILE_MATRIX @ _standardized(self._histogram)
        best = int(np.argmax(scores))
        current = CANDIDATES.index((self._key.tonic, self._key.scale)) if self._key is not None else None
        if current is None or scores[best] > scores[current] + SWITCH_MARGIN:
            self._key = Key(*CANDIDATES[best])
