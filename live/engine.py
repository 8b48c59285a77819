"""The live engine: call and response, with barge-in.

Threads and what each owns:
  * the port's callback thread only parses note messages and puts them in the inbox (`receive`);
  * the engine thread owns the voice (the model and what it heard) and the phrase logic: it feeds every note heard to the
    model as it arrives and, the moment all the player's keys are up, streams a sampled answer into the
    scheduler timed to begin when the phrase gap ends (withdrawn unheard if the player goes on);
  * the scheduler thread owns the output port and the sounding notes.
Notes the bot actually sent come back through the inbox, so the context hears the duet as it sounded.
A player's key-down while the bot is answering stops the answer and releases its notes at once.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from live.improviser import Limits
from live.model import StepModel
from live.ports import OutputPort
from live.recording import SessionRecording
from live.sampler import Sampler
from live.scheduler import Scheduler
from live.voice import make_voice

PLAYER, BOT = "player", "bot"
PRIME_SLICE_TOKENS = 8  # model steps taken for context priming between looks at the inbox (~2 ms)
# Key-downs waiting to be heard. Each costs a few model steps (about a millisecond), so a full inbox keeps
# the engine at most about a second behind the player; no human fills it, only a flood of messages does.
INBOX_LIMIT = 1_000
ALL_NOTES_OFF_CONTROLS = (120, 123)  # All Sound Off, All Notes Off


@dataclass
class JamSettings:
    phrase_gap: float = 0.6
    response_seconds: float = 4.0
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int | None = None
    channel: int = 0
    window_tokens: int = 512
    limits: Limits = field(default_factory=Limits)


@dataclass
class JamStats:
    notes_in: int = 0
    notes_out: int = 0
    answers: int = 0  # answers that began to sound
    barge_ins: int = 0
    dropped_messages: int = 0  # key-downs dropped because the inbox was full (their key-ups go with them)
    errors: int = 0


def parse_note(message: list[int]) -> tuple[int, int, int] | None:
    """(channel, pitch, velocity) for note messages, velocity 0 meaning release; None for the rest,
    including malformed notes (data bytes must be below 128, or a pitch would become another token)."""
    if len(message) != 3 or message[1] > 127 or message[2] > 127:
        return None
    kind, channel = message[0] & 0xF0, message[0] & 0x0F
    if kind == 0x90:
        return channel, message[1], message[2]
    if kind == 0x80:
        return channel, message[1], 0
    return None


class Engine:
    def __init__(self, model: StepModel, output: OutputPort, settings: JamSettings,
                 clock: Callable[[], float] = time.perf_counter, log: Callable[[str], None] | None = None,
                 recording: SessionRecording | None = None) -> None:
        self.settings = settings
        self.recording = recording
        self.stats = JamStats()
        self._clock = clock
        self._origin = clock()
        self._log = log or (lambda line: print(line, file=sys.stderr))
        self._inbox: queue.Queue = queue.Queue()  # bounded by `_admit`, not by the queue
        self._admitted_down: dict[str, set[tuple[int, int]]] = {PLAYER: set(), BOT: set()}
        self._latest_strike = -math.inf  # stamp of the player's latest key-down let into the inbox
        self._stopping = threading.Event()
        self._player_down: set[tuple[int, int]] = set()
        self._answer_starts = 0.0
        self._phrase_has_notes = False  # a stray key-up (say, of a key held before we started) is no phrase
        self._answer_sounded = True  # no answer pending yet
        self.voice = make_voice(model, Sampler(settings.temperature, settings.top_p, settings.seed),
                                settings.limits, settings.window_tokens)
        self.scheduler = Scheduler(output.send, clock, on_sent=self._bot_sent)
        self._thread = threading.Thread(target=self._run, name="duetto-engine", daemon=True)

    # -- the port's thread -------------------------------------------------------------------------
    def receive(self, message: list[int], stamp: float) -> None:
        """Port callback: parse and enqueue, nothing more.

        All Notes Off (or All Sound Off) from the player releases every key it holds on that channel: the
        way back when a note-off was lost on the way in (a MIDI system drops input under overload), which
        would otherwise leave the engine waiting for a key-up that never comes.
        """
        if len(message) == 3 and message[0] & 0xF0 == 0xB0 and message[1] in ALL_NOTES_OFF_CONTROLS:
            channel = message[0] & 0x0F
            for _, pitch in sorted(key for key in self._admitted_down[PLAYER] if key[0] == channel):
                self.receive([0x80 | channel, pitch, 0], stamp)
            return
        note = parse_note(message)
        if note is not None and self._admit(PLAYER, *note):
            if note[2] > 0:
                self._latest_strike = stamp
            self._inbox.put((PLAYER, stamp, *note))

    def _bot_sent(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        if self._admit(BOT, channel, pitch, velocity):
            self._inbox.put((BOT, stamp, channel, pitch, velocity))

    def _admit(self, source: str, channel: int, pitch: int, velocity: int) -> bool:
        """Whether a note may enter the inbox; each source is admitted on its own single thread.

        When the inbox holds INBOX_LIMIT items, a key-down is dropped, and later so is its key-up. The
        key-up of an admitted key-down always gets in, so the engine never believes a key is held that
        was let go (it would never answer again); a key-up of a key never admitted says nothing and is
        dropped. The inbox thus never holds more than INBOX_LIMIT + 2 x 16 x 128 items.
        """
        down, key = self._admitted_down[source], (channel, pitch)
        if velocity == 0:
            if key not in down:
                return False
            down.discard(key)
            return True
        if self._inbox.qsize() >= INBOX_LIMIT:
            self.stats.dropped_messages += 1
            return False
        down.add(key)
        return True

    @property
    def backlog(self) -> int:
        """Notes heard but not yet taken in by the engine thread (bounded, see `_admit`)."""
        return self._inbox.qsize()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def session_seconds(self) -> float:
        """Seconds since the engine was made: the clock of its context and recording."""
        return self._clock() - self._origin

    def stop(self) -> None:
        """Stop listening and answering, without first working through a backlog or finishing an answer;
        every sounding note is released, then All Notes Off."""
        try:
            self._stopping.set()
            self._inbox.put(None)
            self._thread.join(timeout=2.0)
        finally:
            self.scheduler.close()

    # -- the engine thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._next()
            except Exception as error:  # noqa: BLE001 - a failing model must not stop the bot or hang notes
                self.scheduler.cancel()
                self.stats.errors += 1
                self._log(f"duetto: {type(error).__name__}: {error}; answer abandoned, still listening")

    def _next(self) -> None:
        """Hear the next note; while the context primes a fresh state and nothing waits, prime a slice."""
        try:
            item = self._inbox.get(block=not self.voice.priming)
        except queue.Empty:
            self.voice.prime_some(PRIME_SLICE_TOKENS)
            return
        if item is not None:  # None only wakes the thread to stop
            self._hear(*item)

    def _hear(self, source: str, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        if self.recording is not None:
            self.recording.add(source, stamp - self._origin, pitch, velocity)
        if source == PLAYER:
            self.stats.notes_in += velocity > 0
            if velocity > 0:
                self._withdraw_or_barge_in()
                self._player_down.add((channel, pitch))
                self._phrase_has_notes = True
            elif (channel, pitch) in self._player_down:
                self._player_down.discard((channel, pitch))
            self.voice.hear(stamp - self._origin, pitch, velocity)
            if velocity == 0 and not self._player_down and self._phrase_has_notes:
                self._answer(stamp)
        else:
            if velocity > 0:
                self.stats.notes_out += 1
                if not self._answer_sounded:
                    self._answer_sounded = True
                    self.stats.answers += 1
            self.voice.hear(stamp - self._origin, pitch, velocity)

    def _withdraw_or_barge_in(self) -> None:
        """The player strikes a key: an answer not yet begun is withdrawn, one sounding is cut off."""
        if self.scheduler.busy:
            if self._clock() >= self._answer_starts:
                self.stats.barge_ins += 1
            self.scheduler.cancel()

    def _answer(self, released: float) -> None:
        """Prepare the answer the moment the player's keys are all up (at `released`), timed to start
        when the phrase gap ends.

        The phrase is over only if no key goes down before the gap ends; if one does, the answer is
        withdrawn before it sounds. So when the gap does end, the first note is already waiting in the
        scheduler and nothing stands between the silence and the answer. A key-down stamped after
        `released` (perhaps already waiting in the inbox) stops the answer from being composed at all.
        """
        gap_end = released + self.settings.phrase_gap
        self._phrase_has_notes = False
        self._answer_starts = gap_end
        self._answer_sounded = False

        def abandon() -> bool:
            return self._stopping.is_set() or self._latest_strike > released

        for event in self.voice.answer(self.settings.response_seconds, should_stop=abandon):
            at = gap_end + event.seconds
            if event.velocity > 0:
                self.scheduler.note_on(at, self.settings.channel, event.pitch, event.velocity)
            else:
                self.scheduler.note_off(at, self.settings.channel, event.pitch)
