"""The melody voice: a monophonic pitch model hears the top line of what is played and answers with a
line of its own, in the tempo it heard.

`MelodyLine` reduces polyphonic key events to a melody (the highest sounding note) the same way for
training data and live input, so the model hears live exactly what it learned from.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from duetto.encodings.note_level import PITCHES, START
from duetto.model.rolling_state import RollingState, RollingVoice
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import CHORD_SECONDS, KeyEvent
from duetto.voices.base import InSeconds, AnswerKind
from duetto.voices.common import Phrase, Touch, answer_limits, key_lean, playable_pitches
from duetto.voices.limits import Limits

# key-downs this close to a group's first one are struck together (a chord, or a player's spread of it)


class MelodyLine:
    """Key events in, melody onsets out: the top note of each group of notes struck together, unless a
    higher key struck earlier still sounds over it.

    Whether a group starts a melody note is known once its chord window has passed (a higher chord tone
    may still come, a sounding higher key may just be letting go, as in legato playing), so `hear`
    returns the onsets the event at hand settles, and `flush` settles the open group at once.
    """

    def __init__(self, chord_seconds: float = CHORD_SECONDS) -> None:
        self.chord_seconds = chord_seconds
        self.held: set[int] = set()
        self._group: tuple[float, int] | None = None  # (onset, top pitch) of the open group
        self._over: set[int] = set()  # keys held from before the group and not yet let go

    def hear(self, seconds: float, pitch: int, velocity: int) -> list[tuple[float, int]]:
        settled = self.flush() if self._group and seconds > self._group[0] + self.chord_seconds else []
        if velocity > 0:
            if self._group is None:
                self._group = (seconds, pitch)
                self._over = set(self.held)
            elif pitch > self._group[1]:
                self._group = (self._group[0], pitch)
            self._over.discard(pitch)  # a key struck again belongs to the group, not above it
            self.held.add(pitch)
        else:
            self.held.discard(pitch)
            self._over.discard(pitch)
        return settled

    def flush(self) -> list[tuple[float, int]]:
        """Settle the open group now: its (onset, pitch) if it is a melody note."""
        group, self._group = self._group, None
        if group is None or (self._over and max(self._over) > group[1]):
            return []
        return [group]


class MelodyVoice(RollingVoice, InSeconds):
    """Feeds each melody note to the model at its onset; answers with one note per typical inter-onset
    interval of the melody heard, each held until the next, at the velocity heard most recently.

    The answer never starts with silence (the model has no notion of time), so `trim_leading_silence`
    changes nothing here.
    """

    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int) -> None:
        self.model = model
        self.sampler = sampler
        self.limits = limits
        self.line = MelodyLine(model.info.extra.get("chord_seconds", CHORD_SECONDS))
        self.touch = Touch()
        self.rolling = RollingState(model, self._feeds(START), window_tokens)

    @staticmethod
    def _feeds(pitch: int) -> dict[str, np.ndarray]:
        return {"pitch": np.array([pitch], dtype=np.int64)}

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        if velocity > 0:
            self.touch.strike(velocity)
        self._take(self.line.hear(seconds, pitch, velocity))

    def _take(self, onsets: list[tuple[float, int]]) -> None:
        for seconds, pitch in onsets:
            self.touch.onset(seconds)
            self.rolling.step(self._feeds(pitch))

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        """A line at the pace heard, in the kind's register, leaning to its key (a line is its texture
        whatever is asked: one note at a time is all this model knows)."""
        self._take(self.line.flush())
        (logits,), state = self.rolling.snapshot()
        interval = max(self.touch.interval, self.limits.min_note_seconds)
        kind = kind or AnswerKind()
        return self._play(logits, state, seconds, interval, answer_limits(self.limits, kind), key_lean(kind, PITCHES),
                          should_stop)

    def _play(self, logits: np.ndarray, state: list[np.ndarray], seconds: float, interval: float,
              limits: Limits, lean: np.ndarray, should_stop: Callable[[], bool]) -> Iterator[KeyEvent]:
        phrase = Phrase(limits, seconds)
        playable = playable_pitches(limits, PITCHES)
        velocity = self.touch.velocity
        onset = 0.0
        while phrase.fits(onset):
            if should_stop():
                return  # the caller abandons the answer and releases what it scheduled
            pitch = self.sampler.sample(logits[0] + lean, playable)
            yield from phrase.strike(onset, pitch, velocity, interval)
            onset += interval
            if phrase.fits(onset):
                (logits,), state = self.model.run(self._feeds(pitch), state)
        yield from phrase.release_all()
