"""Chords: the chord a hand of held keys spells (any inversion is the same chord), and the chord of a key
that best fits a stretch of melody.

A band follows chords two ways: from the player's left hand below an arranger split, and, when data is
made, from a melody that carries no chord symbols. Both read the same chord shapes, named as lead sheets
and MMA name them ("C", "Am7", "F#m7b5").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from duetto.music.key import NAMES, SCALES, Key
from duetto.music.notes import Note

# chord shapes in semitones above the root, simplest first (a tie goes to the simpler shape)
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10), "maj7": (0, 4, 7, 11),
    "dim": (0, 3, 6), "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "aug": (0, 4, 8), "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9),
}
TRIADS = {(0, 4, 7): "", (0, 3, 7): "m", (0, 3, 6): "dim", (0, 4, 8): "aug"}
# how a chord's fit to a melody is weighed: notes outside it count against it, a strong beat more
OUTSIDE_PENALTY = 0.6
MELODY_MEMORY = 32  # notes of the player's the heard harmony is taken from
HARMONY_BEATS = 1.0  # with no chord held, a band follows the harmony of the melody's last beat
STAY_BONUS = 0.15  # of a span's weight: a harmony that changes on every close call is restless
FUNCTION_BONUS = {0: 0.2, 7: 0.12, 5: 0.08}  # tonic, dominant, subdominant roots: the common case
# intervals, in semitones within an octave, that sound at rest: unison, thirds, fourth, fifth, sixths (seconds,
# the tritone and sevenths rub)
CONSONANT_INTERVALS = frozenset({0, 3, 4, 5, 7, 8, 9})


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class, 0 = C
    quality: str  # a key of QUALITIES

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + step) % 12 for step in QUALITIES[self.quality])

    @property
    def fifth(self) -> int:
        """The pitch class a bass plays beside the root: the chord's own fifth (diminished, augmented too)."""
        return (self.root + QUALITIES[self.quality][2]) % 12

    def __str__(self) -> str:
        return NAMES[self.root].replace("C#", "Db").replace("F#", "Gb") + self.quality


def chord_of_keys(pitches: Iterable[int]) -> Chord | None:
    """The chord that held keys spell, or None for fewer than two pitch classes.

    Every inversion and voicing of a chord names the same chord. Where one set of notes spells two
    chords (C6 and Am7), the one rooted on the lowest key wins; a hand that spells no shape exactly gets
    the shape covering most of it (C-E alone is C).
    """
    held = sorted(pitches)
    classes = {pitch % 12 for pitch in held}
    if len(classes) < 2:
        return None
    lowest = held[0] % 12

    def fit(chord: Chord) -> tuple[float, ...]:
        shape = chord.pitch_classes
        exact = shape == classes
        return (exact, len(classes & shape) - 2 * len(classes - shape), chord.root == lowest,
                -len(shape - classes), -list(QUALITIES).index(chord.quality))

    return max((Chord(root, quality) for root in range(12) for quality in QUALITIES), key=fit)


def diatonic_chords(key: Key) -> list[Chord]:
    """The triads built on each degree of a major or minor key (in minor, V is also major: the leading
    tone of harmonic minor), tonic first."""
    scale = SCALES["minor" if key.scale in ("minor", "harmonic-minor", "dorian", "phrygian") else "major"]
    chords = []
    for degree in range(7):
        steps = tuple(sorted((scale[(degree + third) % 7] - scale[degree]) % 12 for third in (0, 2, 4)))
        if steps in TRIADS:
            chords.append(Chord((key.tonic + scale[degree]) % 12, TRIADS[steps]))
    dominant = Chord((key.tonic + 7) % 12, "")
    return chords if dominant in chords else [*chords, dominant]


def fitting_chords(spans: Sequence[np.ndarray], key: Key) -> list[Chord]:
    """The key's chord for each span of a melody, given each span's weight per pitch class (a note's
    length, more on a strong beat): the chord holding most of the span's weight, a little in favour of
    the tonic, dominant and subdominant and of staying on the chord before."""
    candidates = diatonic_chords(key)
    chosen: list[Chord] = []
    for weights in spans:
        total = float(weights.sum())

        def score(chord: Chord) -> float:
            inside = sum(weights[pc] for pc in chord.pitch_classes)
            value = inside - OUTSIDE_PENALTY * (total - inside)
            value += FUNCTION_BONUS.get((chord.root - key.tonic) % 12, 0.0) * total
            return value + (STAY_BONUS * total if chosen and chord == chosen[-1] else 0.0)

        chosen.append(max(candidates, key=score) if total > 0 else (chosen[-1] if chosen else candidates[0]))
    return chosen


def melody_chord(notes: Sequence[Note], key: Key | None, since: float, until: float) -> Chord | None:
    """The key's chord that best fits the melody sounding between `since` and `until` (seconds), each note
    weighed by how long it sounds there; None without a key or a note there. What a band follows when no
    chord is held: the harmony the melody implies."""
    weights = np.zeros(12)
    for note in notes:
        overlap = min(note.end, until) - max(note.start, since)
        if overlap > 0:
            weights[note.pitch % 12] += overlap
    if key is None or not weights.any():
        return None
    return fitting_chords([weights], key)[0]


class HeardMelody:
    """The player's latest notes, and the chord of the key they imply over the last few beats: the
    harmony a band follows when no chord is held. Engine thread only."""

    def __init__(self) -> None:
        self._notes: deque[list] = deque(maxlen=MELODY_MEMORY)  # [start, end or None while held, pitch]

    def key(self, stamp: float, pitch: int, velocity: int) -> None:
        if velocity > 0:
            self._notes.append([stamp, None, pitch])
            return
        for note in self._notes:
            if note[2] == pitch and note[1] is None:
                note[1] = stamp

    def chord(self, key: Key | None, since: float, until: float) -> Chord | None:
        notes = [Note(start, until if end is None else end, pitch, 0) for start, end, pitch in self._notes]
        return melody_chord(notes, key, since, until)
