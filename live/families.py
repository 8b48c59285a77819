"""The one registry of model families: for each, the encoding it speaks (and so its vocabulary), the voice
that plays it live, and the module that trains it.

Training (`duetto train --family`), export (the metadata written into the ONNX file) and the runtime (which
voice a loaded model gets) all read this table, so adding a family is one entry here, a training module
in duetto/train/families/ and, if it hears or speaks differently from the others, a voice. Which version
of its encoding a model speaks is the model's own word (its metadata; checked by duetto.model).
"""

from __future__ import annotations

from dataclasses import dataclass

from duetto.encodings import events, metrical, note_level, roll
from duetto.model.rolling_state import WINDOW_TOKENS
from duetto.model.sampler import Sampler
from duetto.model.step_model import ModelError, StepModel
from duetto.voices.base import Voice
from duetto.voices.events import EventVoice
from duetto.voices.limits import Limits
from duetto.voices.melody import MelodyVoice
from duetto.voices.metrical import MetricalVoice
from duetto.voices.notes import NotesVoice
from duetto.voices.roll import RollVoice


@dataclass(frozen=True)
class Family:
    name: str
    encoding: str  # its name; duetto.encodings.registry knows the versions
    voice: type  # how a model of the family listens and answers live
    summary: str

    @property
    def trainer(self) -> str:
        """The module that builds and trains the family (duetto.train.families; needs the train extra)."""
        return f"duetto.train.families.{self.name}"


FAMILIES: dict[str, Family] = {family.name: family for family in (
    Family("events", events.ENCODING_NAME, EventVoice, "an LSTM over the event stream"),
    Family("transformer", events.ENCODING_NAME, EventVoice,
           "a decoder-only transformer over the event stream, with a key/value cache"),
    Family("melody", note_level.MELODY, MelodyVoice, "an LSTM over the pitches of the top line"),
    Family("notes", note_level.NOTES, NotesVoice,
           "an LSTM over whole notes: pitch, step since the previous onset, duration"),
    Family("biaxial", roll.ENCODING_NAME, RollVoice,
           "a biaxial LSTM over a piano roll on a sixteenth-note grid"),
    Family("biaxial_quarter", roll.ENCODING_NAME, RollVoice,
           "the biaxial LSTM on the classic benchmark's quarter-note 88-key roll"),
    Family("metrical", metrical.ENCODING_NAME, MetricalVoice,
           "a transformer stepping once per note, in beats: onset, part, pitch, duration and velocity"),
)}


def family(name: str) -> Family:
    """The family of that name, or a one-line error listing the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def make_voice(model: StepModel, sampler: Sampler, limits: Limits | None = None,
               window_tokens: int = WINDOW_TOKENS) -> Voice:
    """The voice for a loaded model, chosen by the family its metadata names."""
    known = FAMILIES.get(model.info.family)
    if known is None:
        raise ModelError(f"{model.path}: no voice for the {model.info.family!r} family (known: "
                         f"{', '.join(FAMILIES)})")
    if known.encoding != model.info.encoding:
        raise ModelError(f"{model.path}: the {known.name} family speaks {known.encoding}, not {model.info.encoding}")
    return known.voice(model, sampler, limits or Limits(), window_tokens)
