"""A band accompanying a melody offline, a chunk at a time, as `duetto jam --mode band` plays it live.

Live, each beat of the band is composed a beat before it sounds, from everything heard until then: the
player's notes as the melody, the band's own notes with their parts. `accompany` replays that loop on a
melody given in advance, feeding the voice only what it would have heard by each chunk's composing time,
and times each chunk's composing: the quality benchmark measures the band's music with it, the latency
benchmark whether composing keeps ahead of the beat, and `duetto generate --band` writes a band's take.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from duetto.families import make_voice
from duetto.midi.files import MidiScore, write_midi
from duetto.model.rolling_state import WINDOW_TOKENS
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.chords import HARMONY_BEATS, Chord, HeardMelody
from duetto.music.clock import fitting_timeline
from duetto.music.key import KeyFinder
from duetto.music.notes import SETTLE_SECONDS, KeyEvent, Note, notes_from_events
from duetto.music.parts import MELODY, part_roles
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind, BandRequest
from duetto.voices.limits import Limits

if TYPE_CHECKING:
    from duetto.jam.band import Band
    from duetto.voices.metrical import MetricalVoice

BAND_POLYPHONY = 8  # a bass note, a four-note chord, a line and a note of overlap
MELODY_CHANNEL, MELODY_PROGRAM = 0, 0  # the melody of `generate --band`: channel 1, Acoustic Grand Piano


@dataclass
class BandTake:
    """The band's notes (each note's channel is its part) and how long each chunk took to compose."""

    notes: list[Note] = field(default_factory=list)
    compose_seconds: list[float] = field(default_factory=list)
    follow_seconds: list[float] = field(default_factory=list)  # voicing again after each melody note struck
    chunk_seconds: float = 0.0  # the time a chunk has to be composed in: the lead, live


def accompany(model: StepModel, melody: Sequence[Note], timeline: Timeline, band: BandRequest,
              first_beat: float, last_beat: float, sampler: Sampler, style: int | None = None,
              held_chord: Callable[[float], Chord | None] | None = None, chunk_beats: float = 0.5,
              lead_beats: float = 1.0) -> BandTake:
    """The band's take from `first_beat` to `last_beat` over `melody` (on `timeline`): each chunk of
    `chunk_beats` composed from what was heard `lead_beats` chunks before it starts, leaning to the chord
    `held_chord(seconds)` holds as it starts (an arranger's left hand, followed at once), or with none
    given, as live, to the chord the melody implied over its last HARMONY_BEATS beats before composing.
    As live, each melody note struck while the band plays is followed once it settles: the band's notes
    composed ahead and not yet begun are voiced again, hearing it (duetto.jam.modes.band)."""
    voice = make_voice(model, sampler, Limits(max_polyphony=BAND_POLYPHONY), WINDOW_TOKENS)
    voice.keep_time(timeline)
    take, performance = BandTake(), _Performance(voice, melody)
    harmony_span = timeline.seconds(HARMONY_BEATS) - timeline.seconds(0.0)

    def kind_at(moment: float, chord_at: float) -> AnswerKind:
        """What the band plays as, judged at `moment`: a held chord is the one held at `chord_at`."""
        key = KeyFinder.of(performance.melody_heard)
        chord = held_chord(chord_at) if held_chord is not None else performance.harmony.chord(
            key, moment - harmony_span, moment)
        return AnswerKind(style=style, key=key, band=BandRequest(band.parts, band.registers, chord))

    follows = iter(sorted(note.start + SETTLE_SECONDS for note in melody))
    follow = next(follows, math.inf)
    beat = first_beat
    while True:
        composing_at = timeline.seconds(beat - lead_beats * chunk_beats) if beat < last_beat else math.inf
        while follow < composing_at:  # a melody note struck (and settled) before the next chunk is composed
            performance.hear_until(follow)
            planned = performance.take_back_not_begun()
            if planned:
                began = time.perf_counter()
                performance.plan(voice.revoice(planned, kind_at(follow, follow)))
                take.follow_seconds.append(time.perf_counter() - began)
            follow = next(follows, math.inf)
        if beat >= last_beat:
            break
        performance.hear_until(composing_at)
        # a held chord changed under a chunk composed ahead is followed at once (duetto.jam.modes.band): the
        # chunk sounds over the chord held as it begins
        start, end = timeline.seconds(beat), timeline.seconds(beat + chunk_beats)
        began = time.perf_counter()
        events = list(voice.answer(end - start, kind=kind_at(composing_at, start), start=start))
        take.compose_seconds.append(time.perf_counter() - began)
        performance.plan(_notes_of(events, start))
        beat += chunk_beats
    take.notes = performance.band_notes()
    take.chunk_seconds = timeline.seconds(lead_beats * chunk_beats) - timeline.seconds(0.0)
    return take


def _notes_of(events: Sequence[KeyEvent], start: float) -> list[Note]:
    """The band's notes of key events from `start`, each note's channel its part."""
    return [Note(start + note.start, start + note.end, note.pitch, note.velocity, note.channel)
            for note in notes_from_events(events)]


TUNE, BAND_STRIKES, BAND_RELEASES = range(3)  # at one moment, heard in this order


class _Performance:
    """The music as it unfolds: the melody given and the band's notes as planned, heard by the voice in
    time order up to a moment. The band's notes not yet begun can be taken back (to be voiced again)."""

    def __init__(self, voice: MetricalVoice, melody: Sequence[Note]) -> None:
        self.voice = voice
        self._order = itertools.count()
        self._melody: list[tuple[float, int, int, int]] = []  # a heap: (seconds, order, pitch, velocity)
        for note in melody:
            heapq.heappush(self._melody, (note.start, next(self._order), note.pitch, note.velocity))
            heapq.heappush(self._melody, (note.end, next(self._order), note.pitch, 0))
        self._planned: list[Note] = []  # the band's notes not yet begun, in onset order
        self._sounding: list[Note] = []  # begun, not yet released
        self._played: list[Note] = []  # begun (sounding or released)
        self.melody_heard: list[Note] = []
        self.harmony = HeardMelody()

    def plan(self, notes: Sequence[Note]) -> None:
        self._planned = sorted([*self._planned, *notes])

    def take_back_not_begun(self) -> list[Note]:
        planned, self._planned = self._planned, []
        return planned

    def hear_until(self, moment: float) -> None:
        """Every key event before `moment` reaches the voice (and the melody's its harmony), in time order."""
        while True:
            due = [(self._melody[0][0], TUNE)] if self._melody else []
            if self._planned:
                due.append((self._planned[0].start, BAND_STRIKES))
            if self._sounding:
                due.append((min(note.end for note in self._sounding), BAND_RELEASES))
            if not due or min(due)[0] >= moment:
                return
            seconds, which = min(due)
            if which == TUNE:
                _, _, pitch, velocity = heapq.heappop(self._melody)
                self.voice.hear(seconds, pitch, velocity, MELODY)
                self.harmony.key(seconds, pitch, velocity)
                if velocity > 0:
                    self.melody_heard.append(Note(seconds, seconds, pitch, velocity))
            elif which == BAND_STRIKES:
                note = self._planned.pop(0)
                self.voice.hear(seconds, note.pitch, note.velocity, note.channel)
                self._sounding.append(note)
                self._played.append(note)
            else:
                note = min(self._sounding, key=lambda sounding: sounding.end)
                self._sounding.remove(note)
                self.voice.hear(seconds, note.pitch, 0, note.channel)

    def band_notes(self) -> list[Note]:
        """The band's notes: those begun, and those still planned."""
        return sorted([*self._played, *self._planned])


LISTEN_BEATS = 4  # the band comes in after a bar of the melody, as live it comes in after the player


@dataclass
class BandFile:
    """What `duetto generate --band` wrote: the summary line, the tracks, the tempo map, where the band
    came in (seconds) and the channels' programs."""

    summary: str
    tracks: dict[str, list[Note]]
    tempos: list[tuple[float, float]]
    band_starts: float


def band_midi(model: StepModel, score: MidiScore, out_path: str, band: Band, sampler: Sampler,
              style: str = "auto") -> BandFile:
    """A band's take over a MIDI file's melody (its top part, duetto.music.parts), on the file's beat: the
    melody and one track per band part, each on its channel with its General MIDI program, to `out_path`."""
    notes = sorted(score.notes)
    melody = [note for note, part in zip(notes, part_roles(notes)) if part == MELODY]
    given = Timeline(tuple(score.tempos), tuple(score.meters))
    timeline, grid = fitting_timeline([note.start for note in melody], given)
    first = math.ceil(timeline.beats(melody[0].start) - 1e-9) + LISTEN_BEATS
    last = timeline.beats(max(note.end for note in melody))
    styles = model.info.styles
    take = accompany(model, melody, timeline, band.request(None), first, last, sampler,
                     styles.index(style) if style in styles else None)
    tracks = {"Melody": [Note(n.start, n.end, n.pitch, n.velocity, MELODY_CHANNEL) for n in melody]}
    for part in band.parts:
        tracks[part.name.capitalize()] = [Note(n.start, n.end, n.pitch, n.velocity, part.channel)
                                          for n in take.notes if n.channel == part.part]
    programs = {MELODY_CHANNEL: MELODY_PROGRAM, **{part.channel: part.program - 1 for part in band.parts}}
    tempos = list(score.tempos) if timeline is given else [(0.0, timeline.bpm_at(0.0))]
    write_midi(out_path, tracks, tempos=tempos, programs=programs, meters=score.meters if timeline is given else None)
    counts = ", ".join(f"{name.lower()} {len(notes)}" for name, notes in tracks.items() if name != "Melody")
    summary = (f"wrote {out_path}: the melody ({len(melody)} notes) and its band ({counts} notes) from beat "
               f"{first}, on the file's beat ({grid})")
    return BandFile(summary, tracks, tempos, timeline.seconds(first))
