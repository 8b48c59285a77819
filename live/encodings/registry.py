"""The encodings this runtime speaks: each name and version it reads, and the size of the logits a model of
that encoding reads out per step. A model file naming anything else is refused (duetto.model.step_model).
"""

from __future__ import annotations

from dataclasses import dataclass

from duetto.encodings import events, metrical, note_level, roll


@dataclass(frozen=True)
class Encoding:
    name: str
    version: int
    vocab_size: int
    conditioned: bool = False  # whether its models read a style and a texture


ENCODINGS: list[Encoding] = [
    *(Encoding(events.ENCODING_NAME, version, size, conditioned=version >= 2)
      for version, size in events.VOCAB_SIZES.items()),
    Encoding(note_level.MELODY, note_level.MELODY_VERSION, note_level.PITCHES),
    Encoding(note_level.NOTES, note_level.NOTES_VERSION, note_level.PITCHES),
    Encoding(roll.ENCODING_NAME, roll.ENCODING_VERSION, roll.VOCAB_SIZE),
    Encoding(metrical.ENCODING_NAME, metrical.ENCODING_VERSION, metrical.VOCAB_SIZE, conditioned=True),
]


def spoken(name: str, version: int) -> Encoding | None:
    """The encoding of that name and version, if this runtime speaks it."""
    return next((encoding for encoding in ENCODINGS if (encoding.name, encoding.version) == (name, version)), None)


def newest(name: str) -> Encoding:
    """The latest version of an encoding: what training writes now."""
    return max((encoding for encoding in ENCODINGS if encoding.name == name), key=lambda encoding: encoding.version)


def for_vocabulary(name: str, vocab_size: int) -> Encoding:
    """The version of an encoding whose vocabulary has that size (how a checkpoint says which it speaks)."""
    for encoding in ENCODINGS:
        if encoding.name == name and encoding.vocab_size == vocab_size:
            return encoding
    raise ValueError(f"no version of {name} has a vocabulary of {vocab_size}")
