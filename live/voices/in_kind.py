"""Answers in kind: what the player's call is like, and what the answer should be like in turn.

Whoever hears the player (the engine thread, or `duetto generate` reading a prompt) feeds every note to a
`CallListener`; when the bot is about to answer, `kind()` says what to ask of the voice: the call's texture
(a line answers a line, chords answer chords) unless `--texture` names one, the style set with `--style`
(auto: none is said, and the model hears it in the music), the key (set, or heard), the call's register
and its pace.
"""

from __future__ import annotations

from collections import deque

from duetto.music.key import Key
from duetto.music.notes import Note
from duetto.music.texture import texture_of
from duetto.voices.base import AnswerKind

CALL_SECONDS = 8.0  # the call is at most this much of the player's latest playing
REGISTER_MARGIN = 7  # semitones the answer may stray beyond the call's lowest and highest notes
AUTO, FREE = "auto", "free"
TEXTURE_CHOICES = (AUTO, FREE, "line", "voices", "chords")


class CallListener:
    """The player's latest phrase (at most CALL_SECONDS of it), as notes. Engine thread only."""

    def __init__(self) -> None:
        self._notes: deque[Note] = deque()
        self._down: dict[int, tuple[float, int]] = {}  # pitch -> (onset, velocity)
        self._phrase_over = False

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        if velocity > 0:
            if self._phrase_over:  # the first key of a new phrase: the old call is answered
                self._notes.clear()
                self._phrase_over = False
            self._down[pitch] = (seconds, velocity)
        elif pitch in self._down:
            onset, struck = self._down.pop(pitch)
            self._notes.append(Note(onset, max(seconds, onset + 0.01), pitch, struck))
        while self._notes and self._notes[-1].end - self._notes[0].start > CALL_SECONDS:
            self._notes.popleft()

    def phrase_ended(self) -> None:
        self._phrase_over = True

    @property
    def notes(self) -> list[Note]:
        return list(self._notes)

    def answer_kind(self, texture: str, style: int | None, key: Key | None) -> AnswerKind:
        """What to ask of the voice: `texture` is a name, AUTO (the call's) or FREE (the model's choice)."""
        call = self.notes
        if texture == AUTO:
            texture = texture_of(call) if call else None
        elif texture == FREE:
            texture = None
        register = pace = None
        if call:
            pitches = [note.pitch for note in call]
            register = (min(pitches) - REGISTER_MARGIN, max(pitches) + REGISTER_MARGIN)
            span = call[-1].end - call[0].start
            pace = len(call) / span if span > 0 else None
        return AnswerKind(style=style, texture=texture, key=key, pace=pace, register=register)
