"""The jam modes besides call and response (which the engine plays itself): `duet` and `practice`.

A mode is driven by the engine thread: it hears each of the player's key events (after the voice has),
and asks for a turn at `wake_at`, when `tick` is called. It plays through `Engine.perform`, so its notes
take the same path as an answer: sampling settings, key lock, grid placement, dynamics, scheduler.
"""

from __future__ import annotations

from typing import Protocol

from duetto.jam.modes.duet import DuetMode
from duetto.jam.modes.practice import PracticeMode


class Mode(Protocol):
    wake_at: float  # session-clock time of the next `tick` (math.inf: none wanted)

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        """One of the player's key events; `keys_down` says whether any key is still held after it."""

    def tick(self, now: float) -> None:
        """The time asked for has come."""

    def summary(self) -> str | None:
        """A closing report for the end of the session, if the mode has one."""


MODES: dict[str, type] = {"duet": DuetMode, "practice": PracticeMode}
