"""Where the beat is: MIDI Clock when a DAW sends it, else an Ableton Link session (`--link`, see
duetto.music.link), else the player's own pulse, else `--bpm`.

`TempoTracker` is fed on the engine thread with the timing messages (0xF8 Clock at 24 per beat, 0xFA
Start, 0xFB Continue, 0xFC Stop, 0xF2 Song Position Pointer) and the player's onsets, all stamped on
arrival. `grid()` answers with a `Grid`: a beat length and the time of one beat, from the best source
there is now. Clock ticks arrive with transport jitter (up to a JACK period), so tempo and phase are a
least-squares line through the last bar of ticks rather than the latest interval, fitted again without
the ticks that were held up on the way; ticks let through in a burst after a stall are left out of it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol, Sequence

from duetto.midi.messages import CLOCK, CONTINUE, SONG_POSITION, START, STOP
from duetto.music.notes import CHORD_SECONDS
from duetto.music.timeline import Timeline, check_bpm, on_grid_share

TICKS_PER_BEAT = 24
TICKS_PER_SIXTEENTH = 6  # Song Position Pointer counts sixteenths
CLOCK_WINDOW_TICKS = 4 * TICKS_PER_BEAT  # a line through a bar of ticks: jitter averages out, tempo changes follow within a bar
OUTLIER_SPREADS = 4  # a tick further from the line than this many median deviations was held up on the way
JITTER_FLOOR_SECONDS = 0.0005  # the least spread assumed: exact ticks must not make every tick an outlier
CLOCK_SILENCE_SECONDS = 0.5  # ticks further apart than this (below 5 BPM) mean the clock stopped
FASTEST_CLOCK_BPM = 400.0  # a line through the ticks faster than this is not a tempo but a burst of late ticks
# ticks this close together (half a tick at FASTEST_CLOCK_BPM) were delivered in a burst, the ticks a stalled
# sender or machine held back let through at once: they tell the time they were let through, not their own
BURST_SECONDS = 0.5 * 60.0 / FASTEST_CLOCK_BPM / TICKS_PER_BEAT
SOURCE_CLOCK, SOURCE_PLAYER, SOURCE_BPM, SOURCE_NONE = "midi clock", "player", "--bpm", "none"

# tempo from the player's onsets
ONSET_MEMORY = 24
SHORTEST_UNIT, LONGEST_INTERVAL = 0.1, 2.0  # inter-onset intervals outside this are not pulse
MIN_INTERVALS = 6
FIT_TOLERANCE = 0.15  # of a unit: an interval this close to a whole number of units fits the pulse
MIN_FIT_SHARE = 0.8
SLOWEST_BPM, FASTEST_BPM = 70.0, 140.0  # a found pulse is doubled or halved into this range
# a tempo map under which fewer onsets than this lie on a sixteenth or triplet grid is not the one the music
# was played to (a recording made without a click): its beat is estimated from the onsets instead
USABLE_TEMPO_MAP_SHARE = 0.6
UNKNOWN_PULSE_BPM = 100.0  # onsets with no pulse to find (too few, or no steady one): the corpus's tempo


@dataclass(frozen=True)
class Grid:
    """A beat grid: `beat` seconds per beat, with a beat at `origin` (any one of them)."""

    beat: float
    origin: float
    source: str

    @property
    def bpm(self) -> float:
        return 60.0 / self.beat

    def next_beat(self, at: float) -> float:
        """The first beat at or after `at`."""
        return self.origin + math.ceil((at - self.origin) / self.beat - 1e-9) * self.beat

    def snap(self, at: float, steps_per_beat: int, swing: float = 0.5) -> float:
        """The grid line nearest `at`, with `steps_per_beat` lines per beat. With swing above 0.5 every
        second line moves later: at `swing` of the way through its pair (0.5 straight, 2/3 a triplet feel)."""
        step = self.beat / steps_per_beat
        index = round((at - self.origin) / step)
        line = self.origin + index * step
        if index % 2:
            line += (2 * swing - 1) * step
        return line


class _ClockFollower:
    """MIDI Clock: tempo from the tick stream, beats where the song position is a whole beat."""

    def __init__(self) -> None:
        self.ticks: deque[tuple[int, float]] = deque(maxlen=CLOCK_WINDOW_TICKS)  # (serial, stamp)
        self.serial = 0  # ticks counted since the stream (re)started
        self.running = False
        self.position: int | None = None  # ticks since the song's start, as of the next tick
        self.beat_serial = 0  # the serial of a tick on a beat
        self.started_at: float | None = None  # the downbeat after Start: the first tick's stamp

    def message(self, status: int, data: list[int], stamp: float) -> None:
        if status == START:
            self.running, self.position, self.started_at = True, 0, None
        elif status == CONTINUE:
            self.running = True
            if self.position is None:
                self.position = 0
        elif status == STOP:
            self.running = False
        elif status == SONG_POSITION and len(data) == 2 and max(data) < 128:
            self.position = (data[0] | data[1] << 7) * TICKS_PER_SIXTEENTH
        elif status == CLOCK:
            self._tick(stamp)

    def _tick(self, stamp: float) -> None:
        if self.ticks and stamp - self.ticks[-1][1] > CLOCK_SILENCE_SECONDS:
            self.ticks.clear()
        if not self.ticks:
            self.serial, self.beat_serial = 0, 0
        if self.running and self.position == 0 and self.started_at is None:
            self.started_at = stamp  # after Start the next tick is the downbeat (not the Start byte)
        if self.running and self.position is not None:
            # this tick is at `position`: the last beat at or before it fixes the phase
            self.beat_serial = self.serial - self.position % TICKS_PER_BEAT
            self.position += 1
        self.ticks.append((self.serial, stamp))
        self.serial += 1

    def grid(self, now: float) -> Grid | None:
        if not self.ticks or now - self.ticks[-1][1] > CLOCK_SILENCE_SECONDS:
            return None
        stamps = [stamp for _, stamp in self.ticks]
        gaps = [math.inf, *(later - earlier for earlier, later in zip(stamps, stamps[1:])), math.inf]
        ticks = [tick for index, tick in enumerate(self.ticks) if min(gaps[index], gaps[index + 1]) >= BURST_SECONDS]
        line = _fit_line(ticks) if len(ticks) >= TICKS_PER_BEAT // 2 else None
        if line is None:
            return None
        # ticks held up on the way (a busy sender, a busy machine) lie above the line and pull it late:
        # fit again without those further from it than the ticks' own spread allows
        tick_seconds, at_zero = line
        residuals = [stamp - (at_zero + serial * tick_seconds) for serial, stamp in ticks]
        middle = sorted(residuals)[len(residuals) // 2]
        spread = max(JITTER_FLOOR_SECONDS, sorted(abs(r - middle) for r in residuals)[len(residuals) // 2])
        kept = [tick for tick, r in zip(ticks, residuals) if abs(r - middle) <= OUTLIER_SPREADS * spread]
        tick_seconds, at_zero = _fit_line(kept) or line
        if tick_seconds * TICKS_PER_BEAT < 60.0 / FASTEST_CLOCK_BPM:
            return None
        return Grid(tick_seconds * TICKS_PER_BEAT, at_zero + self.beat_serial * tick_seconds, SOURCE_CLOCK)


def _fit_line(ticks: list[tuple[int, float]]) -> tuple[float, float] | None:
    """(seconds per tick, stamp at serial 0): the least-squares line through (serial, stamp) pairs;
    None unless it rises."""
    if len(ticks) < 2:
        return None
    mean_serial = sum(serial for serial, _ in ticks) / len(ticks)
    mean_stamp = sum(stamp for _, stamp in ticks) / len(ticks)
    spread = sum((serial - mean_serial) ** 2 for serial, _ in ticks)
    if spread == 0:
        return None
    slope = sum((serial - mean_serial) * (stamp - mean_stamp) for serial, stamp in ticks) / spread
    if slope <= 0:
        return None
    return slope, mean_stamp - mean_serial * slope


class PulseFinder:
    """The player's pulse: the unit most inter-onset intervals are whole multiples of, brought into a
    common tempo range; the beat falls on the first onset of the player's latest phrase."""

    def __init__(self) -> None:
        self.onsets: deque[float] = deque(maxlen=ONSET_MEMORY)
        self.phrase_start: float | None = None

    def onset(self, stamp: float, starts_phrase: bool) -> None:
        if starts_phrase or self.phrase_start is None:
            self.phrase_start = stamp
        if not self.onsets or stamp - self.onsets[-1] >= CHORD_SECONDS:
            self.onsets.append(stamp)

    def beat(self) -> float | None:
        onsets = list(self.onsets)
        intervals = [later - earlier for earlier, later in zip(onsets, onsets[1:])
                     if SHORTEST_UNIT <= later - earlier <= LONGEST_INTERVAL]
        if len(intervals) < MIN_INTERVALS:
            return None
        unit = min(intervals)
        for _ in range(3):  # refine: the least-squares unit over the intervals that fit it
            fitting = [(interval, round(interval / unit)) for interval in intervals
                       if abs(interval / unit - round(interval / unit)) < FIT_TOLERANCE]
            if not fitting:
                return None
            unit = sum(interval * count for interval, count in fitting) / sum(count ** 2 for _, count in fitting)
        if len(fitting) < MIN_FIT_SHARE * len(intervals):
            return None
        bpm = 60.0 / unit
        while bpm > FASTEST_BPM:
            bpm /= 2
        while bpm < SLOWEST_BPM:
            bpm *= 2
        return 60.0 / bpm


