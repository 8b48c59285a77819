"""A model's outputs and state after everything heard so far, kept current one step at a time.

Every voice listens this way: each input is fed the moment it is known, so when a phrase ends the state is
already current and no window is recomputed on the critical path. The last `window` inputs are kept. Once
the state has run twice that long since its last fresh start, a fresh state is primed from the window, so
a recurrent state never drifts far beyond the spans it was trained on. A model whose state holds a bounded
number of steps (a transformer's key/value cache) keeps its window within half the cache and starts a
fresh one once five eighths are used, leaving room for an answer.

Priming a window costs a few hundred model steps: enough, done in one go on the thread that hears, to
delay an answer by most of a second. So the window is primed on a thread of its own (`PRIMER`, on
another core; ONNX Runtime lets go of the GIL while it runs), while the current state goes on hearing.
The primer owns the fresh state until it is done; the hearing thread then feeds it what was heard
meanwhile (a few inputs, in slices when nothing else waits: `prime_some`) and lets it take over. Only a
cache that fills before then makes the hearing thread wait, and only for what the primer has left.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from duetto.model.step_model import StepModel

Feeds = dict[str, np.ndarray]
Primed = tuple[list[np.ndarray], list[np.ndarray], int]  # outputs, state, steps in it

# one thread primes for every rolling state in the process: priming is rare, and one at a time leaves
# the other cores to hearing and answering
PRIMER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duetto-primer")


def prime(model: StepModel, start: Feeds, window: list[Feeds]) -> Primed:
    """A fresh state that has heard `start`, then `window` (run on the primer thread: it touches only
    the arrays it makes)."""
    outputs, state = model.run(start, model.initial_state())
    for feeds in window:
        outputs, state = model.run(feeds, state)
    return outputs, state, 1 + len(window)


class RollingState:
    def __init__(self, model: StepModel, start: Feeds, window: int) -> None:
        self.model = model
        self.start = start
        self.capacity = model.info.max_steps
        if self.capacity is not None:  # the window must fit in half the cache: the rest is for answers
            window = min(window, self.capacity // 2)
        self.window: deque[Feeds] = deque(maxlen=max(1, window))
        self._refresh_at = 2 * self.window.maxlen if self.capacity is None else self.capacity * 5 // 8
        self.outputs, self.state = model.run(start, model.initial_state())
        self.steps_in_state = 1
        self._primer: Future[Primed] | None = None  # the fresh state, while the primer works on it
        self._fresh: Primed | None = None  # the fresh state once primed, catching up here
        self._fresh_pending: deque[Feeds] = deque()  # what the fresh state has yet to hear

    def step(self, feeds: Feeds) -> None:
        if self.capacity is not None and self.steps_in_state >= self.capacity:
            if not self.refreshing:
                self._start_fresh()
            self.wait_for_primer()  # the cache is full: wait for what the primer has left, then catch up
            self.prime_some(len(self._fresh_pending))
        self.outputs, self.state = self.model.run(feeds, self.state)
        self.window.append(feeds)
        self.steps_in_state += 1
        if self.refreshing:
            self._fresh_pending.append(feeds)
        elif self.steps_in_state >= self._refresh_at:
            self._start_fresh()

    def _start_fresh(self) -> None:
        self._primer = PRIMER.submit(prime, self.model, self.start, list(self.window))
        self._fresh_pending = deque()

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of the outputs and state, to generate from without disturbing this one."""
        return [output.copy() for output in self.outputs], [part.copy() for part in self.state]

    @property
    def room(self) -> int | None:
        """How many more steps the state can take (None: no bound)."""
        return None if self.capacity is None else self.capacity - self.steps_in_state

    @property
    def refreshing(self) -> bool:
        """Whether a fresh state is on its way (on the primer, or catching up here)."""
        return self._primer is not None or self._fresh is not None

    @property
    def priming(self) -> bool:
        """Whether a fresh state is primed and wants `prime_some` calls to catch up."""
        return self._fresh is not None or (self._primer is not None and self._primer.done())

    def wait_for_primer(self) -> None:
        """Block until the primer is done with the fresh state (for callers with nothing else to do). A
        priming that failed is dropped (the next refresh point tries again) and its error raised here."""
        if self._primer is None:
            return
        primer, self._primer = self._primer, None
        self._fresh = primer.result()

    def prime_some(self, budget: int) -> None:
        """Feed the primed state up to `budget` of the inputs heard while it was primed; once it has
        heard everything, it takes over. Does nothing while the primer is still at work."""
        if not self.priming:
            return
        self.wait_for_primer()
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
