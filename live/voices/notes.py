"""The notes voice: a model that reads and writes whole notes (pitch, step since the previous onset,
duration) hears everything played and answers polyphonically, with its own timing.

A note is fed once its duration is known, at its release, and notes are fed in onset order (a held note
holds back those struck after it), so the model hears notes exactly as it learned them. When an answer
is due, notes still held are fed to a copy of the state with the duration they have so far.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterator

import numpy as np

from duetto.encodings.note_level import PITCHES, START
from duetto.model.rolling_state import RollingState, RollingVoice
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent
from duetto.voices.base import InSeconds, AnswerKind
from duetto.voices.common import Phrase, Touch, answer_limits, key_lean, playable_pitches
from duetto.voices.limits import Limits

SHORTEST_STEP_SECONDS = 0.01  # once a chord is full, the next note waits at least this long


class TimeDecoder:
    """How the model's step and duration outputs become seconds, as its metadata says: a bin drawn by
    the sampler and read as the bin's representative value, or (the MSE-trained variant) the mean."""

    def __init__(self, extra: dict) -> None:
        self.scheme = extra["timing"]  # "bins" or the mean
        self.bin_seconds = np.asarray(extra.get("bin_seconds", []), dtype=np.float64)

    def seconds(self, output: np.ndarray, sampler: Sampler, least: float = 0.0) -> float:
        """A value of at least `least` seconds from one output row."""
        if self.scheme == "bins":
            return float(self.bin_seconds[sampler.sample(output, self.bin_seconds >= least)])
        return max(least, float(output[0]))


def note_feeds(pitch: int, step: float, duration: float) -> dict[str, np.ndarray]:
    return {"pitch": np.array([pitch], dtype=np.int64), "step": np.array([step], dtype=np.float32),
            "duration": np.array([duration], dtype=np.float32)}


class NotesVoice(RollingVoice, InSeconds):
    """Hears every note (the player's and its own), answers with notes whose pitch, onset and length the
    model draws; the answer's first note starts it at once."""

    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int) -> None:
        self.model = model
        self.sampler = sampler
        self.limits = limits
        self.timing = TimeDecoder(model.info.extra)
        self.touch = Touch()
        self.pending: deque[list] = deque()  # [onset, pitch, release or None], in onset order
        self.previous_onset: float | None = None  # of the last note fed
        self.latest = 0.0  # the latest time heard
        self.rolling = RollingState(model, note_feeds(START, 0.0, 0.0), window_tokens)

    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        self.latest = max(self.latest, seconds)
        for note in self.pending:
            if note[1] == pitch and note[2] is None:
                note[2] = seconds  # its release, or a strike again that ends it
        if velocity > 0:
            self.touch.strike(velocity)
            self.pending.append([seconds, pitch, None])
        while self.pending and self.pending[0][2] is not None:
            onset, pitch, release = self.pending.popleft()
            self.rolling.step(self._feeds(onset, pitch, release, self.previous_onset))
            self.previous_onset = onset

    @staticmethod
    def _feeds(onset: float, pitch: int, release: float, previous_onset: float | None) -> dict[str, np.ndarray]:
        step = 0.0 if previous_onset is None else onset - previous_onset
        return note_feeds(pitch, step, max(release - onset, SHORTEST_STEP_SECONDS))

    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        outputs, state = self.rolling.snapshot()
        previous = self.previous_onset
        for onset, pitch, release in self.pending:  # still sounding: heard as long as they have lasted
            release = self.latest if release is None else release
            outputs, state = self.model.run(self._feeds(onset, pitch, release, previous), state)
            previous = onset
        kind = kind or AnswerKind()
        return self._play(outputs, state, seconds, answer_limits(self.limits, kind), key_lean(kind, PITCHES),
                          should_stop)

    def _play(self, outputs: list[np.ndarray], state: list[np.ndarray], seconds: float, limits: Limits,
              lean: np.ndarray, should_stop: Callable[[], bool]) -> Iterator[KeyEvent]:
        """The answer within `limits` (the kind's register and polyphony), pitches leaning by `lean`; its
        timing is the model's own."""
        phrase = Phrase(limits, seconds)
        playable = playable_pitches(limits, PITCHES)
        chord_room = min(limits.max_polyphony, int(playable.sum()))
        velocity = self.touch.velocity
        onset, struck_now = 0.0, np.zeros(PITCHES, dtype=bool)  # pitches struck at this onset
        first = True
        while True:
            if should_stop():
                return  # the caller abandons the answer and releases what it scheduled
            pitch_logits, step_out, duration_out = (output[0] for output in outputs)
            least = SHORTEST_STEP_SECONDS if struck_now.sum() >= chord_room else 0.0
            step = self.timing.seconds(step_out, self.sampler, least)
            duration = self.timing.seconds(duration_out, self.sampler, SHORTEST_STEP_SECONDS)
            if not first and step > 0:
                onset += step
                struck_now[:] = False
            if not phrase.fits(onset):
                break
            pitch = self.sampler.sample(pitch_logits + lean, playable & ~struck_now)
            struck_now[pitch] = True
            first = False
            yield from phrase.strike(onset, pitch, velocity, duration)
            duration = min(duration, limits.max_note_seconds)
            outputs, state = self.model.run(note_feeds(pitch, step, duration), state)
        yield from phrase.release_all()
