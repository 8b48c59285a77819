"""A voice: how one kind of model listens to the duet and answers it.

The engine and `duetto generate` talk only to a voice: `hear` every key event as it happens, `prime_some`
when there is nothing else to do, and `answer` for the timed key events of a continuation. Which voice a
model gets is the family registry's word (duetto.families), so a new family brings its own voice and
nothing else in the runtime changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from duetto.music.chords import Chord
from duetto.music.key import Key
from duetto.music.notes import KeyEvent
from duetto.music.timeline import Timeline


@dataclass(frozen=True)
class BandRequest:
    """The parts a band answer plays (duetto.music.parts: bass, inner for chords, other for a second
    line), each in its own register, and the chord the player holds (an arranger's left hand), if any.
    Every note of such an answer names its part; the player is heard as the melody."""

    parts: tuple[int, ...]
    registers: tuple[tuple[int, int], ...]  # lowest and highest pitch of each part, in `parts` order
    chord: Chord | None = None

    def register(self, part: int) -> tuple[int, int]:
        return self.registers[self.parts.index(part)]


@dataclass(frozen=True)
class AnswerKind:
    """What an answer should be like: "in kind" with the call, or as the player set it. Every voice keeps
    to its register and its texture's polyphony and leans to its key (duetto.voices.common). The
    event-stream voice also says style and texture as tokens its model reads (version 2 of the encoding)
    and pulls towards the pace; the note-level and roll models hear neither, and play at the pace of
    what they heard or at their own. None everywhere: the model's free choice."""

    style: int | None = None  # the style's index in the model's list of styles; None: withheld
    texture: str | None = None  # line, voices or chords (duetto.music.texture)
    key: Key | None = None  # notes of this key are favoured (the scale lock, a hard limit, is in Limits)
    pace: float | None = None  # notes per second to aim for
    register: tuple[int, int] | None = None  # lowest and highest pitch, within the Limits' own
    band: BandRequest | None = None  # a band's parts instead of the bot's one (the metrical voice only)


class InSeconds:
    """For a voice that plays in seconds, by its own timing: the grid it is told of is no concern of it
    (the engine still places its answers on the grid when asked to quantize)."""

    def keep_time(self, timeline: Timeline | None) -> None:
        pass


class Voice(Protocol):
    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key went down (velocity > 0) or up (velocity 0) at `seconds` on the session clock."""

    @property
    def priming(self) -> bool:
        """Whether background work is waiting for `prime_some` calls."""

    def prime_some(self, budget: int) -> None:
        """Do up to `budget` model steps of background work."""

    def close(self) -> None:
        """Stop background work for good (priming on the primer thread): the voice will not be heard again."""

    def keep_time(self, timeline: Timeline | None) -> None:
        """Where the beats and bars fall, in the voice's seconds (None: nobody knows yet). Only a voice
        that counts in beats listens; the others play in seconds."""

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        """Key events continuing what was heard, timed from the answer's start (`start` in the voice's
        seconds, when the caller knows it; a voice that counts in beats places its notes by it); every
        key-down gets its key-up unless `should_stop()` ends it early (the caller then releases what it
        scheduled)."""
