"""What the note-level voices share: a model state kept current note by note, the key events of an
answer in time order, and what the recent playing says about tempo and touch.
"""

from __future__ import annotations

import heapq
import statistics
from collections import deque

import numpy as np

from live.encoding import KeyEvent
from live.improviser import Limits
from live.model import StepModel

Feeds = dict[str, np.ndarray]


class RollingState:
    """A recurrent model's outputs and state after every input so far, one step per note.

    Notes are fed the moment they are complete, so an answer starts from a current state. The last
    `window` inputs are kept; once the state has run twice that long, a fresh one is primed from the
    window in slices (`prime_some`, when nothing else waits) and takes over once it has caught up, so the
    state never drifts far beyond the spans the model was trained on (as `live.context` does for tokens).
    The voices pass `make_voice`'s `window_tokens` as `window`: for them it counts notes.
    """

    def __init__(self, model: StepModel, start: Feeds, window: int) -> None:
        self.model = model
        self.start = start
        self.window: deque[Feeds] = deque(maxlen=max(1, window))
        self._refresh_at = 2 * self.window.maxlen
        self.outputs, self.state = model.run(start, model.initial_state())
        self.steps_in_state = 1
        self._fresh: tuple[list[np.ndarray], list[np.ndarray], int] | None = None  # outputs, state, steps
        self._fresh_pending: deque[Feeds] = deque()

    def step(self, feeds: Feeds) -> None:
        self.outputs, self.state = self.model.run(feeds, self.state)
        self.window.append(feeds)
        self.steps_in_state += 1
        if self._fresh is not None:
            self._fresh_pending.append(feeds)
        elif self.steps_in_state >= self._refresh_at:
            self._fresh = (*self.model.run(self.start, self.model.initial_state()), 1)
            self._fresh_pending = deque(self.window)

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of the outputs and state, to generate from without disturbing this one."""
        return [output.copy() for output in self.outputs], [part.copy() for part in self.state]

    @property
    def priming(self) -> bool:
        return self._fresh is not None

    def prime_some(self, budget: int) -> None:
        """Feed the fresh state up to `budget` inputs; once it has heard the whole window it takes over."""
        if self._fresh is None:
            return
        outputs, state, steps = self._fresh
        for _ in range(min(budget, len(self._fresh_pending))):
            outputs, state = self.model.run(self._fresh_pending.popleft(), state)
            steps += 1
        self._fresh = (outputs, state, steps)
        if not self._fresh_pending:
            self.outputs, self.state, self.steps_in_state = outputs, state, steps
            self._fresh = None


class RollingVoice:
    """What the note-level voices share: a `RollingState` (self.rolling) doing their background priming."""

    rolling: RollingState

    @property
    def priming(self) -> bool:
        return self.rolling.priming

    def prime_some(self, budget: int) -> None:
        self.rolling.prime_some(budget)


class Phrase:
    """An answer's key events in time order, within `seconds` and the limits: every key-down gets its
    key-up, and a key struck while it sounds is released first. A strike beyond `max_polyphony` releases
    the note that would have ended first; a strike that could only sound by cutting a note shorter than
    `min_note_seconds` is left out."""

    def __init__(self, limits: Limits, seconds: float) -> None:
        self.limits = limits
        self.seconds = seconds
        self.sounding: dict[int, tuple[float, float]] = {}  # pitch -> (onset, end)
        self._ends: list[tuple[float, int]] = []  # heap of (end, pitch); entries of re-struck keys go stale

    def fits(self, onset: float) -> bool:
        """Whether a note struck at `onset` still sounds its shortest length inside the answer."""
        return onset + self.limits.min_note_seconds <= self.seconds

    def strike(self, onset: float, pitch: int, velocity: int, duration: float) -> list[KeyEvent]:
        """The releases due by `onset`, then the key-down (if it may sound); its key-up comes later."""
        events = self._release_until(onset)
        cut = [pitch] if pitch in self.sounding else []
        crowd = len(self.sounding) - len(cut) - self.limits.max_polyphony + 1
        cut += sorted((p for p in self.sounding if p != pitch), key=lambda p: self.sounding[p][1])[:max(0, crowd)]
        if any(onset - self.sounding[p][0] < self.limits.min_note_seconds for p in cut):
            return events
        events += [self._release(p, onset) for p in cut]
        duration = min(max(duration, self.limits.min_note_seconds), self.limits.max_note_seconds)
        end = min(onset + duration, self.seconds)
        self.sounding[pitch] = (onset, end)
        heapq.heappush(self._ends, (end, pitch))
        events.append(KeyEvent(onset, pitch, velocity))
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
        del self.sounding[pitch]  # its heap entry, if any, is now stale and skipped
        return KeyEvent(seconds, pitch, 0)


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
