"""The voice of models over a piano roll on a beat grid (encoding "duetto-roll"): the biaxial family.

It hears key events, lays them on a grid of frames (1/steps_per_beat of a beat each, at a tempo it holds:
`seconds_per_beat`, from the model's training tempo until something sets it, such as a tempo tracker), and
feeds the model each frame once the frame can no longer change: once an event at or past the frame's
next grid point has been heard. Feeding a frame is one model step per key (the step graph advances one
key's time-axis state at a time), done in slices between notes (`prime_some`) and caught up before an
answer. An answer continues from a copy of that state frame by frame: each frame's keys are drawn low to
high, each draw seen by the next key's step, then turned into timed key events at the frame's grid time.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from duetto.encodings import roll
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent
from duetto.voices.base import InSeconds, AnswerKind
from duetto.voices.common import answer_limits, key_lean, playable_pitches
from duetto.voices.limits import Limits

CONTEXT_FRAMES = 64  # the span of the live model's training windows (4 bars of 16ths)
LONGEST_REST_BARS = 2  # a longer silence is heard as this long (whole bars skipped, the beat kept)
FIRST_FRAME_TRIES = 8  # times an answer's opening frame is drawn again while it comes out silent
DEFAULT_VELOCITY = 72


class RollVoice(InSeconds):
    """For models over a piano roll. `window_tokens` sizes an event-stream context and means nothing to a
    roll: the time-axis state is recurrent and carried along frame by frame."""


    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int = 0) -> None:
        extra = model.info.extra
        self.model = model
        self.sampler = sampler
        self.limits = limits
        self.lowest, self.keys = int(extra["lowest"]), int(extra["num_keys"])
        self.steps_per_beat = int(extra["steps_per_beat"])
        self.articulation = bool(extra["articulation"])
        self.keep_short = bool(extra["keep_short_notes"])  # as training rolls did (roll.note_frames)
        self._seconds_per_frame = float(extra["seconds_per_beat"]) / self.steps_per_beat
        self._anchor = (0, 0.0)  # (frame, seconds): the grid is anchored here, frames a fixed time apart
        self.main = Feeder(model, 0, np.zeros((self.keys, 2), dtype=np.float32))
        self.fresh: Feeder | None = None  # a state started afresh from the recent frames, to take over
        self.recent: dict[int, np.ndarray] = {}  # frame -> what was heard, for the last CONTEXT_FRAMES + 1
        self.final = 0  # frames before this can no longer change
        self.held: dict[int, int] = {}  # key index -> onset frame, keys down now
        self.spans: list[tuple[int, int, int]] = []  # (key, first, stop) released notes not yet fed past
        self.last_heard = 0.0
        self.velocity = DEFAULT_VELOCITY

    # -- the grid ------------------------------------------------------------------------------------
    @property
    def seconds_per_beat(self) -> float:
        return self._seconds_per_frame * self.steps_per_beat

    @seconds_per_beat.setter
    def seconds_per_beat(self, value: float) -> None:
        """A new tempo from the next unsettled frame on; frames already settled keep their times."""
        if not 0 < value < math.inf:
            raise ValueError(f"seconds per beat must be a positive number, got {value}")
        self._anchor = (self.final, self.frame_seconds(self.final))
        self._seconds_per_frame = value / self.steps_per_beat

    @property
    def seconds_per_frame(self) -> float:
        return self._seconds_per_frame

    def frame_seconds(self, frame: int) -> float:
        """The grid time of a frame on the session clock."""
        anchor_frame, anchor_seconds = self._anchor
        return anchor_seconds + (frame - anchor_frame) * self._seconds_per_frame

    def frame_at(self, seconds: float) -> int:
        """The frame whose grid point is nearest to `seconds`."""
        anchor_frame, anchor_seconds = self._anchor
        return anchor_frame + roll.grid_index(seconds - anchor_seconds, self._seconds_per_frame)

    # -- hearing -------------------------------------------------------------------------------------
    def hear(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key went down (velocity > 0) or up (velocity 0) at `seconds` on the session clock. Keys
        outside the model's range are not heard."""
        self._shorten_rest(seconds)
        frame = max(self.frame_at(seconds), self.final)
        key = pitch - self.lowest
        if 0 <= key < self.keys:
            onset = self.held.pop(key, None)
            if onset is not None:  # a release, or a re-strike that ends the sounding note first
                stop = max(frame, onset + 1) if self.keep_short else frame
                if stop > onset:
                    self.spans.append((key, onset, stop))
            if velocity > 0:
                self.held[key] = frame
                self.velocity = velocity
        self.final = frame
        self.last_heard = max(self.last_heard, seconds)

    def _shorten_rest(self, seconds: float) -> None:
        """After a silence longer than LONGEST_REST_BARS, move the grid on by whole bars, so an hour away
        costs a few frames of silence, not tens of thousands."""
        if self.held:
            return
        bar = self.steps_per_beat * roll.BEATS_PER_BAR
        silent = self.frame_at(seconds) - max(self.final, max((stop for _, _, stop in self.spans), default=0))
        skip = (silent - LONGEST_REST_BARS * bar) // bar * bar
        if skip > 0:
            anchor_frame, anchor_seconds = self._anchor
            self._anchor = (anchor_frame, anchor_seconds + skip * self._seconds_per_frame)

    def heard_frame(self, frame: int) -> np.ndarray:
        """float32 [keys, 2]: what was heard in a frame (held keys count as sounding on)."""
        content = np.zeros((self.keys, 2), dtype=np.float32)
        for key, first, stop in self.spans:
            if first <= frame < stop:
                content[key, roll.PLAY] = 1
                content[key, roll.ARTICULATE] = max(content[key, roll.ARTICULATE], first == frame)
        for key, onset in self.held.items():
            if onset <= frame:
                content[key, roll.PLAY] = 1
                content[key, roll.ARTICULATE] = max(content[key, roll.ARTICULATE], onset == frame)
        if not self.articulation:
            content[:, roll.ARTICULATE] = 0
        return content

    @property
    def priming(self) -> bool:
        """Whether settled frames wait to be fed, or a fresh state to catch up."""
        return self.main.fed < self.final or self.fresh is not None

    def close(self) -> None:
        """Nothing runs in the background here: frames are fed in slices on the caller's thread."""

    def prime_some(self, budget: int) -> None:
        """Feed up to `budget` key steps: settled frames first, then a fresh state's catching up.

        Training windows start from a zero state and span CONTEXT_FRAMES, so a state that has run for
        hours is outside what the model learnt. Once the state has heard 2 x CONTEXT_FRAMES, a fresh one
        starts CONTEXT_FRAMES back, hears them (in the slices left over), and takes over once level.
        """
        while budget > 0 and self.main.fed < self.final:
            frame = self.main.fed
            budget = self.main.feed(self.heard_frame(frame), budget)
            if self.main.fed > frame:
                self._settled(frame)
        while budget > 0 and self.fresh is not None:
            if self.fresh.fed == self.main.fed:  # level, both between frames: the fresh state takes over
                self.main, self.fresh = self.fresh, None
                self._forget()
                break
            budget = self.fresh.feed(self.recent[self.fresh.fed], budget)

    def _settled(self, frame: int) -> None:
        """The main state has heard `frame`: keep it for a fresh state, forget what no one needs."""
        self.recent[frame] = self.main.previous
        self.spans = [span for span in self.spans if span[2] > self.main.fed]
        if self.fresh is None and self.main.fed - self.main.started >= 2 * CONTEXT_FRAMES:
            start = self.main.fed - CONTEXT_FRAMES
            self.fresh = Feeder(self.model, start, self.recent[start - 1])
        self._forget()

    def _forget(self) -> None:
        """Drop the recent frames no fresh state will need: those before the frame before its start."""
        keep_from = self.fresh.fed if self.fresh is not None else self.main.fed - CONTEXT_FRAMES
        for old in [old for old in self.recent if old < keep_from - 1]:
            del self.recent[old]

    # -- answering -----------------------------------------------------------------------------------
    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        """Key events continuing what was heard, timed from the last event heard (or from the answer's
        first note when trimming); frames are drawn from the first grid point at or after that event."""
        self.prime_some(self.keys * (self.final - self.main.fed) - self.main.key)  # the settled frames, no more
        feeder = self.main.copy()
        start = self.frame_at(self.last_heard)
        start += self.frame_seconds(start) < self.last_heard - 1e-9
        while feeder.fed < start:  # the frame at most between the settled ones and the answer: as heard
            feeder.feed(self.heard_frame(feeder.fed), self.keys)
        yield from Answer(self, feeder, seconds, should_stop, trim_leading_silence, kind or AnswerKind()).events()


