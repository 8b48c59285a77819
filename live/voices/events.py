"""The voice of the models over the event stream (the event LSTM, the transformer)."""

from __future__ import annotations

from typing import Callable, Iterator

from duetto.model.rolling_state import RollingState
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent
from duetto.voices.base import InSeconds, AnswerKind
from duetto.voices.event_context import Context
from duetto.voices.improviser import Improviser
from duetto.voices.limits import Limits


class EventVoice(InSeconds):
    """For models over the event stream (the event LSTM, the transformer): a rolling context of tokens
    kept current note by note, and an improviser sampling from a copy of its state."""

    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int) -> None:
        self.context = Context(model, window_tokens)
        self.improviser = Improviser(model, sampler, limits)

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        self.context.hear(seconds, pitch, velocity)

    @property
    def rolling(self) -> RollingState:
        """The model state kept current as notes are heard (the context's)."""
        return self.context.rolling

    @property
    def priming(self) -> bool:
        return self.context.priming

    def prime_some(self, budget: int) -> None:
        self.context.prime_some(budget)

    def close(self) -> None:
        self.context.close()

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        return self.improviser.continue_from(self.context.snapshot(), seconds, should_stop=should_stop, kind=kind,
                                             trim_leading_silence=trim_leading_silence)
