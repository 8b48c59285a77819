"""The metrical note encoding: one model step per note, timed in beats, placed in its bar.

Each note is five fields, predicted in this order ("duetto-metrical", version 1):

    onset      ticks after the previous note's onset (TICKS_PER_BEAT to a quarter note: sixteenths,
               triplets and thirty-seconds are whole ticks), 0 .. ONSETS - 1
    part       melody, bass, inner or other (duetto.music.parts)
    pitch      0 .. 127
    duration   a bin of DURATION_TICKS: every tick up to a beat, coarser beyond (a long note's exact
               length matters less than where it starts)
    velocity   a bin of VELOCITY_BINS

Beside the fields, each step reads where the note lies in its bar (`bar`, in ticks from the bar line), the
bar's meter and length, the style and the texture asked for: inputs, never targets. The first step of a
sequence is START, standing on the bar line of the first note's bar, so the first onset says where in its
bar the music begins.

A silence of ONSETS ticks or more is shortened by whole bars until it fits: a rest of three bars or of
one says the same about what comes next, and the notes after it keep their place in the bar.

Timing finer than a tick (a player's micro-timing) is not encoded: live answers get their feel from the
groove on output (duetto.music.groove), and docs/quality.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from duetto.music.notes import Note
from duetto.music.parts import PARTS
from duetto.music.texture import TEXTURES, texture_of
from duetto.music.timeline import Timeline, bar_beats

ENCODING_NAME = "duetto-metrical"
ENCODING_VERSION = 1

TICKS_PER_BEAT = 24
ONSETS = 8 * TICKS_PER_BEAT  # onsets up to two bars of 4/4 apart, every tick
DURATION_TICKS = np.array([*range(1, 25), *range(27, 97, 3), *range(108, 385, 12)])  # 72 bins, up to 16 beats
PITCHES = 128
VELOCITY_BINS = 16
FIELDS = ("onset", "part", "pitch", "duration", "velocity")
FIELD_SIZES = (ONSETS, len(PARTS), PITCHES, len(DURATION_TICKS), VELOCITY_BINS)
ONSET, PART, PITCH, DURATION, VELOCITY = range(len(FIELDS))
VOCAB_SIZE = sum(FIELD_SIZES)  # what the encoding registry records; the model reads out each field apart

BAR_POSITIONS = 8 * TICKS_PER_BEAT  # positions in a bar that the model tells apart; longer bars are clipped
# meters the model knows by name; index 0 is any other (its bar length still counts the bar)
METERS = ((0, 0), (4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (3, 8), (9, 8), (12, 8), (5, 4), (7, 8), (6, 4),
          (3, 2), (5, 8), (4, 2), (7, 4))
STYLE_SLOTS = 32  # 0: withheld; 1 + k: the style of index k (a model trained with 16 grows on --init)
TEXTURE_SLOTS = 1 + len(TEXTURES)  # 0: withheld; 1 + k: TEXTURES[k]
TEXTURE_SPAN_BEATS = 8.0  # each note is conditioned on the texture of the 8 beats it falls in


def meter_index(meter: tuple[int, int]) -> int:
    return METERS.index(meter) if meter in METERS else 0


def bar_ticks(meter: tuple[int, int]) -> int:
    """A bar's length in ticks (at least one beat)."""
    return max(TICKS_PER_BEAT, round(bar_beats(meter) * TICKS_PER_BEAT))


def duration_bin(ticks: float) -> int:
    return int(np.argmin(np.abs(DURATION_TICKS - ticks)))


