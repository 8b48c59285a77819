"""What the engine is doing, for whoever watches (the live view): published by the engine thread every
STATUS_SECONDS as one immutable `Status`, so a reader on another thread never sees half an update.

The roll's notes travel in it as tuples of frozen `RollNote`s: the duet as it sounded (kept by a
`NoteLog` the engine thread owns) and the bot's plan, what the scheduler holds queued but has not sent,
so the player sees an answer before it sounds. Times are on the engine's clock, like `Status.now`.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from duetto.model.sampler import DEFAULT_TOP_P
from duetto.model.step_model import StepModel
from duetto.music.clock import Grid

STATUS_SECONDS = 0.1  # how often the engine thread publishes its status
MEASUREMENTS = 1_000  # recent step times and answer latencies kept for percentiles
KEPT_SECONDS = 30.0  # how far back the roll's notes are kept (the view shows a few bars of it)
KEPT_NOTES = 2_000  # and at most this many, whatever floods in


@dataclass(frozen=True)
class RollNote:
    start: float
    end: float | None  # None: still sounding
    pitch: int
    part: str  # its lane: duetto.jam.intake's PLAYER or BOT, or a band part's name (duetto.jam.band)


class NoteLog:
    """The duet's recent notes, for the roll; one thread (the engine's) writes and snapshots it."""

    def __init__(self) -> None:
        self._ended: deque[RollNote] = deque(maxlen=KEPT_NOTES)
        self._sounding: dict[tuple[str, int, int], float] = {}  # (part, channel, pitch) -> start

    def heard(self, part: str, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        key = (part, channel, pitch)
        start = self._sounding.pop(key, None)
        if start is not None:  # a release, or a key struck again while it sounded
            self._ended.append(RollNote(start, stamp, pitch, part))
        if velocity > 0:
            self._sounding[key] = stamp
        while self._ended and self._ended[0].end < stamp - KEPT_SECONDS:
            self._ended.popleft()

    def snapshot(self) -> tuple[RollNote, ...]:
        sounding = (RollNote(start, None, pitch, part) for (part, _, pitch), start in self._sounding.items())
        return (*self._ended, *sounding)


@dataclass(frozen=True)
class Status:
    mode: str
    tempo_source: str
    bpm: float | None
    transport_running: bool
    key: str | None
    key_locked: bool
    notes_in: int
    notes_out: int
    answers: int
    barge_ins: int
    step_ms: tuple[float, float] | None  # p50, p99
    answer_late_ms: tuple[float, float] | None  # first note of each answer: sent minus due, p50, p99
    provider: str
    temperature: float
    quantize: float
    dropped: int
    errors: int
    now: float = 0.0  # the engine's clock when published: the roll's "now"
    grid: Grid | None = None
    notes: tuple[RollNote, ...] = ()  # as they sounded
    plan: tuple[RollNote, ...] = ()  # the bot's, queued and not yet sent
    style: str = "auto"
    texture: str = "auto"
    top_p: float = DEFAULT_TOP_P
    density: float = 1.0
    swing: float = 0.5
    velocity_follow: float = 0.0
    response_seconds: float = 4.0
    passthrough: bool = False
    panics: int = 0
    undos: int = 0
    rerolls: int = 0
    answering: bool = False  # an answer is being composed or played
    output_trouble: str | None = None  # why the bot's notes are not getting out (duetto.jam.output_watch)
    overruns: int = 0  # answers with notes left out because composing fell behind (duetto.jam.overrun)


def percentiles(values: list[float]) -> tuple[float, float] | None:
    """(p50, p99) in milliseconds, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


class TimedModel:
    """The model, with the time of each step kept (for the view); everything else passes through."""

    def __init__(self, model: StepModel) -> None:
        self._model = model
        self.step_seconds: deque[float] = deque(maxlen=MEASUREMENTS)

    def step(self, token: int, state: list) -> tuple:
        return self._timed(self._model.step, token, state)

    def run(self, feeds: dict, state: list) -> tuple:
        return self._timed(self._model.run, feeds, state)

    def _timed(self, method: Callable, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.step_seconds.append(time.perf_counter() - began)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
