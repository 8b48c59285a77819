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
from duetto.music.notes import Note
from duetto.music.parts import MELODY, part_roles
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind, BandRequest
from duetto.voices.limits import Limits

if TYPE_CHECKING:
    from duetto.jam.band import Band

BAND_POLYPHONY = 8  # a bass note, a four-note chord, a line and a note of overlap
MELODY_CHANNEL, MELODY_PROGRAM = 0, 0  # the melody of `generate --band`: channel 1, Acoustic Grand Piano


@dataclass
class BandTake:
    """The band's notes (each note's channel is its part) and how long each chunk took to compose."""

    notes: list[Note] = field(default_factory=list)
    compose_seconds: list[float] = field(default_factory=list)
    chunk_seconds: float = 0.0  # the time a chunk has to be composed in: the lead, live


def accompany(model: StepModel, melody: Sequence[Note], timeline: Timeline, band: BandRequest,
              first_beat: float, last_beat: float, sampler: Sampler, style: int | None = None,
              held_chord: Callable[[float], Chord | None] | None = None, chunk_beats: float = 0.5,
              lead_beats: float = 1.0) -> BandTake:
    """The band's take from `first_beat` to `last_beat` over `melody` (on `timeline`): each chunk of
    `chunk_beats` composed from what was heard `lead_beats` chunks before it starts, leaning to the chord
    `held_chord(seconds)` holds as it starts (an arranger's left hand, followed at once), or with none
    given, as live, to the chord the melody implied over its last HARMONY_BEATS beats before composing."""
    voice = make_voice(model, sampler, Limits(max_polyphony=BAND_POLYPHONY), WINDOW_TOKENS)
    voice.keep_time(timeline)
    order = itertools.count()
    heard: list[tuple[float, int, int, int, int]] = []  # (seconds, order, pitch, velocity, part): a heap
    for note in melody:
        heapq.heappush(heard, (note.start, next(order), note.pitch, note.velocity, MELODY))
        heapq.heappush(heard, (note.end, next(order), note.pitch, 0, MELODY))
    take, melody_heard, harmony = BandTake(), [], HeardMelody()
    beat = first_beat
    while beat < last_beat:
        composing_at = timeline.seconds(beat - lead_beats * chunk_beats)
        while heard and heard[0][0] < composing_at:
            seconds, _, pitch, velocity, part = heapq.heappop(heard)
            voice.hear(seconds, pitch, velocity, part)
            if part == MELODY:
                harmony.key(seconds, pitch, velocity)
                if velocity > 0:
                    melody_heard.append(Note(seconds, seconds, pitch, velocity))
        start, end = timeline.seconds(beat), timeline.seconds(beat + chunk_beats)
        key = KeyFinder.of(melody_heard)
        # a held chord changed under a chunk composed ahead is followed at once (duetto.jam.modes.band): the
        # chunk sounds over the chord held as it begins
        chord = held_chord(start) if held_chord is not None else harmony.chord(
            key, composing_at - (timeline.seconds(HARMONY_BEATS) - timeline.seconds(0.0)), composing_at)
        kind = AnswerKind(style=style, key=key, band=BandRequest(band.parts, band.registers, chord))
        began = time.perf_counter()
        events = list(voice.answer(end - start, kind=kind, start=start))
        take.compose_seconds.append(time.perf_counter() - began)
        struck: dict[int, tuple[float, int, int]] = {}
        for event in events:
            at = start + event.seconds
            heapq.heappush(heard, (at, next(order), event.pitch, event.velocity, event.part))
            if event.velocity > 0:
                struck[event.pitch] = (at, event.velocity, event.part)
            elif event.pitch in struck:
                onset, velocity, part = struck.pop(event.pitch)
                take.notes.append(Note(onset, at, event.pitch, velocity, part))
        beat += chunk_beats
    take.chunk_seconds = timeline.seconds(lead_beats * chunk_beats) - timeline.seconds(0.0)
    take.notes.sort()
    return take


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
