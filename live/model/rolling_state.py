"""A model's outputs and state after everything heard so far, kept current one step at a time.

Every voice listens this way: each input is fed the moment it is known, so when a phrase ends the state is
already current and no window is recomputed on the critical path. The last `window` inputs are kept. Once
the state has run twice that long since its last fresh start, a fresh state is primed from the window, so
a recurrent state never drifts far beyond the spans it was trained on. A model whose state holds a bounded
number of steps (a transformer's key/value cache) keeps a window of WINDOW_SHARE of the cache and starts
a fresh one once REFRESH_SHARE is used, so an answer always finds room and priming has time to finish.

Priming a window costs a couple of hundred model steps: done in one go on the thread that hears, enough
to delay an answer by most of a second. So it runs on a thread of its own (`PRIMER`, on another core;
ONNX Runtime lets go of the GIL while it runs), while the current state goes on hearing. The primer owns
the fresh state while it works: it hears the window, then what is heard meanwhile, until a few inputs are
left; the hearing thread feeds it those (`prime_some`, when nothing else waits) and lets it take over.
Only a cache that fills first, when the music comes faster than the primer can catch up with, makes the
hearing thread wait for it.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from duetto.model.step_model import StepModel

Feeds = dict[str, np.ndarray]
Primed = tuple[list[np.ndarray], list[np.ndarray], int]  # outputs, state, steps in it

# one thread primes for every rolling state in the process, one state at a time (it is not given a lower
# priority: a thread the kernel puts off while it holds the GIL would hold up the engine thread with it)
PRIMER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duetto-primer")

HANDOVER_INPUTS = 4  # the primer leaves the hearing thread at most about this many inputs to catch up

WINDOW_TOKENS = 512  # the recent inputs kept to prime a fresh state from, when the state holds any number
# A state that holds a bounded number of steps (a transformer's key/value cache) is shared out so:
WINDOW_SHARE = 3 / 8  # the recent window kept to prime a fresh state from...
REFRESH_SHARE = 5 / 8  # ...primed once this much is used: the rest is room for an answer, and time to prime
RESTART_SHARE = 1 / 2  # a state that must start afresh at once (an answer out of room, scoring, a prompt
# heard offline) hears this much of the recent past, and has the rest to go on in


def share(capacity: int, fraction: float) -> int:
    """Whole steps of a bounded state: `fraction` of its `capacity`."""
    return int(capacity * fraction)


def prime(model: StepModel, start: Feeds, window: list[Feeds], heard_since: deque[Feeds],
          abandoned: threading.Event) -> Primed | None:
    """A fresh state that has heard `start`, then `window`, then what the hearing thread appends to
    `heard_since` meanwhile, until only a few are left (run on the primer thread: the arrays it makes are
    its own, and `heard_since` is only appended to there and taken from here, which a deque allows).
    None once the state it was for is closed: nobody will listen to it."""
    outputs, state = model.run(start, model.initial_state())
    for feeds in window:
        if abandoned.is_set():
            return None
        outputs, state = model.run(feeds, state)
    steps = 1 + len(window)
    while len(heard_since) > HANDOVER_INPUTS and not abandoned.is_set():
        outputs, state = model.run(heard_since.popleft(), state)
        steps += 1
    return outputs, state, steps


class RollingState:
    def __init__(self, model: StepModel, start: Feeds, window: int) -> None:
        self.model = model
        self.start = start
        self.capacity = model.info.max_steps
        if self.capacity is not None:
            window = min(window, share(self.capacity, WINDOW_SHARE))
        self.window: deque[Feeds] = deque(maxlen=max(1, window))
        self._refresh_at = 2 * self.window.maxlen if self.capacity is None else share(self.capacity, REFRESH_SHARE)
        self.outputs, self.state = model.run(start, model.initial_state())
        self.steps_in_state = 1
        self._primer: Future[Primed] | None = None  # the fresh state, while the primer works on it
        self._fresh: Primed | None = None  # the fresh state once primed, catching up here
        # what the fresh state has yet to hear: the primer takes from it while it works, this thread after
        self._fresh_pending: deque[Feeds] = deque()
        self._closed = threading.Event()  # set by `close`: the primer drops what it was doing for this state

    def close(self) -> None:
        """Stop any priming for this state (the primer thread is shared: it must not work for nobody)."""
        self._closed.set()
        self._primer = self._fresh = None

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
        self._fresh_pending = deque()
        self._primer = PRIMER.submit(prime, self.model, self.start, list(self.window), self._fresh_pending,
                                     self._closed)

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

    def close(self) -> None:
        self.rolling.close()

    @property
    def priming(self) -> bool:
        return self.rolling.priming

    def prime_some(self, budget: int) -> None:
        self.rolling.prime_some(budget)
