"""What the bot may play, whatever the family: register, polyphony, note lengths, scale, density.

One `Limits` is shared by the voice and whoever set it up (the command line, the jam's settings, whose
CCs move it) and read afresh for every answer, so register, scale and density can change between answers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    lowest: int = 21
    highest: int = 108
    max_polyphony: int = 6
    max_note_seconds: float = 3.0
    min_note_seconds: float = 0.06  # shorter notes are clicks, not music: the model may not release sooner
    pitch_classes: frozenset[int] | None = None  # scale lock: only these pitch classes (0 = C); None: all
    density: float = 1.0  # odds of striking a key are multiplied by this (below 1: sparser, above: busier)
