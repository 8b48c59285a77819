"""`duetto jam --prompt FILE.mid`: a piece the bot hears before the first key, so its first answer continues
the piece and the player's phrase rather than starting cold.

The file is read as `duetto generate` reads a prompt (duetto.offline.generate: the same errors, the tail
that fits in the model's window, the timeline its notes fit); this module holds what the engine needs of
it, on a clock of its own that ends where the session begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from duetto.encodings.events import key_events
from duetto.music.notes import Note
from duetto.music.timeline import Timeline
from duetto.voices.base import Voice


@dataclass(frozen=True)
class Prompt:
    """The notes heard of a piece, timed from the first of them, and the timeline they were played to,
    timed the same way."""

    notes: tuple[Note, ...]
    timeline: Timeline

    @classmethod
    def of(cls, heard: Sequence[Note], timeline: Timeline) -> Prompt:
        """From the tail of a piece (`prompt_tail`) and its timeline, both timed from the piece's start."""
        first = min(note.start for note in heard)
        return cls(tuple(Note(note.start - first, note.end - first, note.pitch, note.velocity) for note in heard),
                   timeline.shifted(-first))

    @property
    def seconds(self) -> float:
        """How long the heard part lasts, to its last release: the session begins where it ends."""
        return max(note.end for note in self.notes)

    @property
    def bpm(self) -> float:
        """Its tempo where it ends: the jam's tempo until a clock, Link or the player says otherwise."""
        return self.timeline.bpm_at(self.seconds)

    def play_to(self, voice: Voice) -> None:
        """Let `voice` hear the piece, on its beats, as if it had just been played."""
        voice.keep_time(self.timeline)
        for event in key_events(self.notes):
            voice.hear(event.seconds, event.pitch, event.velocity)
