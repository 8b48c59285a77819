"""What every source of training music yields: pieces (notes with a stable identity and a style), and the
items that did not become one (`Skipped`, with a one-line reason, for the manifest to report).

The styles live here, in one ordered list: a style's place in it is its index in the shards, so the list
only ever grows at its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from duetto.music.notes import Note
from duetto.music.timeline import Timeline

# The built-in styles, in index order. "chorale": Bach's four-part chorales; "folk": the folk-tune
# collections (ABC); "renaissance": polyphony before 1600 (Palestrina, Josquin, Monteverdi, the trecento);
# "classical": baroque to romantic art music; "user": a folder of MIDI files given without --style.
# The band styles, rendered by MMA (train.data.accompaniment): what players bring to a jam.
BAND_STYLES = ("swing", "blues", "bossa", "latin", "rock", "ballad", "waltz", "country", "funk", "march")
STYLES = ("chorale", "folk", "renaissance", "classical", "user", *BAND_STYLES)
FOLDER_STYLE = "user"
STYLE_NAME = re.compile(r"[a-z]+(-[a-z]+)*")

SECONDS_PER_QUARTER = 0.6  # a score without a tempo plays at 100 BPM (the chorales carry none)


@dataclass
class Piece:
    """One piece of music: `id` is its stable identity, `name` is for people reading reports.

    `seconds_per_beat` is the quarter note the notes were rendered at, when the source knows it; None
    means the default of its kind: SECONDS_PER_QUARTER for a music21 score, unknown for a MIDI file (whose
    notes arrive in seconds without their tempo map).

    `timeline` is where its beats and bars fall, when the source says (a score's tempo marks and time
    signatures, a MIDI file's tempo map and meters); each note's channel numbers its part, unless `parts`
    labels each note outright.
    """

    id: str
    name: str
    notes: list[Note]
    style: str = FOLDER_STYLE
    seconds_per_beat: float | None = None
    timeline: Timeline | None = None
    beat_estimated: bool = False  # its timeline was estimated from its onsets (the file's did not fit them)
    parts: list[int] | None = None  # each note's part (duetto.music.parts), where the source labels them


@dataclass
class Skipped:
    """An item of a source that did not become a piece, and why."""

    name: str
    reason: str


def check_style(name: str) -> str:
    """A style name as given, or a one-line ValueError: names are lowercase words, so reports and
    manifests stay readable and one style is never two ("Folk" and "folk")."""
    if not STYLE_NAME.fullmatch(name):
        raise ValueError(f"--style {name!r}: a style is lowercase letters, words joined by '-' "
                         f"(e.g. 'jazz' or 'film-music'); the built-in ones are {', '.join(STYLES)}")
    return name


def style_names(extra: Sequence[str] = ()) -> list[str]:
    """The styles of a dataset in index order: the built-in ones, then any new name in the order given."""
    return list(dict.fromkeys([*STYLES, *extra]))
