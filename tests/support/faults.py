"""Faults made to order: a real model that fails in the middle of an answer, or that is slow."""

from __future__ import annotations

import time


class FailingModel:
    """A real model, made to raise after a number of steps: a model failing in the middle of an answer."""

    def __init__(self, model, fail_after: int) -> None:
        self._model = model
        self.remaining = fail_after
        self.info = model.info

    def initial_state(self):
        return self._model.initial_state()

    def step(self, token, state):
        self._count_down()
        return self._model.step(token, state)

    def run(self, feeds, state):
        self._count_down()
        return self._model.run(feeds, state)

    def _count_down(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise RuntimeError("injected failure")


class SlowModel:
    """A real model whose every step takes `seconds` longer while `slow` is set: a machine too busy for it
    (a DAW and synths on the same cores)."""

    def __init__(self, model, seconds: float) -> None:
        self._model = model
        self.seconds = seconds
        self.slow = False

    def step(self, token, state):
        self._wait()
        return self._model.step(token, state)

    def run(self, feeds, state):
        self._wait()
        return self._model.run(feeds, state)

    def _wait(self) -> None:
        if self.slow:
            time.sleep(self.seconds)

    def __getattr__(self, name: str):
        return getattr(self._model, name)
