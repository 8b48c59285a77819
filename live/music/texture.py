"""Texture: how many voices the music moves in — a single line, a few voices, or chords.

Measured the way a listener counts: at each moment a key is struck (strikes within CHORD_SECONDS are one
moment), how many notes sound, held ones included (but not a legato overlap); `voices` is the mean of those
counts.
A melody is about 1, a two-part invention about 2, a four-part chorale about 4. Training data marks each
phrase with its texture, and an answer "in kind" asks for the texture of the call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from duetto.music.notes import CHORD_SECONDS, Note

LEGATO_SECONDS = 0.1  # a note held this little past the next strike is legato, not a second voice
TEXTURES = ("line", "voices", "chords")  # in order of thickness
LINE_MOST_VOICES = 1.3  # a line: mostly one note at a time (a few overlaps of legato playing)
VOICES_MOST_VOICES = 2.6  # two or three independent voices; thicker than this is chords
MOST_NOTES_AT_ONCE = {"line": 1, "voices": 3}  # the polyphony a texture allows; chords: the player's limit


def voices(notes: Sequence[Note]) -> float:
    """The mean number of notes sounding at the moments keys are struck (0.0 for no notes)."""
    if not notes:
        return 0.0
    starts = np.sort(np.array([note.start for note in notes]))
    ends = np.sort(np.array([note.end for note in notes]))
    moments = [starts[0]]
    for start in starts[1:]:
        if start - moments[-1] >= CHORD_SECONDS:
            moments.append(start)
    moments = np.array(moments)
    # sounding at a moment: struck by it (a chord's stragglers too), and not released in a legato overlap
    struck = np.searchsorted(starts, moments + CHORD_SECONDS, side="left")
    released = np.searchsorted(ends, moments + LEGATO_SECONDS, side="right")
    return float(np.mean(struck - released))


def texture_of(notes: Sequence[Note]) -> str | None:
    """The texture name for some notes ("line", "voices", "chords"), None for no notes."""
    if not notes:
        return None
    count = voices(notes)
    if count <= LINE_MOST_VOICES:
        return "line"
    return "voices" if count <= VOICES_MOST_VOICES else "chords"


def check_texture(name: str) -> str:
    """The name if it is a texture; a one-line ValueError listing them otherwise."""
    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}: use {', '.join(TEXTURES)}")
    return name
