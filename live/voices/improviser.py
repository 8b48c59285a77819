"""Continuing the music: sample tokens from a model state and read them back as timed key events.

Used by both the live engine and offline `duetto generate`, so a continuation sounds the same either way.
Sampling is masked to what can make sense at each moment: no release of a silent key, no strike of a
sounding one, nothing outside the register or (when locked) the scale, no more than `max_polyphony` keys
at once. A note held past `max_note_seconds` is released by feeding the model its note-off, so the model
knows it happened. `Limits` is shared with whoever set it up and read afresh for every continuation, so
the engine can change register, scale and density between answers.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from duetto.encodings import events as encoding
from duetto.encodings.events import EventReader
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent
from duetto.voices.limits import Limits


class Improviser:
    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits | None = None) -> None:
        self.model = model
        self.sampler = sampler
        self.limits = limits or Limits()
        self._masks: dict[tuple, np.ndarray] = {}  # base masks by (lowest, highest, pitch classes)
        # a key stays down at least `min_note_seconds` (and always at least one step, as in training data)
        self._shortest = max(1, encoding.to_step(self.limits.min_note_seconds))
        self._longest = encoding.to_step(self.limits.max_note_seconds)

    def _base_mask_for(self, limits: Limits) -> np.ndarray:
        """Tokens never allowed under `limits`: specials, and strikes outside the register or scale."""
        key = (limits.lowest, limits.highest, limits.pitch_classes)
        if key not in self._masks:
            mask = np.ones(encoding.VOCAB_SIZE, dtype=bool)
            mask[[encoding.PAD, encoding.START]] = False
            outside = [p for p in range(encoding.PITCHES) if not limits.lowest <= p <= limits.highest
                       or (limits.pitch_classes is not None and p % 12 not in limits.pitch_classes)]
            mask[[encoding.NOTE_ON + p for p in outside]] = False
            self._masks[key] = mask
        return self._masks[key]

    def allowed(self, sounding: dict[int, int], step: int, may_wait: bool = True) -> np.ndarray:
        """Tokens that make sense now. `sounding` maps held pitches to their onset step; `step` is now."""
        mask = self._base_mask_for(self.limits).copy()
        mask[encoding.NOTE_OFF:encoding.TIME_SHIFT] = False
        mask[[encoding.NOTE_OFF + p for p, onset in sounding.items() if step - onset >= self._shortest]] = True
        mask[[encoding.NOTE_ON + p for p in sounding]] = False
        if len(sounding) >= self.limits.max_polyphony:
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
        logits: np.ndarray,
        state: list[np.ndarray],
        seconds: float,
        trim_leading_silence: bool = True,
        should_stop: Callable[[], bool] = lambda: False,
        room: int | None = None,
    ) -> Iterator[KeyEvent]:
        """Key events of a continuation, timed from its start (or from its first note when trimming).

        After `seconds` of music, or once the state has no `room` for more steps, whatever still sounds
        is released, so every key-down has its key-up. When `should_stop()` says so it returns at once,
        and the caller releases what it scheduled.
        """
        reader = EventReader()
        origin = None if trim_leading_silence else 0.0
        strike_bias = np.zeros(encoding.VOCAB_SIZE, dtype=np.float32)
        strike_bias[encoding.NOTE_ON:encoding.NOTE_OFF] = np.log(max(self.limits.density, 1e-3))
        max_tokens = int(seconds / encoding.STEP_SECONDS) * 4 + 64
        if room is not None:
            max_tokens = min(max_tokens, room)
        for _ in range(max_tokens):
            if should_stop():
                return  # the caller is abandoning the answer and releases what it scheduled
            token = self._overdue(reader)
            if token is None:
                # leading silence would be trimmed anyway: ask for the first note straight away
                allowed = self.allowed(reader.sounding, reader.step, may_wait=origin is not None)
                token = self.sampler.sample(logits + strike_bias if self.limits.density != 1 else logits, allowed)
            for event in reader.read(token):
                if origin is None:
                    origin = event.seconds
                yield KeyEvent(event.seconds - origin, event.pitch, event.velocity)
            if origin is not None and reader.seconds - origin >= seconds:
                break
            logits, state = self.model.step(token, state)
        if origin is not None:
            release_at = min(seconds, reader.seconds - origin + encoding.STEP_SECONDS)
            for event in reader.release_all():
                yield KeyEvent(release_at, event.pitch, 0)
