"""Continuing the music: sample tokens from a model state and read them back as timed key events.

Used by both the live engine and offline `duetto generate`, so a continuation sounds the same either way.
Sampling is masked to what can make sense at each moment: no release of a silent key, no strike of a
sounding one, nothing outside the register or (when locked) the scale, no more than `max_polyphony` keys
at once (fewer when the answer's texture is a line or a few voices). A note held past `max_note_seconds`
is released by feeding the model its note-off, so the model knows it happened.

An answer "in kind" (`AnswerKind`) also opens with its conditioning tokens (for models that read them), leans
towards the notes of a key, and steers its strikes towards a pace. A transformer's cache holds a bounded
number of steps: when an answer runs out of room, a fresh cache is primed from the recent window (what
was heard, then what was said) and the answer goes on, so every continuation has the length asked for.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from duetto.encodings import events as encoding
from duetto.encodings.events import EventReader
from duetto.model.rolling_state import RESTART_SHARE, share
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent
from duetto.voices.base import AnswerKind
from duetto.voices.common import answer_limits, key_lean
from duetto.voices.limits import Limits

PACE_GAIN = 0.5  # nats added to every strike per note the answer is behind its pace (taken when ahead)
PACE_MOST = 3.0  # the pace's pull is at most this many nats either way


@dataclass
class Start:
    """Where a continuation starts: the next-token logits and state after what was heard, how many more
    steps the state holds (None: no bound), and the recent tokens a fresh state would be primed from."""

    logits: np.ndarray
    state: list[np.ndarray]
    room: int | None = None
    recent: Sequence[int] = field(default_factory=list)


class Improviser:
    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits | None = None) -> None:
        self.model = model
        self.sampler = sampler
        self.limits = limits or Limits()
        self.vocab_size = model.info.vocab_size
        self.hears_conditioning = self.vocab_size > encoding.STYLE  # version 2 of the encoding and later
        self._masks: dict[tuple, np.ndarray] = {}  # base masks by (lowest, highest, pitch classes)
        # a key stays down at least `min_note_seconds` (and always at least one step, as in training data)
        self._shortest = max(1, encoding.to_step(self.limits.min_note_seconds))
        self._longest = encoding.to_step(self.limits.max_note_seconds)

    def _base_mask_for(self, limits: Limits) -> np.ndarray:
        """Tokens never allowed under `limits`: specials, conditioning, and strikes outside the register
        or scale."""
        key = (limits.lowest, limits.highest, limits.pitch_classes)
        if key not in self._masks:
            mask = np.ones(self.vocab_size, dtype=bool)
            mask[[encoding.PAD, encoding.START]] = False
            mask[encoding.STYLE:] = False  # conditioning is the caller's to say, never the model's
            outside = [p for p in range(encoding.PITCHES) if not limits.lowest <= p <= limits.highest
                       or (limits.pitch_classes is not None and p % 12 not in limits.pitch_classes)]
            mask[[encoding.NOTE_ON + p for p in outside]] = False
            self._masks[key] = mask
        return self._masks[key]

    def allowed(self, sounding: dict[int, int], step: int, may_wait: bool = True,
                limits: Limits | None = None) -> np.ndarray:
        """Tokens that make sense now. `sounding` maps held pitches to their onset step; `step` is now;
        `limits` are the answer's (its kind's register and polyphony: `answer_limits`), else the voice's."""
        limits = limits or self.limits
        mask = self._base_mask_for(limits).copy()
        mask[encoding.NOTE_OFF:encoding.TIME_SHIFT] = False
        mask[[encoding.NOTE_OFF + p for p, onset in sounding.items() if step - onset >= self._shortest]] = True
        mask[[encoding.NOTE_ON + p for p in sounding]] = False
        if len(sounding) >= limits.max_polyphony:
            mask[encoding.NOTE_ON:encoding.NOTE_OFF] = False
        if not may_wait:
            mask[encoding.TIME_SHIFT:encoding.VELOCITY] = False
        elif sounding:  # wait no longer than the longest-held key may still sound
            remaining = self._longest - (step - min(sounding.values()))
            mask[encoding.TIME_SHIFT + max(1, remaining):encoding.VELOCITY] = False
        return mask

    def _overdue(self, reader: EventReader) -> int | None:
        for pitch, onset in reader.sounding.items():
            if reader.step - onset >= self._longest:
                return encoding.NOTE_OFF + pitch
        return None

    def continue_from(
        self,
        start: Start,
        seconds: float,
        trim_leading_silence: bool = True,
        should_stop: Callable[[], bool] = lambda: False,
        kind: AnswerKind | None = None,
    ) -> Iterator[KeyEvent]:
        """Key events of a continuation, timed from its start (or from its first note when trimming).

        After `seconds` of music whatever still sounds is released, so every key-down has its key-up.
        When `should_stop()` says so it returns at once, and the caller releases what it scheduled.
        """
        kind = kind or AnswerKind()
        logits, state, room = start.logits, start.state, start.room
        recent: deque[int] = deque(start.recent, maxlen=max(1, share(self.model.info.max_steps or 2, RESTART_SHARE)))
        if self.hears_conditioning:
            for token in encoding.conditioning(kind.style, kind.texture):
                logits, state, room = self._advance(token, state, room, recent)
        reader = EventReader()
        origin = None if trim_leading_silence else 0.0
        bias = self._bias(kind)
        limits = answer_limits(self.limits, kind)  # once an answer: read afresh for every one, as CCs move them
        struck = 0
        for _ in range(int(seconds / encoding.STEP_SECONDS) * 4 + 64):
            if should_stop():
                return  # the caller is abandoning the answer and releases what it scheduled
            token = self._overdue(reader)
            if token is None:
                # leading silence would be trimmed anyway: ask for the first note straight away
                allowed = self.allowed(reader.sounding, reader.step, origin is not None, limits)
                elapsed = 0.0 if origin is None else reader.seconds - origin
                token = self.sampler.sample(logits + bias + self._pace_pull(kind, struck, elapsed), allowed)
            for event in reader.read(token):
                if origin is None:
                    origin = event.seconds
                struck += event.velocity > 0
                yield KeyEvent(event.seconds - origin, event.pitch, event.velocity)
            if origin is not None and reader.seconds - origin >= seconds:
                break
            logits, state, room = self._advance(token, state, room, recent)
        if origin is not None:
            release_at = min(seconds, reader.seconds - origin + encoding.STEP_SECONDS)
            for event in reader.release_all():
                yield KeyEvent(release_at, event.pitch, 0)

    def _advance(self, token: int, state: list[np.ndarray], room: int | None,
                 recent: deque[int]) -> tuple[np.ndarray, list[np.ndarray], int | None]:
        """Feed one token; a state with no room left is first replaced by one primed from `recent`."""
        if room is not None and room <= 0:
            logits, state = self.model.step(encoding.START, self.model.initial_state())
            for earlier in recent:
                logits, state = self.model.step(earlier, state)
            room = self.model.info.max_steps - 1 - len(recent)
        recent.append(token)
        logits, state = self.model.step(token, state)
        return logits, state, None if room is None else room - 1

    def _bias(self, kind: AnswerKind) -> np.ndarray | float:
        """What is added to the logits throughout: density, and the lean towards the key."""
        if self.limits.density == 1 and kind.key is None:
            return 0.0
        bias = np.zeros(self.vocab_size, dtype=np.float32)
        bias[encoding.NOTE_ON:encoding.NOTE_OFF] = np.log(max(self.limits.density, 1e-3)) + key_lean(
            kind, encoding.PITCHES)
        return bias

    def _pace_pull(self, kind: AnswerKind, struck: int, elapsed: float) -> np.ndarray | float:
        """More strikes when the answer falls behind its pace, fewer when it runs ahead."""
        if kind.pace is None or elapsed <= 0:
            return 0.0
        behind = kind.pace * elapsed - struck
        pull = np.zeros(self.vocab_size, dtype=np.float32)
        pull[encoding.NOTE_ON:encoding.NOTE_OFF] = float(np.clip(PACE_GAIN * behind, -PACE_MOST, PACE_MOST))
        return pull
