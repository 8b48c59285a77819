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
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from duetto.families import make_voice
from duetto.model.rolling_state import WINDOW_TOKENS
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.chords import Chord
from duetto.music.key import KeyFinder
from duetto.music.notes import Note
from duetto.music.parts import MELODY
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind, BandRequest
from duetto.voices.limits import Limits

BAND_POLYPHONY = 8  # a bass note, a four-note chord, a line and a note of overlap


@dataclass
class BandTake:
    """The band's notes (each note's channel is its part) and how long each chunk took to compose."""

    notes: list[Note] = field(default_factory=list)
    compose_seconds: list[float] = field(default_factory=list)
    chunk_seconds: float = 0.0  # the time a chunk has to be composed in: the lead, live


def accompany(model: StepModel, melody: Sequence[Note], timeline: Timeline, band: BandRequest,
              first_beat: float, last_beat: float, sampler: Sampler, style: int | None = None,
              chord_at: Callable[[float], Chord | None] | None = None, chunk_beats: float = 1.0,
              lead_beats: float = 1.0) -> BandTake:
    """The band's take from `first_beat` to `last_beat` over `melody` (on `timeline`): each chunk of
    `chunk_beats` composed from what was heard `lead_beats` before it starts, over the chord
    `chord_at(seconds)` holds then (an arranger's left hand; None: no chord held)."""
    voice = make_voice(model, sampler, Limits(max_polyphony=BAND_POLYPHONY), WINDOW_TOKENS)
    voice.keep_time(timeline)
    order = itertools.count()
    heard: list[tuple[float, int, int, int, int]] = []  # (seconds, order, pitch, velocity, part): a heap
    for note in melody:
        heapq.heappush(heard, (note.start, next(order), note.pitch, note.velocity, MELODY))
        heapq.heappush(heard, (note.end, next(order), note.pitch, 0, MELODY))
    take, melody_heard = BandTake(), []
    beat = first_beat
    while beat < last_beat:
        composing_at = timeline.seconds(beat - lead_beats * chunk_beats)
        while heard and heard[0][0] < composing_at:
            seconds, _, pitch, velocity, part = heapq.heappop(heard)
            voice.hear(seconds, pitch, velocity, part)
            if part == MELODY and velocity > 0:
                melody_heard.append(Note(seconds, seconds, pitch, velocity))
        start, end = timeline.seconds(beat), timeline.seconds(beat + chunk_beats)
        chord = chord_at(composing_at) if chord_at is not None else None
        kind = AnswerKind(style=style, key=KeyFinder.of(melody_heard),
                          band=BandRequest(band.parts, band.registers, chord))
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
