"""Where the beats and bars of a piece fall: its tempo map and its time signatures, in seconds.

Every source of music reaches Duetto as notes in seconds (a score rendered through its tempo marks, a MIDI
file through its tempo map, a player through the clock). A `Timeline` carries what is needed to read those
seconds back as beats (quarter notes, as in MIDI files and music21) and to place a beat in its bar, so the
metrical encoding can count in beats whatever the source.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

DEFAULT_METER = (4, 4)
ON_GRID_SECONDS = 0.03  # an onset this close to a grid line is on it (the beat measure of docs/quality.md)
MIN_BPM, MAX_BPM = 20.0, 400.0  # tempos outside these are refused where they are given


def check_bpm(bpm: float, where: str) -> float:
    """A tempo in range, or a one-line ValueError naming where it came from."""
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise ValueError(f"{where}: a tempo of {bpm:g} BPM is outside {MIN_BPM:g}-{MAX_BPM:g} BPM")
    return bpm


def bar_beats(meter: tuple[int, int]) -> float:
    """A bar's length in quarter notes: 4/4 is 4, 6/8 is 3, 5/4 is 5."""
    numerator, denominator = meter
    return numerator * 4.0 / denominator


@dataclass(frozen=True)
class Timeline:
    """`tempos`: (seconds, BPM) from each change on, the first at 0; `meters`: (seconds, numerator,
    denominator) from each change on. A meter change opens a new bar; before the first change its meter
    holds, counted back from it (a pickup's first meter lies before 0, where its full bar would start)."""

    tempos: tuple[tuple[float, float], ...] = ((0.0, 120.0),)
    meters: tuple[tuple[float, int, int], ...] = ((0.0, *DEFAULT_METER),)

    @classmethod
    def of_lists(cls, tempos: Sequence[Sequence[float]], meters: Sequence[Sequence]) -> Timeline:
        """From lists as stored in JSON; missing or non-zero openings start at 0, tempos must be positive."""
        tempo_changes = [(float(at), float(bpm)) for at, bpm in tempos if bpm > 0] or [(0.0, 120.0)]
        meter_changes = [(float(at), int(num), int(den)) for at, num, den in meters if num > 0 and den > 0]
        meter_changes = meter_changes or [(0.0, *DEFAULT_METER)]
        tempo_changes[0] = (0.0, tempo_changes[0][1])
        return cls(tuple(tempo_changes), tuple(meter_changes))

    @classmethod
    def steady(cls, bpm: float, meter: tuple[int, int] = DEFAULT_METER, origin: float = 0.0) -> Timeline:
        """One tempo and one meter, beat 0 at `origin` seconds (which may be negative or positive: the
        timeline is extended backwards from its first change)."""
        timeline = cls(((0.0, bpm),), ((0.0, *meter),))
        return timeline.shifted(origin)

    def shifted(self, origin: float) -> Timeline:
        """The same timeline with its beat 0 at `origin` seconds."""
        return Timeline(tuple((at + origin, bpm) for at, bpm in self.tempos),
                        tuple((at + origin, num, den) for at, num, den in self.meters))

    # seconds <-> beats, piecewise linear through the tempo changes (before the first: its tempo)
    @cached_property
    def _tempo_starts(self) -> list[tuple[float, float, float]]:
        """(seconds, beats, seconds per beat) at each tempo change."""
        starts, beats = [], 0.0
        for index, (at, bpm) in enumerate(self.tempos):
            if index:
                previous_at, previous_beats, per_beat = starts[-1]
                beats = previous_beats + (at - previous_at) / per_beat
            starts.append((at, beats, 60.0 / bpm))
        return starts

    def beats(self, seconds: float) -> float:
        """The beat (quarter notes from beat 0) at a time in seconds."""
        starts = self._tempo_starts
        at, beats, per_beat = starts[max(0, bisect.bisect_right([s[0] for s in starts], seconds) - 1)]
        return beats + (seconds - at) / per_beat

    def seconds(self, beat: float) -> float:
        """The time in seconds of a beat."""
        starts = self._tempo_starts
        at, beats, per_beat = starts[max(0, bisect.bisect_right([s[1] for s in starts], beat) - 1)]
        return at + (beat - beats) * per_beat

    def bpm_at(self, seconds: float) -> float:
        return self.tempos[max(0, bisect.bisect_right([at for at, _ in self.tempos], seconds) - 1)][1]

    @cached_property
    def _meter_starts(self) -> list[tuple[float, tuple[int, int]]]:
        """(beat, meter) at each meter change."""
        return [(self.beats(at), (num, den)) for at, num, den in self.meters]

    def meter_at(self, beat: float) -> tuple[tuple[int, int], float]:
        """The meter in force at a beat and the beat its bars are counted from (its change)."""
        changes = self._meter_starts
        start, meter = changes[max(0, bisect.bisect_right([c[0] for c in changes], beat + 1e-9) - 1)]
        return meter, start

    def bar_position(self, beat: float) -> tuple[float, tuple[int, int]]:
        """How far into its bar a beat lies (in quarter notes) and the bar's meter."""
        meter, start = self.meter_at(beat)
        return (beat - start) % bar_beats(meter), meter


def on_grid_share(onsets: Sequence[float], timeline: Timeline, steps_per_beat: int = 4,
                  tolerance: float = ON_GRID_SECONDS) -> float | None:
    """The share of onsets (seconds) within `tolerance` of a grid line (`steps_per_beat` lines a beat:
    sixteenths by default) of a timeline; None for no onsets."""
    if not len(onsets):
        return None
    near = 0
    for onset in onsets:
        steps = timeline.beats(onset) * steps_per_beat
        nearest = timeline.seconds(round(steps) / steps_per_beat)
        near += abs(nearest - onset) <= tolerance
    return near / len(onsets)

