"""What the voices share: the key events of an answer in time order, what the recent playing says about
tempo and touch, which pitches may sound, and how an answer's kind (`AnswerKind`) narrows the limits and leans to a key.
"""

from __future__ import annotations

import dataclasses
import heapq
import statistics
from collections import deque

import numpy as np

from duetto.music.notes import KeyEvent
from duetto.music.texture import MOST_NOTES_AT_ONCE
from duetto.voices.base import AnswerKind
from duetto.voices.limits import Limits

KEY_PULL = 2.0  # nats taken from a strike outside the answer's key (a lean, not a lock)


class Phrase:
    """An answer's key events in time order, within `seconds` and the limits: every key-down gets its
    key-up, and a key struck while it sounds is released first. A strike beyond `max_polyphony` releases
    the note that would have ended first; a strike that could only sound by cutting a note shorter than
    `min_note_seconds` is left out."""

    def __init__(self, limits: Limits, seconds: float) -> None:
        self.limits = limits
        self.seconds = seconds
        self.sounding: dict[int, tuple[float, float, int | None]] = {}  # pitch -> (onset, end, part)
        self._ends: list[tuple[float, int]] = []  # heap of (end, pitch); entries of re-struck keys go stale

    def fits(self, onset: float) -> bool:
        """Whether a note struck at `onset` still sounds its shortest length inside the answer."""
        return onset + self.limits.min_note_seconds <= self.seconds

    def strike(self, onset: float, pitch: int, velocity: int, duration: float, part: int | None = None
               ) -> list[KeyEvent]:
        """The releases due by `onset`, then the key-down (if it may sound); its key-up comes later, for
        the same band `part`."""
        events = self._release_until(onset)
        cut = [pitch] if pitch in self.sounding else []
        crowd = len(self.sounding) - len(cut) - self.limits.max_polyphony + 1
        cut += sorted((p for p in self.sounding if p != pitch), key=lambda p: self.sounding[p][1])[:max(0, crowd)]
        if any(onset - self.sounding[p][0] < self.limits.min_note_seconds for p in cut):
            return events
        events += [self._release(p, onset) for p in cut]
        duration = min(max(duration, self.limits.min_note_seconds), self.limits.max_note_seconds)
        end = min(onset + duration, self.seconds)
        self.sounding[pitch] = (onset, end, part)
        heapq.heappush(self._ends, (end, pitch))
        events.append(KeyEvent(onset, pitch, velocity, part))
        return events

    def release_all(self) -> list[KeyEvent]:
        return self._release_until(float("inf"))

    def _release_until(self, seconds: float) -> list[KeyEvent]:
        events = []
        while self._ends and self._ends[0][0] <= seconds:
            end, pitch = heapq.heappop(self._ends)
            if pitch in self.sounding and self.sounding[pitch][1] == end:
                events.append(self._release(pitch, end))
        return events

    def _release(self, pitch: int, seconds: float) -> KeyEvent:
        part = self.sounding.pop(pitch)[2]  # its heap entry, if any, is now stale and skipped
        return KeyEvent(seconds, pitch, 0, part)


class Touch:
    """The recent key-downs heard: how hard (median velocity) and how often (median gap between onsets).

    Gaps longer than `longest_gap` are rests between phrases, not the tempo, and are left out.
    """

    def __init__(self, default_velocity: int = 80, default_interval: float = 0.5, longest_gap: float = 2.0,
                 remembered: int = 16) -> None:
        self.default_velocity = default_velocity
        self.default_interval = default_interval
        self.longest_gap = longest_gap
        self.velocities: deque[int] = deque(maxlen=remembered)
        self.intervals: deque[float] = deque(maxlen=remembered)
        self._last_onset: float | None = None

    def strike(self, velocity: int) -> None:
        self.velocities.append(velocity)

    def onset(self, seconds: float) -> None:
        """A new onset of the line whose tempo counts (chord tones struck together are one onset)."""
        if self._last_onset is not None and 0 < seconds - self._last_onset <= self.longest_gap:
            self.intervals.append(seconds - self._last_onset)
        self._last_onset = seconds

    @property
    def velocity(self) -> int:
        return int(statistics.median(self.velocities)) if self.velocities else self.default_velocity

    @property
    def interval(self) -> float:
        return statistics.median(self.intervals) if self.intervals else self.default_interval


def playable_pitches(limits: Limits, pitches: int) -> np.ndarray:
    """Pitches the voice may play now: inside the register and, under a scale lock, in the key. Read at
    every answer, since both may change while jamming."""
    mask = np.zeros(pitches, dtype=bool)
    mask[max(0, limits.lowest):min(pitches, limits.highest + 1)] = True
    if limits.pitch_classes is not None:
        mask &= np.isin(np.arange(pitches) % 12, sorted(limits.pitch_classes))
    return mask


def answer_limits(limits: Limits, kind: AnswerKind) -> Limits:
    """The limits one answer plays within: the player's, narrowed to the kind's register (where the two
    overlap: the player's limits come first) and to the polyphony its texture allows."""
    lowest, highest = limits.lowest, limits.highest
    if kind.register is not None and kind.register[0] <= highest and kind.register[1] >= lowest:
        lowest, highest = max(lowest, kind.register[0]), min(highest, kind.register[1])
    most = min(limits.max_polyphony, MOST_NOTES_AT_ONCE.get(kind.texture or "", limits.max_polyphony))
    return dataclasses.replace(limits, lowest=lowest, highest=highest, max_polyphony=most)


def key_lean(kind: AnswerKind, pitches: int) -> np.ndarray:
    """What to add to the logits of `pitches` pitches: KEY_PULL nats off every one outside the kind's key
    (nothing when it names none)."""
    lean = np.zeros(pitches, dtype=np.float32)
    if kind.key is not None:
        lean[~np.isin(np.arange(pitches) % 12, sorted(kind.key.pitch_classes))] = -KEY_PULL
    return lean
