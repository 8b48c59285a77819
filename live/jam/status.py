"""What the engine is doing, for whoever watches (the terminal view): published by the engine thread
every STATUS_SECONDS as one immutable `Status`, so a reader on another thread never sees half an update.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from duetto.model.step_model import StepModel

STATUS_SECONDS = 0.1  # how often the engine thread publishes its status
MEASUREMENTS = 1_000  # recent step times and answer latencies kept for percentiles


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