class BeatSource(Protocol):
    """A grid kept by someone else (an Ableton Link session), asked for whenever one is needed."""

    def grid(self, now: float) -> Grid | None: ...


class TempoTracker:
    """The best beat grid available now. Owned by the engine thread."""

    def __init__(self, bpm: float | None = None, follow_player: bool = True, shared: BeatSource | None = None) -> None:
        if bpm is not None:
            check_bpm(bpm, "--bpm")
        self.bpm = bpm
        self.follow_player = follow_player
        self.shared = shared  # a session's grid (Link), second only to MIDI Clock coming in on the port
        self._clock = _ClockFollower()
        self._pulse = PulseFinder()

    def timing_message(self, message: list[int], stamp: float) -> None:
        self._clock.message(message[0], message[1:], stamp)

    def player_onset(self, stamp: float, starts_phrase: bool) -> None:
        self._pulse.onset(stamp, starts_phrase)

    @property
    def transport_running(self) -> bool:
        return self._clock.running

    @property
    def transport_origin(self) -> float | None:
        """When the clock's song began: the downbeat after its latest Start (None: not known)."""
        return self._clock.started_at

    def grid(self, now: float) -> Grid | None:
        """The grid from MIDI Clock, else from a shared session (Link), else from the player's pulse, else
        from `--bpm`; None: no tempo."""
        following = self._clock.grid(now)
        if following is None and self.shared is not None:
            following = self.shared.grid(now)
        if following is not None:
            return following
        anchor = self._pulse.phrase_start
        beat = self._pulse.beat() if self.follow_player else None
        if beat is not None and anchor is not None:
            return Grid(beat, anchor, SOURCE_PLAYER)
        if self.bpm is not None:
            return Grid(60.0 / self.bpm, now if anchor is None else anchor, SOURCE_BPM)
        return None


def fitting_timeline(onsets: Sequence[float], timeline: Timeline) -> tuple[Timeline, str]:
    """The timeline some music was played to: `timeline` (a file's tempo map and meters) when its onsets
    lie on its grid, else one at the pulse of the onsets themselves, from the first; and a few words
    saying which, for the user."""
    if not onsets or max(on_grid_share(onsets, timeline, 4), on_grid_share(onsets, timeline, 3)) >= USABLE_TEMPO_MAP_SHARE:
        return timeline, "its tempo map"
    pulse = PulseFinder()
    for onset in sorted(onsets):
        pulse.onset(onset, starts_phrase=False)
    beat = pulse.beat()
    bpm = 60.0 / beat if beat else UNKNOWN_PULSE_BPM
    found = f"its own pulse, {bpm:.0f} BPM" if beat else f"{bpm:.0f} BPM (no steady pulse found)"
    return Timeline.steady(bpm, origin=min(onsets)), f"{found}: its tempo map does not fit its notes"