class Feeder:
    """A model state hearing frames one key step at a time: the frame and key it is at, the frame before."""

    def __init__(self, model: StepModel, start: int, previous: np.ndarray) -> None:
        self.model = model
        self.state = model.initial_state()
        self.started = self.fed = start  # the next frame to feed
        self.key = 0  # the next key to feed within it
        self.previous = previous

    def copy(self) -> "Feeder":
        twin = Feeder.__new__(Feeder)
        twin.__dict__.update(self.__dict__, state=[part.copy() for part in self.state])
        return twin

    def step(self, lower: np.ndarray) -> np.ndarray:
        """One key of frame `fed`, given what the key below did: the logits [2] of play and articulate.
        The state moves on; the frame does not (see `feed` and `finish`)."""
        (logits,), self.state = self.model.run({
            "prev_frame": self.previous[None], "beat": np.array([self.fed], dtype=np.int64),
            "lower": lower[None].astype(np.float32, copy=False)}, self.state)
        self.key += 1
        return logits[0]

    def finish(self, content: np.ndarray) -> None:
        """Frame `fed` is complete with this content: on to the next."""
        self.previous, self.fed, self.key = content, self.fed + 1, 0

    def feed(self, content: np.ndarray, budget: int) -> int:
        """Hear up to `budget` keys of frame `fed` (what it holds: `content`); returns the budget left."""
        while budget > 0 and self.key < len(content):
            self.step(content[self.key - 1] if self.key else np.zeros(2, dtype=np.float32))
            budget -= 1
        if self.key == len(content):
            self.finish(content)
        return budget


