"""The biaxial LSTM on the classic polyphonic benchmark's roll: one frame per quarter note, 88 keys.

The roll of the JSB Chorales benchmark (Boulanger-Lewandowski et al., 2012): the 88 piano keys A0..C8
sampled once per beat, a key on in a frame when a note sounds at the beat, with no articulation (a held
note and a repeated one look alike) and passing notes between beats left out. Its nats per frame are the
benchmark's unit, so this family scores the biaxial network where published figures can be read beside
it; `biaxial` is the one played live.
"""

from __future__ import annotations

from dataclasses import dataclass

from duetto.train.families import biaxial
from duetto.train.families.biaxial import UNIT, StepGraph, loss  # noqa: F401 - shared parts
from duetto.train.families.roll_data import RollWindows

FAMILY = "biaxial_quarter"


@dataclass
class Config(biaxial.Config):
    steps_per_beat: int = 1
    lowest: int = 21  # A0
    num_keys: int = 88  # up to C8
    articulation: bool = False
    keep_short_notes: bool = False


def windows(data_dir: str, split: str, seq_len: int, train: bool) -> RollWindows:
    """Windows of `seq_len` quarter-note frames; training windows are randomly transposed."""
    return RollWindows(data_dir, split, seq_len, Config().grid, transpose=train)


def build(config: dict | None = None) -> biaxial.Biaxial:
    return biaxial.build_on_grid(Config, config)
