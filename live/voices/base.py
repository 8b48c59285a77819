"""A voice: how one kind of model listens to the duet and answers it.

The engine and `duetto generate` talk only to a voice: `hear` every key event as it happens, `prime_some`
when there is nothing else to do, and `answer` for the timed key events of a continuation. Which voice a
model gets is the family registry's word (duetto.families), so a new family brings its own voice and
nothing else in the runtime changes.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol

from duetto.music.notes import KeyEvent


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
