"""A model's outputs and state after everything heard so far, kept current one step at a time.

Every voice listens this way: each input is fed the moment it is known, so when a phrase ends the state is
already current and no window is recomputed on the critical path. The last `window` inputs are kept. Once
the state has run twice that long since its last fresh start, a fresh state is primed from the window in
small slices (`prime_some`, called when nothing else waits) and takes over once it has caught up, so a
recurrent state never drifts far beyond the spans it was trained on. A model whose state holds a bounded
number of steps (a transformer's key/value cache) keeps its window within half the cache and is re-primed
the same way once three quarters are used, leaving room for an answer; should the cache fill before
priming is done, priming finishes at once.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from duetto.model.step_model import StepModel

Feeds = dict[str, np.ndarray]


class RollingState:
    def __init__(self, model: StepModel, start: Feeds, window: int) -> None:
        self.model = model
        self.start = start
        self.capacity = model.info.max_steps
        if self.capacity is not None:  # the window must fit in half the cache: the rest is for answers
            window = min(window, self.capacity // 2)
        self.window: deque[Feeds] = deque(maxlen=max(1, window))
        self._refresh_at = 2 * self.window.maxlen if self.capacity is None else self.capacity * 3 // 4
        self.outputs, self.state = model.run(start, model.initial_state())
        self.steps_in_state = 1
        self._fresh: tuple[list[np.ndarray], list[np.ndarray], int] | None = None  # outputs, state, steps
        self._fresh_pending: deque[Feeds] = deque()  # what the fresh state has yet to hear

    def step(self, feeds: Feeds) -> None:
        if self.capacity is not None and self.steps_in_state >= self.capacity:
            self._start_fresh()  # the cache is full: no time left to prime in slices
            self.prime_some(len(self._fresh_pending))
        self.outputs, self.state = self.model.run(feeds, self.state)
        self.window.append(feeds)
        self.steps_in_state += 1
        if self._fresh is not None:
            self._fresh_pending.append(feeds)
        elif self.steps_in_state >= self._refresh_at:
            self._start_fresh()

    def _start_fresh(self) -> None:
        if self._fresh is None:
            self._fresh = (*self.model.run(self.start, self.model.initial_state()), 1)
            self._fresh_pending = deque(self.window)

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of the outputs and state, to generate from without disturbing this one."""
        return [output.copy() for output in self.outputs], [part.copy() for part in self.state]

    @property
    def room(self) -> int | None:
        """How many more steps the state can take (None: no bound)."""
        return None if self.capacity is None else self.capacity - self.steps_in_state

    @property
    def priming(self) -> bool:
        """Whether a fresh state is being primed and wants `prime_some` calls when there is time."""
        return self._fresh is not None

    def prime_some(self, budget: int) -> None:
        """Feed the fresh state up to `budget` inputs; once it has heard everything, it takes over.

        Priming a whole window at once would cost a few hundred model steps in one go, enough to delay
        the next answer; in slices it fits in the moments when nothing else is waiting.
        """
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
    """For voices built on a `RollingState` (self.rolling): it does their background priming."""

    rolling: RollingState

    @property
    def priming(self) -> bool:
        return self.rolling.priming

    def prime_some(self, budget: int) -> None:
        self.rolling.prime_some(budget)
