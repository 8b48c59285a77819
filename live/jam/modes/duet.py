"""`--mode duet`: the bot plays alongside the player, a beat at a time, composed a beat ahead.

While the player plays, each beat of the bot's part is composed one beat before it sounds, from a
context that has heard everything the player actually played until then (and the bot's own notes as
they sounded), and starts on the beat. The bot stops two bars after the player does: a beat is composed
only if it ends within PATIENCE_BEATS of the player's latest key event (composing runs a beat ahead, so
the check looks at the end of the beat being composed, not at now), and it comes in again a beat after
the player starts.
"""

from __future__ import annotations

import math

from duetto.jam.modes.base import Mode
from duetto.music.clock import Grid

CHUNK_BEATS = 1  # composed at a time
LEAD_BEATS = 1  # composed this far ahead of when it sounds
PATIENCE_BEATS = 8  # the bot's last note ends at most this long after the player's last key event
FALLBACK_BPM = 100.0  # the pulse until MIDI Clock, the player's pulse or --bpm gives one
SOURCE_FALLBACK = "duet default"


class DuetMode(Mode):
    name = "duet"

    def __init__(self) -> None:
        super().__init__()
        self._next_chunk: float | None = None  # when the next beat to compose starts; None: not playing
        self._player_active_at = -math.inf  # the player's latest key event
        self._keys_down = False
        self._fallback_origin = 0.0

    def _grid(self) -> Grid:
        grid = self.stage.grid()
        return grid if grid is not None else Grid(60.0 / FALLBACK_BPM, self._fallback_origin, SOURCE_FALLBACK)

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        self._player_active_at = stamp
        self._keys_down = keys_down
        if self._next_chunk is None and velocity > 0:
            self._fallback_origin = stamp
            grid = self._grid()
            self._next_chunk = grid.next_beat(stamp + grid.beat * LEAD_BEATS)
            self.wake_at = self._next_chunk - grid.beat * LEAD_BEATS

    def tick(self, now: float) -> None:
        grid = self._grid()
        start = grid.next_beat(now)
        if self._next_chunk is not None:  # the beat planned then, moved onto the grid as it is now
            planned = grid.next_beat(self._next_chunk - grid.beat / 2)
            start = planned if planned > now else start
        ends = start + CHUNK_BEATS * grid.beat  # the composed beat's notes are all released by then
        if not self._keys_down and ends > self._player_active_at + PATIENCE_BEATS * grid.beat:
            self._next_chunk, self.wake_at = None, math.inf
            return
        stage = self.stage
        stage.perform(lambda: stage.compose(CHUNK_BEATS * grid.beat, lambda: stage.stopping, start=start),
                      start, grid)
        self._next_chunk = grid.next_beat(start + grid.beat * (CHUNK_BEATS - 0.5))
        self.wake_at = self._next_chunk - grid.beat * LEAD_BEATS
