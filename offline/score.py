"""`duetto score`: how many bits per note a model needs for some MIDI files, a yardstick for any model file.

Each file is read as `generate` reads a prompt (drums apart, the sustain pedal folded in, its tempo map and
time signatures), and its notes are scored through the ONNX file one step at a time, as the model runs
live (duetto.model.scoring). An event-stream model pays for its time shifts, velocities, note-ons and
note-offs; a metrical one for each note's onset, part, pitch, duration and velocity. A model that reads
conditioning is told the texture and, when asked, the style, and pays nothing for them: a player names
them, nobody guesses them. Bits per note are the nats of every target, over the notes the file holds.
With `per_part`, each MIDI channel is scored on its own.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from duetto.encodings import events, metrical
from duetto.midi.files import MidiFileError, read_score
from duetto.model.scoring import metrical_nats, sequence_nats
from duetto.model.step_model import StepModel
from duetto.music.notes import Note
from duetto.music.parts import part_roles
from duetto.music.timeline import Timeline

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


@dataclass(frozen=True)
class Scored:
    """What one file (or one part of it) cost: nats over its notes."""

    name: str
    notes: int
    nats: float

    @property
    def bits_per_note(self) -> float | None:
        return self.nats / self.notes / math.log(2) if self.notes else None


def midi_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The MIDI files named, and those inside folders named (recursively, in sorted order); a path that
    does not exist is a one-line ValueError."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(path for path in given.rglob("*") if path.suffix.lower() in MIDI_SUFFIXES)
        elif given.is_file():
            found.append(given)
        else:
            raise ValueError(f"{given}: no such file or folder")
    return found


def check_scorable(model: StepModel) -> None:
    """A one-line ValueError for a model whose family `score` cannot read (it scores the event-stream and
    metrical encodings)."""
    if model.info.encoding not in (events.ENCODING_NAME, metrical.ENCODING_NAME):
        raise ValueError(f"{model.path}: a {model.info.family} model ({model.info.encoding}) cannot be scored; "
                         f"duetto score reads event-stream and metrical models")


def score_notes(model: StepModel, notes: Sequence[Note], timeline: Timeline, style: int | None = None) -> Scored:
    """The nats a model pays for some notes (their channels are their parts), and how many notes."""
    if model.info.encoding == metrical.ENCODING_NAME:
        encoded = metrical.encode(notes, timeline, part_roles(notes))
        nats, count = metrical_nats(model, encoded, 0 if style is None else 1 + style)
        return Scored("", count, nats)
    told = model.info.vocab_size >= events.VOCAB_SIZE  # version 2 reads style and texture tokens
    tokens = [events.START, *(events.encode_conditioned(notes, style) if told else events.encode(notes))]
    nats, _, count = sequence_nats(model, tokens, conditioning_counts=False)
    return Scored("", count, nats)


def score_file(model: StepModel, path: Path, per_part: bool = False, style: int | None = None) -> list[Scored]:
    """One line for the file, or one for each of its channels; a file that cannot be read is a
    MidiFileError, one that holds no notes an empty list."""
    score = read_score(path)
    timeline = Timeline(tuple(score.tempos), tuple(score.meters))
    if not per_part:
        scored = score_notes(model, score.notes, timeline, style) if score.notes else None
        return [Scored(str(path), scored.notes, scored.nats)] if scored else []
    lines = []
    for channel in sorted({note.channel for note in score.notes}):
        part = [note for note in score.notes if note.channel == channel]
        scored = score_notes(model, part, timeline, style)
        lines.append(Scored(f"{path} channel {channel + 1}", scored.notes, scored.nats))
    return lines


def pooled(lines: Sequence[Scored]) -> Scored:
    return Scored("all", sum(line.notes for line in lines), sum(line.nats for line in lines))


def score_paths(model: StepModel, paths: Sequence[str | os.PathLike], per_part: bool = False,
                style: int | None = None) -> tuple[list[Scored], list[tuple[Path, str]]]:
    """Every file's lines, and the files that could not be read with the reason (skipped, counted)."""
    check_scorable(model)
    lines, skipped = [], []
    for path in midi_files(paths):
        try:
            lines += score_file(model, path, per_part, style)
        except MidiFileError as error:
            skipped.append((path, str(error)))
    return lines, skipped
