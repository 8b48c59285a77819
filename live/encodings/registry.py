"""The encodings this runtime speaks, by name: the version it reads and the size of the logits a model of
that encoding reads out per step. A model file naming anything else is refused (duetto.model.step_model).
"""

from __future__ import annotations

from dataclasses import dataclass

from duetto.encodings import events, note_level, roll


@dataclass(frozen=True)
class Encoding:
    name: str
    version: int
    vocab_size: int


ENCODINGS: dict[str, Encoding] = {encoding.name: encoding for encoding in (
    Encoding(events.ENCODING_NAME, events.ENCODING_VERSION, events.VOCAB_SIZE),
    Encoding(note_level.MELODY, note_level.MELODY_VERSION, note_level.PITCHES),
    Encoding(note_level.NOTES, note_level.NOTES_VERSION, note_level.PITCHES),
    Encoding(roll.ENCODING_NAME, roll.ENCODING_VERSION, roll.VOCAB_SIZE),
)}
