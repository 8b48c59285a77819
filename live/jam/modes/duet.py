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
from typing import Iterator

from duetto.jam.modes.base import Mode
from duetto.music.clock import Grid
from duetto.music.notes import KeyEvent

CHUNK_BEATS = 1  # composed at a time
LEAD_BEATS = 1  # chunks composed ahead of when they sound
PATIENCE_BEATS = 8  # the bot's last note ends at most this long after the player's last key event
FALLBACK_BPM = 100.0  # the pulse until MIDI Clock, the player's pulse or --bpm gives one
SOURCE_FALLBACK = "duet default"


class DuetMode(Mode):
    name = "duet"
    chunk_beats = CHUNK_BEATS  # composed at a time, and that far ahead of when it sounds
    vamps = False  # plays on after the player stops, until a phrase trigger or a panic

    def __init__(self) -> None:
        super().__init__()
        self._next_chunk: float | None = None  # when the next chunk to compose starts; None: not playing
        self._player_active_at = -math.inf  # the player's latest key event
        self._keys_down = False
        self._fallback_origin = 0.0

    def _grid(self) -> Grid:
        grid = self.stage.grid()
        return grid if grid is not None else Grid(60.0 / FALLBACK_BPM, self._fallback_origin, SOURCE_FALLBACK)

    def _chunks(self, grid: Grid) -> Grid:
        """The grid of chunk starts: the beats, or their halves for half-beat chunks."""
        return Grid(grid.beat * self.chunk_beats, grid.origin, grid.source)

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        self._player_active_at = stamp
        self._keys_down = keys_down
        if velocity > 0:
            self._come_in(stamp)

    def _come_in(self, stamp: float) -> None:
        """Start playing (if not playing yet): the first chunk a chunk after `stamp`, composed a chunk ahead."""
        if self._next_chunk is None:
            self._fallback_origin = stamp
            chunks = self._chunks(self._grid())
            self._next_chunk = chunks.next_beat(stamp + chunks.beat * LEAD_BEATS)
            self.wake_at = self._next_chunk - chunks.beat * LEAD_BEATS

    def panicked(self) -> None:
        self._next_chunk, self.wake_at = None, math.inf  # until the player plays again

    def tick(self, now: float) -> None:
        grid = self._grid()
        chunks = self._chunks(grid)
        start = chunks.next_beat(now)
        if self._next_chunk is not None:  # the chunk planned then, moved onto the grid as it is now
            planned = chunks.next_beat(self._next_chunk - chunks.beat / 2)
            start = planned if planned > now else start
        ends = start + chunks.beat  # the composed chunk's notes are all released by then
        if not self._keys_down and not self.vamps and ends > self._player_active_at + PATIENCE_BEATS * grid.beat:
            self._next_chunk, self.wake_at = None, math.inf
            return
        self.stage.perform(lambda: self.compose_chunk(chunks.beat, start), start, grid)
        self._next_chunk = chunks.next_beat(start + chunks.beat / 2)
        self.wake_at = self._next_chunk - chunks.beat * LEAD_BEATS

    def compose_chunk(self, seconds: float, start: float) -> Iterator[KeyEvent]:
        """The notes of the chunk of `seconds` from `start` (what the bot plays along with)."""
        stage = self.stage
        return stage.compose(seconds, lambda: stage.stopping, start=start)
