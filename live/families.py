"""A voice: how one kind of model listens to the duet and answers it.

The engine and `duetto generate` talk only to a voice: `hear` every key event as it happens, `prime_some`
when there is nothing else to do, and `answer` for the timed key events of a continuation. Which voice a
model gets follows from the encoding named in its metadata, so a new family with a new encoding brings
its own voice and nothing else in the runtime changes.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol

from duetto.encodings import events as encoding
from duetto.voices.event_context import Context
from duetto.encodings.events import KeyEvent
from duetto.voices.improviser import Improviser, Limits
from duetto.model.step_model import ModelError, StepModel
from duetto.voices.roll import RollVoice
from duetto.model.sampler import Sampler
from duetto.encodings import note_level as note_encodings
from duetto.voices.melody import MelodyVoice
from duetto.voices.notes import NotesVoice


class Voice(Protocol):
    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key went down (velocity > 0) or up (velocity 0) at `seconds` on the session clock."""

    @property
    def priming(self) -> bool:
        """Whether background work is waiting for `prime_some` calls."""

    def prime_some(self, budget: int) -> None:
        """Do up to `budget` model steps of background work."""

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True) -> Iterator[KeyEvent]:
        """Key events continuing what was heard, timed from the answer's start; every key-down gets its
        key-up unless `should_stop()` ends it early (the caller then releases what it scheduled)."""


class EventVoice:
    """For models over the event stream (the event LSTM, the transformer): a rolling context of tokens
    kept current note by note, and an improviser sampling from a copy of its state."""

    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int) -> None:
        self.context = Context(model, window_tokens)
        self.improviser = Improviser(model, sampler, limits)

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        self.context.hear(seconds, pitch, velocity)

    @property
    def priming(self) -> bool:
        return self.context.priming

    def prime_some(self, budget: int) -> None:
        self.context.prime_some(budget)

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True) -> Iterator[KeyEvent]:
        logits, state, room = self.context.snapshot()
        return self.improviser.continue_from(logits, state, seconds, trim_leading_silence=trim_leading_silence,
                                             should_stop=should_stop, room=room)


VOICES: dict[str, type] = {encoding.ENCODING_NAME: EventVoice, note_encodings.MELODY: MelodyVoice,
                           note_encodings.NOTES: NotesVoice, RollVoice.ENCODING: RollVoice}


def make_voice(model: StepModel, sampler: Sampler, limits: Limits | None = None,
               window_tokens: int = 512) -> Voice:
    """The voice for a model, chosen by the encoding its metadata names."""
    voice = VOICES.get(model.info.encoding)
    if voice is None:
        raise ModelError(f"{model.path}: no voice for encoding {model.info.encoding}")
    return voice(model, sampler, limits or Limits(), window_tokens)
