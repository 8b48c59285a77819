"""The band's figures in `duetto bench quality`: held-out band pieces with a melody, the melody played as
the player, the band composed over it beat by beat as live (duetto.offline.band), and its music set
against the piece's real accompaniment, per style.

- consonance: the share of band notes whose interval with the melody note sounding at their onset is a
  consonance (unison, third, fourth, fifth, sixth, octave); goal: the real accompaniment's share - 0.05;
- bass: the share of bass notes on the root or fifth of the chord of their half bar (the chord of the key
  that best fits all the real parts there, duetto.music.chords.fitting_chords), real bass alongside;
- together: the share of pairs of band notes sounding together that are consonant, the real accompaniment's
  alongside (the parts agreeing with each other, not only with the tune);
- beat: the share of band onsets on the sixteenth grid; goal: ≥ 0.9 × the real accompaniment's; and on
  the beats themselves, against the real accompaniment's (a band that marks the beat as a real one does,
  not one that strikes a sixteenth after each melody note);
- registers: the share of beats whose parts sound in order, bass below chords, chords not above the line
  (by each part's median pitch in the beat); goal: ≥ 0.95.

Consonance and bass are also measured for a second take over the same melody following the real music's
chords as an arranger's left hand holds them (`--split`), each pressed on the beat it changes: what the band
plays when it knows the harmony, against what it plays when it must guess it from the melody heard so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from duetto.encodings import metrical
from duetto.jam.band import DEFAULT_PARTS, make_band
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.chords import CONSONANT_INTERVALS, Chord, fitting_chords
from duetto.music.key import KeyFinder
from duetto.music.notes import Note
from duetto.music.parts import BASS, INNER, MELODY, OTHER
from duetto.music.timeline import Timeline, on_grid_share
from duetto.offline.band import accompany

if TYPE_CHECKING:
    from duetto.train.data.shards import Shard

BAND_BPM = 120.0  # the held-out pieces are played at this tempo (their rendered tempos vary by style)
LISTEN_BEATS = 4  # the band comes in after a bar of the melody
PLAY_BEATS = 16
CHORD_SPAN_BEATS = 2
BAND = make_band(DEFAULT_PARTS, None, None, 0, None).request(None)  # `jam --mode band`'s default band


@dataclass(frozen=True)
class BandPiece:
    melody: list[Note]
    real: list[Note]  # the real accompaniment, each note's channel its part
    timeline: Timeline
    style: str
    style_index: int


def band_pieces(shard: Shard, band_styles: Sequence[str], per_style: int) -> list[BandPiece]:
    """Up to `per_style` held-out pieces of each band style with a melody and an accompaniment long enough
    to listen to a bar and then play PLAY_BEATS beats."""
    names = shard.manifest.get("styles", [])
    timeline = Timeline.steady(BAND_BPM)
    pieces, taken = [], {}
    end = timeline.seconds(LISTEN_BEATS + PLAY_BEATS)
    for notes, style in shard.metrical_pieces():
        name = names[style]
        if name not in band_styles or taken.get(name, 0) >= per_style:
            continue
        decoded = metrical.decode(notes.fields, notes.ticks, timeline)
        melody = [note for note in decoded if note.channel == MELODY and note.start < end]
        real = [note for note in decoded if note.channel != MELODY and note.start < end]
        if len(melody) >= 8 and max(note.start for note in melody) > timeline.seconds(LISTEN_BEATS + PLAY_BEATS / 2):
            pieces.append(BandPiece(melody, real, timeline, name, style))
            taken[name] = taken.get(name, 0) + 1
    return pieces


def chords_of(notes: Sequence[Note], timeline: Timeline, beats: int) -> list[Chord]:
    """The chord of each CHORD_SPAN_BEATS span of the music: its key's chord fitting all its notes best."""
    key = KeyFinder.of(notes)
    spans = np.zeros((math.ceil(beats / CHORD_SPAN_BEATS), 12))
    for note in notes:
        span = int(timeline.beats(note.start) // CHORD_SPAN_BEATS)
        if 0 <= span < len(spans):
            spans[span, note.pitch % 12] += timeline.beats(note.end) - timeline.beats(note.start)
    return fitting_chords(list(spans), key) if key is not None else []


def held_chords(chords: Sequence[Chord], timeline: Timeline) -> Callable[[float], Chord]:
    """The chord an arranger's left hand holds at each moment (seconds): each of `chords` (one a
    CHORD_SPAN_BEATS span) from the beat its span begins, the last held on."""
    def held(seconds: float) -> Chord:
        return chords[max(0, min(len(chords) - 1, int(timeline.beats(seconds) // CHORD_SPAN_BEATS)))]
    return held


def consonance(band: Sequence[Note], melody: Sequence[Note]) -> float | None:
    """The share of band notes consonant with the melody note sounding at their onset (None: no such note)."""
    shares = []
    for note in band:
        sounding = [m for m in melody if m.start <= note.start < m.end]
        if sounding:
            shares.append((sounding[-1].pitch - note.pitch) % 12 in CONSONANT_INTERVALS)
    return float(np.mean(shares)) if shares else None


def consonance_together(band: Sequence[Note]) -> float | None:
    """The share of pairs of band notes sounding together (one struck while the other sounds, at another
    pitch) whose interval is a consonance (None: no such pair)."""
    shares = []
    for note in band:
        for other in band:
            if other is not note and other.start <= note.start < other.end and other.pitch != note.pitch:
                shares.append((other.pitch - note.pitch) % 12 in CONSONANT_INTERVALS)
    return float(np.mean(shares)) if shares else None


def bass_on_root_or_fifth(band: Sequence[Note], chords: Sequence[Chord], timeline: Timeline) -> float | None:
    shares = []
    for note in band:
        span = int(timeline.beats(note.start) // CHORD_SPAN_BEATS)
        if note.channel == BASS and 0 <= span < len(chords):
            shares.append(note.pitch % 12 in (chords[span].root, chords[span].fifth))
    return float(np.mean(shares)) if shares else None


def registers_in_order(band: Sequence[Note], timeline: Timeline) -> float | None:
    """The share of beats (with two or more parts sounding) whose parts' median pitches lie in order."""
    beats: dict[int, dict[int, list[int]]] = {}
    for note in band:
        beats.setdefault(int(timeline.beats(note.start)), {}).setdefault(note.channel, []).append(note.pitch)
    shares = []
    for parts in beats.values():
        height = {part: median(pitches) for part, pitches in parts.items()}
        if len(height) < 2:
            continue
        in_order = all(height[BASS] < height[part] for part in (INNER, OTHER) if BASS in height and part in height)
        shares.append(in_order and (INNER not in height or OTHER not in height or height[INNER] <= height[OTHER]))
    return float(np.mean(shares)) if shares else None


def band_figures(model: StepModel, shard: Shard, band_styles: Sequence[str], per_style: int, seed: int,
                 temperature: float, top_p: float) -> dict:
    """Per style and overall, the band's figures and the real accompaniment's (see the module's docstring)."""
    sampler = Sampler(temperature, top_p, seed)
    rows = [piece_figures(model, piece, sampler) for piece in band_pieces(shard, band_styles, per_style)]
    return {style: _summary([row for row in rows if style in ("all", row["style"])])
            for style in ["all", *sorted({row["style"] for row in rows})]}


def piece_figures(model: StepModel, piece: BandPiece, sampler: Sampler) -> dict:
    """One piece's figures: the band's take over its melody, the take following its chords held (split),
    and its real accompaniment."""
    styles = model.info.styles
    style = styles.index(piece.style) if piece.style in styles else None
    take = accompany(model, piece.melody, piece.timeline, BAND, LISTEN_BEATS, LISTEN_BEATS + PLAY_BEATS,
                     sampler, style)
    window = [note for note in piece.real if note.start >= piece.timeline.seconds(LISTEN_BEATS)]
    chords = chords_of(piece.melody + piece.real, piece.timeline, LISTEN_BEATS + PLAY_BEATS)
    split = accompany(model, piece.melody, piece.timeline, BAND, LISTEN_BEATS, LISTEN_BEATS + PLAY_BEATS,
                      sampler, style, held_chord=held_chords(chords, piece.timeline)) if chords else None
    return {
        "style": piece.style, "notes": len(take.notes), "real_notes": len(window),
        "consonance": consonance(take.notes, piece.melody), "real_consonance": consonance(window, piece.melody),
        "split_consonance": consonance(split.notes, piece.melody) if split else None,
        "together": consonance_together(take.notes), "real_together": consonance_together(window),
        "bass": bass_on_root_or_fifth(take.notes, chords, piece.timeline),
        "real_bass": bass_on_root_or_fifth(window, chords, piece.timeline),
        "split_bass": bass_on_root_or_fifth(split.notes, chords, piece.timeline) if split else None,
        "on_grid": on_grid_share([n.start for n in take.notes], piece.timeline) if take.notes else None,
        "real_on_grid": on_grid_share([n.start for n in window], piece.timeline) if window else None,
        "on_beats": on_grid_share([n.start for n in take.notes], piece.timeline, 1) if take.notes else None,
        "real_on_beats": on_grid_share([n.start for n in window], piece.timeline, 1) if window else None,
        "registers": registers_in_order(take.notes, piece.timeline),
        "parts": {part: sum(n.channel == part for n in take.notes) for part in (BASS, INNER, OTHER)},
    }


def _summary(rows: list[dict]) -> dict:
    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return float(np.mean(values)) if values else None

    beat, real_beat = mean("on_grid"), mean("real_on_grid")
    return {"pieces": len(rows), "notes": sum(row["notes"] for row in rows),
            "real_notes": sum(row["real_notes"] for row in rows),
            "consonance": mean("consonance"), "real_consonance": mean("real_consonance"),
            "split_consonance": mean("split_consonance"),
            "consonance_together": mean("together"), "real_consonance_together": mean("real_together"),
            "bass_root_or_fifth": mean("bass"), "real_bass_root_or_fifth": mean("real_bass"),
            "split_bass_root_or_fifth": mean("split_bass"),
            "on_grid": beat, "real_on_grid": real_beat,
            "beat_ratio": beat / real_beat if beat is not None and real_beat else None,
            "on_beats": mean("on_beats"), "real_on_beats": mean("real_on_beats"),
            "registers_in_order": mean("registers"),
            "part_notes": {name: sum(row["parts"][part] for row in rows)
                           for name, part in (("bass", BASS), ("chords", INNER), ("line", OTHER))}}