class Answer:
    """One continuation, frame by frame, from a copy of the voice's state."""

    def __init__(self, voice: RollVoice, feeder: Feeder, seconds: float, should_stop: Callable[[], bool],
                 trim: bool, kind: AnswerKind) -> None:
        self.voice, self.feeder = voice, feeder
        self.seconds, self.should_stop = seconds, should_stop
        self.origin = None if trim else voice.last_heard
        self.sounding: dict[int, float] = {}  # key -> onset seconds (session clock), the answer's own
        self.limits = answer_limits(voice.limits, kind)  # the kind's register and texture's polyphony
        pitches = np.arange(voice.keys) + voice.lowest
        self.in_register = playable_pitches(self.limits, 128)[pitches]  # the register, and the key when locked
        self.lean = key_lean(kind, 128)[pitches]  # off the kind's key

    def events(self) -> Iterator[KeyEvent]:
        tries = 0
        while True:
            if self.should_stop():
                return  # the caller is abandoning the answer and releases what it scheduled
            at = self.voice.frame_seconds(self.feeder.fed)
            if self.origin is not None and at - self.origin >= self.seconds:
                break
            drawn, content = self.draw_frame(at)
            if self.origin is None and not content[:, roll.PLAY].any() and tries < FIRST_FRAME_TRIES:
                tries += 1  # leading silence would be trimmed anyway: draw the opening frame again
                continue
            if self.origin is None and content[:, roll.PLAY].any():
                self.origin = at
            yield from self.key_events(content, at)
            drawn.finish(content)
            self.feeder, tries = drawn, 0
            if self.origin is None and at - self.voice.last_heard >= self.seconds:
                return  # nothing to say
        for key in sorted(self.sounding):
            yield KeyEvent(self.seconds, key + self.voice.lowest, 0)

    def draw_frame(self, at: float) -> tuple[Feeder, np.ndarray]:
        """One frame drawn key by key, low to high, within the limits, on a copy of the state (so it can
        be drawn again); returns that copy, which has heard all but the frame's finish, and the frame."""
        voice, limits = self.voice, self.limits
        feeder = self.feeder.copy()
        content = np.zeros((voice.keys, 2), dtype=np.float32)
        next_at = at + voice.seconds_per_frame
        for key in range(voice.keys):
            logits = feeder.step(content[key - 1] if key else np.zeros(2, np.float32))
            onset = self.sounding.get(key)
            if onset is not None and at - onset < limits.min_note_seconds:
                play, strike = True, False  # too short yet to let go
            elif not self.in_register[key] or (onset is not None and next_at - onset > limits.max_note_seconds) \
                    or content[:, roll.PLAY].sum() >= limits.max_polyphony:
                play = strike = False
            else:
                play = self._draw(logits[roll.PLAY] + self.lean[key])
                strike = play and (onset is None or (voice.articulation and self._draw(logits[roll.ARTICULATE])))
            content[key] = (play, strike)
        return feeder, content

    def _draw(self, logit: float) -> bool:
        """A yes/no draw at the sampler's temperature (0: the likelier answer), from its seeded generator.
        Top-p is left out: it would cut every onset the model gives less than 1 - top_p, and at 16 frames a
        bar an onset is rare at any one key, so nucleus sampling per key would silence the music."""
        temperature = self.voice.sampler.temperature
        if temperature == 0:
            return logit > 0
        return self.voice.sampler.rng.random() < 1.0 / (1.0 + math.exp(-logit / temperature))

    def key_events(self, content: np.ndarray, at: float) -> Iterator[KeyEvent]:
        """The frame's releases, then its strikes, at its grid time relative to the answer's origin."""
        origin = self.origin if self.origin is not None else at
        for key in sorted(self.sounding):
            if not content[key, roll.PLAY] or content[key, roll.ARTICULATE]:
                del self.sounding[key]
                yield KeyEvent(at - origin, key + self.voice.lowest, 0)
        for key in np.flatnonzero(content[:, roll.ARTICULATE]):
            self.sounding[int(key)] = at
            yield KeyEvent(at - origin, int(key) + self.voice.lowest, self.voice.velocity)