def velocity_bin(velocity: int) -> int:
    return min(VELOCITY_BINS - 1, max(0, velocity) * VELOCITY_BINS // 128)


def bin_velocity(velocity_bin: int) -> int:
    """The representative velocity of a bin: the middle of the values it covers."""
    return velocity_bin * (128 // VELOCITY_BINS) + 128 // VELOCITY_BINS // 2


@dataclass
class MetricalNotes:
    """Notes as the model reads them, one row per note, in order of onset (higher pitch first within an
    onset). `fields` [n, 5] in FIELDS order; `bar` each note's ticks from its bar line; `meter` its
    meter's index and `bar_length` its bar in ticks; `texture` the texture slot it is conditioned on;
    `ticks` its onset on the timeline (from beat 0), after long rests were shortened."""

    fields: np.ndarray
    bar: np.ndarray
    meter: np.ndarray
    bar_length: np.ndarray
    texture: np.ndarray
    ticks: np.ndarray

    def __len__(self) -> int:
        return len(self.fields)

    def as_columns(self) -> np.ndarray:
        """One int32 array [n, 10]: fields, bar, meter, bar length, texture, ticks (how shards store it)."""
        return np.column_stack([self.fields, self.bar, self.meter, self.bar_length, self.texture,
                                self.ticks]).astype(np.int32)

    @classmethod
    def from_columns(cls, columns: np.ndarray) -> MetricalNotes:
        columns = np.asarray(columns, dtype=np.int64)
        return cls(columns[:, :5], columns[:, 5], columns[:, 6], columns[:, 7], columns[:, 8], columns[:, 9])


class NoteWriter:
    """Notes read one at a time, in order of onset, as rows on a timeline (which may be changed between
    notes: the gap to the previous note is measured on the timeline in force)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.previous_start: float | None = None  # seconds

    def row(self, note: Note, part: int) -> tuple[list[int], int, int, int]:
        """A note's fields, its position in its bar, its meter's index and its bar's length in ticks."""
        timeline = self.timeline
        start_beat = timeline.beats(note.start)
        tick = round(start_beat * TICKS_PER_BEAT)
        position, meter = timeline.bar_position(tick / TICKS_PER_BEAT)
        length = bar_ticks(meter)
        bar = round(position * TICKS_PER_BEAT) % length
        if self.previous_start is None:
            gap = bar
        else:
            gap = tick - round(timeline.beats(self.previous_start) * TICKS_PER_BEAT)
        self.previous_start = note.start
        duration = (timeline.beats(note.end) - start_beat) * TICKS_PER_BEAT
        fields = [shortened_gap(gap, length), part, note.pitch, duration_bin(duration), velocity_bin(note.velocity)]
        return fields, min(bar, BAR_POSITIONS - 1), meter_index(meter), length


def encode(notes: Sequence[Note], timeline: Timeline, parts: Sequence[int]) -> MetricalNotes:
    """Notes in seconds (with their parts, see duetto.music.parts) read on a timeline as model rows.

    Onsets are rounded to the nearest tick; two notes of one pitch struck on one tick are one note (two
    voices in unison). Texture is measured per TEXTURE_SPAN_BEATS of music.
    """
    kept: dict[tuple[int, int], tuple[Note, int]] = {}
    for note, part in zip(notes, parts):
        kept.setdefault((round(timeline.beats(note.start) * TICKS_PER_BEAT), -note.pitch), (note, part))
    ordered = [kept[key] for key in sorted(kept)]
    writer = NoteWriter(timeline)
    rows = [writer.row(note, part) for note, part in ordered]
    fields = np.array([row[0] for row in rows], dtype=np.int64).reshape(-1, 5)
    ticks = np.cumsum(fields[:, ONSET]) + (min(kept)[0] - fields[0, ONSET] if kept else 0)
    spans = np.array([int(timeline.beats(note.start) // TEXTURE_SPAN_BEATS) for note, _ in ordered], dtype=np.int64)
    textures = np.zeros(len(ordered), dtype=np.int64)
    for span in np.unique(spans):
        inside = np.flatnonzero(spans == span)
        name = texture_of([ordered[index][0] for index in inside])
        textures[inside] = 1 + TEXTURES.index(name) if name else 0
    columns = np.array([row[1:] for row in rows], dtype=np.int64).reshape(-1, 3)
    return MetricalNotes(fields, columns[:, 0], columns[:, 1], columns[:, 2], textures, ticks)


def shortened_gap(gap: int, bar_length: int) -> int:
    """A gap between onsets in ticks, shortened by whole bars until it is below ONSETS (to ONSETS - 1 when
    a bar is too long for that: a meter of more than 8 beats loses its place in the bar at a long rest)."""
    if gap < ONSETS:
        return max(0, gap)
    shortened = gap - ((gap - ONSETS) // bar_length + 1) * bar_length
    return shortened if 0 <= shortened < ONSETS else ONSETS - 1


def decode(fields: np.ndarray, ticks: np.ndarray, timeline: Timeline) -> list[Note]:
    """Rows back to notes in seconds on a timeline, each onset at its tick (channel: the part)."""
    notes = []
    for row, tick in zip(np.asarray(fields), np.asarray(ticks)):
        start_beat = tick / TICKS_PER_BEAT
        end_beat = start_beat + DURATION_TICKS[row[DURATION]] / TICKS_PER_BEAT
        notes.append(Note(float(timeline.seconds(start_beat)), float(timeline.seconds(end_beat)), int(row[PITCH]),
                          bin_velocity(int(row[VELOCITY])), int(row[PART])))
    return notes


START_FIELDS = np.array(FIELD_SIZES, dtype=np.int64)  # the row a sequence opens with: each field's own START


def step_inputs(previous: np.ndarray, bar: int, meter: int, bar_length: int, style: int = 0, texture: int = 0,
                forced: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The named inputs of one step of a metrical model's graph (batch of one): the previous note's fields
    (START_FIELDS to open), where it lay in its bar, its meter and bar length, the style and texture
    slots, and the note to take as given (`forced`; default: all fields forced to 0, for a step whose
    outputs nobody reads). Draws use zero biases, temperature 1 and the whole distribution (top_p 1)
    until the caller says otherwise."""
    def one(value: int) -> np.ndarray:
        return np.array([value], dtype=np.int64)

    inputs = {"previous": np.asarray(previous, dtype=np.int64).reshape(1, 5), "previous_bar": one(bar),
              "meter": one(meter), "bar_length": one(bar_length), "style": one(style), "texture": one(texture),
              "forced": np.zeros((1, 5), dtype=np.int64) if forced is None else np.asarray(forced, dtype=np.int64).reshape(1, 5),
              "uniforms": np.full((1, 5), 0.5, dtype=np.float32), "temperature": np.ones(1, dtype=np.float32),
              "top_p": np.ones(1, dtype=np.float32)}
    for name, size in zip(FIELDS, FIELD_SIZES):
        inputs[f"{name}_bias"] = np.zeros((1, size), dtype=np.float32)
    return inputs
