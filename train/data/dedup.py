"""Copies of the same music, found by the music rather than the bytes.

Collections repeat themselves: a file re-saved by another program, the same tune in two editions, the same
chorale in two cantatas, a movement and an excerpt of it. Compared as notes timed relative to their own
first onset and pulse (so tempo, loudness and leading silence do not matter), such copies look alike:

- an exact copy (every note the same) is dropped, with a report naming both;
- pieces that open the same way (their first OPENING_ONSETS onsets alike: the same chords, the same
  rhythm) form one split group, so that train never holds what test asks about.

Pitches are compared relative to the lowest note of the first onset, so a copy in another key is a copy:
training transposes every window at random anyway, so a second key teaches nothing a first does not, and
test must not ask about a tune train holds in D.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from typing import Sequence

from duetto.music.notes import Note
from duetto.train.data.pieces import Piece, Skipped

OPENING_ONSETS = 20  # enough for two bars of a tune: long enough to tell tunes apart, short for an excerpt
TICKS_PER_PULSE = 24  # time is kept in 24ths of a piece's pulse: exact for sixteenths and triplets
CHORD_SECONDS = 0.001  # notes starting this close together are struck together (a MIDI file's rounding)


def onsets(notes: Sequence[Note]) -> list[tuple[float, tuple[int, ...]]]:
    """(time, pitches struck) for every moment notes start, in order."""
    struck: list[tuple[float, list[int]]] = []
    for note in sorted(notes):
        if struck and note.start - struck[-1][0] <= CHORD_SECONDS:
            struck[-1][1].append(note.pitch)
        else:
            struck.append((note.start, [note.pitch]))
    return [(time, tuple(sorted(set(pitches)))) for time, pitches in struck]


def pulse(moments: Sequence[tuple[float, tuple[int, ...]]]) -> float:
    """A piece's unit of time: the median gap between its opening onsets, so a copy at another tempo (or
    an excerpt of the opening) measures its rhythm in the same units."""
    gaps = [later[0] - earlier[0] for earlier, later in zip(moments[:OPENING_ONSETS], moments[1:OPENING_ONSETS])]
    return statistics.median(gaps) if gaps else 1.0


def music_key(notes: Sequence[Note]) -> str:
    """A hash of every note (onset from the first one, length, pitch above the first onset's lowest),
    timed in units of the piece's pulse: equal for copies that differ only in key, tempo, loudness or the
    silence before the first note."""
    moments = onsets(notes)
    first_time, unit, base = moments[0][0], pulse(moments), moments[0][1][0]
    rows = sorted((_ticks(note.start - first_time, unit), _ticks(note.end - note.start, unit), note.pitch - base)
                  for note in notes)
    return _digest(rows)


def opening_key(notes: Sequence[Note]) -> str:
    """A hash of the first OPENING_ONSETS onsets: the pitches struck at each (above the first onset's
    lowest) and when, from the first one in pulses. Lengths are left out, so a legato and a detached
    edition of one tune still open alike."""
    moments = onsets(notes)[:OPENING_ONSETS]
    first_time, unit, base = moments[0][0], pulse(moments), moments[0][1][0]
    rows = [(_ticks(time - first_time, unit), [pitch - base for pitch in pitches]) for time, pitches in moments]
    return _digest(rows)


def lowest_first_pitch(notes: Sequence[Note]) -> int:
    """The pitch the keys above are relative to: how far one copy is transposed from another."""
    return onsets(notes)[0][1][0]


def _ticks(seconds: float, unit: float) -> int:
    return round(seconds / unit * TICKS_PER_PULSE)


def _digest(rows) -> str:
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def drop_copies(pieces: Sequence[Piece]) -> tuple[list[Piece], list[Skipped]]:
    """The pieces without exact musical copies of an earlier one; each copy dropped is reported with the
    name of the piece it copies (and the interval, when it is in another key)."""
    kept: list[Piece] = []
    dropped: list[Skipped] = []
    first_with: dict[str, tuple[str, int]] = {}  # music key -> the first piece with it, and its pitch
    for piece in pieces:
        key = music_key(piece.notes)
        if key in first_with:
            name, pitch = first_with[key]
            shift = lowest_first_pitch(piece.notes) - pitch
            interval = f", {shift:+d} semitones" if shift else ""
            dropped.append(Skipped(piece.name, f"same music as {name}{interval}"))
        else:
            first_with[key] = piece.name, lowest_first_pitch(piece.notes)
            kept.append(piece)
    return kept, dropped


def opening_groups(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """The pieces grouped by their opening, in order of each group's first piece: a piece alone in its
    group opens like no other."""
    groups: dict[str, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(opening_key(piece.notes), []).append(piece)
    return list(groups.values())
