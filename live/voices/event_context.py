"""The rolling context of the event-stream models: what has been played so far, as tokens, and the model
state after hearing it.

Every note heard (the player's and the bot's own, as they actually sounded) is written as tokens, and
each token is fed to the model the moment it is written; keeping the state current, re-priming it from
the recent window and respecting a transformer's cache are `RollingState`'s job (duetto.model.rolling_state).
"""

from __future__ import annotations

import numpy as np

from duetto.encodings import events as encoding
from duetto.encodings.events import EventWriter
from duetto.model.rolling_state import WINDOW_TOKENS, RollingState, RollingVoice
from duetto.model.step_model import StepModel
from duetto.voices.improviser import Start

LONGEST_REST_SECONDS = 4.0  # longer silences are heard as this long (a few tokens, not one per second)


class Context(RollingVoice):
    def __init__(self, model: StepModel, window_tokens: int = WINDOW_TOKENS) -> None:
        self._input = model.info.inputs[0]
        self.rolling = RollingState(model, self._feeds(encoding.START), window_tokens)
        self.writer = EventWriter()

    def _feeds(self, token: int) -> dict[str, np.ndarray]:
        return {self._input: np.array([token], dtype=np.int64)}

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key went down (velocity > 0) or up (velocity 0) at `seconds` on the session clock."""
        self.writer.shorten_rest(seconds, LONGEST_REST_SECONDS)
        if velocity > 0:
            tokens = self.writer.note_on(seconds, pitch, velocity)
        else:
            tokens = self.writer.note_off(seconds, pitch)
        for token in tokens:
            self.rolling.step(self._feeds(token))

    @property
    def window(self) -> list[int]:
        """The recent tokens a fresh state is primed from."""
        return [int(feeds[self._input][0]) for feeds in self.rolling.window]

    @property
    def logits(self) -> np.ndarray:
        """The next-token logits after everything heard."""
        return self.rolling.outputs[0][0]

    @property
    def steps_in_state(self) -> int:
        return self.rolling.steps_in_state

    def snapshot(self) -> Start:
        """Where to continue from: copies of the logits and state (so generating never disturbs the
        context), the room left in the state, and the recent window for priming a fresh one."""
        outputs, state = self.rolling.snapshot()
        return Start(outputs[0][0], state, self.rolling.room, self.window)
