"""How an answer is played: where its notes land on the beat grid, and how hard they are struck.

The model speaks in 10 ms steps with no notion of a bar. `Placement` moves each key event of one answer
toward the grid (quantize strength, swing) the same way, so the order of events never changes and a
quantized re-strike cannot cut itself short; humanize then nudges note-ons only. Without a grid a
note-off moves with its note-on, so durations stay as the model meant them. A note never starts before
the previous note of its pitch has ended. `Dynamics` scales the model's velocities toward how hard the
player has been playing lately.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from duetto.music.clock import Grid
from duetto.music.notes import KeyEvent

SHORTEST_SECONDS = 0.02  # a placed note keeps at least this length
HUMANIZE_CLIP = 2.0  # humanize offsets beyond this many standard deviations are clipped
DYNAMICS_SMOOTHING = 0.2  # weight of each new velocity in the running averages


@dataclass
class Feel:
    """The grid-related controls; all may change between answers."""

    quantize: float = 0.0  # 0: as the model played it, 1: exactly on the grid
    swing: float = 0.5  # position of every second grid line within its pair: 0.5 straight, 0.67 triplet
    steps_per_beat: int = 4  # grid lines per beat (4: sixteenths)
    humanize_ms: float = 0.0  # standard deviation of a random offset added to each note-on
    output_offset: float = 0.0  # seconds added to every output time (negative: earlier, for a slow synth)


class Placement:
    """Output times for the key events of one answer that starts at `start` (session-clock seconds)."""

    def __init__(self, start: float, grid: Grid | None, feel: Feel, rng: random.Random) -> None:
        self._start = start
        self._grid = grid
        self._feel = feel
        self._rng = rng
        self._shift: dict[int, float] = {}  # sounding pitch -> how far its note-on moved
        self._free_at: dict[int, float] = {}  # pitch -> when its last placed note ended

    def place(self, event: KeyEvent) -> float:
        """The time to send `event` (timed from the answer's start), output offset included."""
        written = self._start + event.seconds
        feel = self._feel
        quantizing = self._grid is not None and feel.quantize > 0
        at = written
        if quantizing:
            at += feel.quantize * (self._grid.snap(written, feel.steps_per_beat, feel.swing) - written)
        if event.velocity == 0:
            shift = self._shift.pop(event.pitch, 0.0)
            at = max(at if quantizing else written + shift, self._free_at.get(event.pitch, -1e9) + SHORTEST_SECONDS)
            self._free_at[event.pitch] = at
            return at + feel.output_offset
        if feel.humanize_ms > 0:
            offset = max(-HUMANIZE_CLIP, min(HUMANIZE_CLIP, self._rng.gauss(0.0, 1.0)))
            at += offset * feel.humanize_ms / 1000.0
        free = self._free_at.get(event.pitch, -1e9)
        if quantizing and at < free:  # a re-strike squeezed onto its previous note's grid line: the next line
            at = self._line_at_or_after(free)
        at = max(at, self._start, free)
        self._shift[event.pitch] = at - written
        self._free_at[event.pitch] = at  # until its note-off is placed, it is at least sounding here
        return at + feel.output_offset


    def _line_at_or_after(self, at: float) -> float:
        feel, half_step = self._feel, self._grid.beat / self._feel.steps_per_beat / 2
        line = self._grid.snap(at, feel.steps_per_beat, feel.swing)
        while line < at:
            at += half_step
            line = self._grid.snap(at, feel.steps_per_beat, feel.swing)
        return line


class Dynamics:
    """Velocity following: the bot's velocities scaled by (player's average / model's average) ** follow."""

    def __init__(self) -> None:
        self.player: float | None = None
        self.model: float | None = None

    @staticmethod
    def _blend(average: float | None, velocity: int) -> float:
        return velocity if average is None else average + DYNAMICS_SMOOTHING * (velocity - average)

    def heard(self, velocity: int) -> None:
        self.player = self._blend(self.player, velocity)

    def scale(self, velocity: int, follow: float) -> int:
        """The velocity to play for one the model chose; `follow` 0 leaves it, 1 matches the player."""
        self.model = self._blend(self.model, velocity)
        if follow <= 0 or self.player is None:
            return velocity
        return max(1, min(127, round(velocity * (self.player / self.model) ** follow)))
