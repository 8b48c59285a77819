"""The rolling context: what has been played so far, as tokens, and the model state after hearing it.

Every note heard (the player's and the bot's own, as they actually sounded) is written as tokens and fed
to the model the moment it arrives, so when a phrase ends the state is already current: no window is
recomputed on the critical path. The last `window_tokens` tokens are kept; once the model has run much
longer than that since its last fresh start, a fresh state is primed from the window in small slices
while nobody is waiting, and takes over once it has caught up, so the recurrent state stays within the
span it was trained on. A model whose state holds a bounded number of steps (a transformer's key/value
cache) is re-primed the same way well before its cache fills, leaving room for an answer.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from live import encoding
from live.encoding import EventWriter
from live.model import StepModel

LONGEST_REST_SECONDS = 4.0  # longer silences are heard as this long (a few tokens, not one per second)


class Context:
    def __init__(self, model: StepModel, window_tokens: int = 512) -> None:
        self.model = model
        self.capacity = model.info.max_steps
        if self.capacity is not None:  # the window must fit in half the cache: the rest is for answers
            window_tokens = min(window_tokens, self.capacity // 2)
        self.window: deque[int] = deque(maxlen=window_tokens)
        # when a fresh state starts priming: for a bounded state, once three quarters of it are used
        self._refresh_at = 2 * window_tokens if self.capacity is None else self.capacity * 3 // 4
        self.writer = EventWriter()
        self.state = model.initial_state()
        self.logits, self.state = model.step(encoding.START, self.state)
        self.steps_in_state = 1
        # a fresh state being primed from the window, a slice at a time: (logits, state, steps taken), and
        # the tokens it has yet to hear
        self._fresh: tuple[np.ndarray | None, list[np.ndarray], int] | None = None
        self._fresh_pending: deque[int] = deque()

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key went down (velocity > 0) or up (velocity 0) at `seconds` on the session clock."""
        self.writer.shorten_rest(seconds, LONGEST_REST_SECONDS)
        if velocity > 0:
            tokens = self.writer.note_on(seconds, pitch, velocity)
        else:
            tokens = self.writer.note_off(seconds, pitch)
        if self.capacity is not None and self.steps_in_state + len(tokens) > self.capacity:
            self._start_fresh()  # the cache is full: no time left to prime in slices
            self.prime_some(len(self._fresh_pending))
        for token in tokens:
            self.logits, self.state = self.model.step(token, self.state)
        self.window.extend(tokens)
        self.steps_in_state += len(tokens)
        if self._fresh is not None:
            self._fresh_pending.extend(tokens)
        elif self.steps_in_state >= self._refresh_at:
            self._start_fresh()

    def _start_fresh(self) -> None:
        if self._fresh is None:
            self._fresh = (None, self.model.initial_state(), 0)
            self._fresh_pending = deque(self.window)

    def snapshot(self) -> tuple[np.ndarray, list[np.ndarray], int | None]:
        """The logits and state to continue from (copies, so generating never disturbs the context), and
        how many more steps the state can take (None: no bound)."""
        room = None if self.capacity is None else self.capacity - self.steps_in_state
        return self.logits.copy(), [part.copy() for part in self.state], room

    @property
    def priming(self) -> bool:
        """Whether a fresh state is being primed and wants `prime_some` calls when there is time."""
        return self._fresh is not None

    def prime_some(self, budget: int) -> None:
        """Feed the fresh state up to `budget` tokens; once it has heard everything, it takes over.

        Priming a whole window at once would cost a few hundred model steps in one go, enough to delay
        the next answer; in slices it fits in the moments when nothing else is waiting.
        """
        if self._fresh is None:
            return
        logits, state, steps = self._fresh
        for _ in range(min(budget, len(self._fresh_pending))):
            logits, state = self.model.step(self._fresh_pending.popleft(), state)
            steps += 1
        self._fresh = (logits, state, steps)
        if not self._fresh_pending:
            self.logits, self.state, self.steps_in_state = logits, state, steps
            self._fresh = None
