"""The live engine: call and response, with barge-in.

Threads and what each owns:
  * the port's callback thread only parses note messages and puts them in the inbox (`receive`);
  * the engine thread owns the context, the model and the phrase logic: it feeds every note heard to the
    model as it arrives and, the moment all the player's keys are up, streams a sampled answer into the
    scheduler timed to begin when the phrase gap ends (withdrawn unheard if the player goes on);
  * the scheduler thread owns the output port and the sounding notes.
Notes the bot actually sent come back through the inbox, so the context hears the duet as it sounded.
A player's key-down while the bot is answering stops the answer and releases its notes at once.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from live.context import Context
from live.improviser import Improviser, Limits
from live.model import StepModel
from live.ports import OutputPort
from live.sampler import Sampler
from live.scheduler import Scheduler

PLAYER, BOT = "player", "bot"
INBOX_LIMIT = 10_000


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
    dropped_messages: int = 0
    errors: int = 0


def parse_note(message: list[int]) -> tuple[int, int, int] | None:
    """(channel, pitch, velocity) for note messages, velocity 0 meaning release; None for the rest."""
    if len(message) < 3:
        return None
    kind, channel = message[0] & 0xF0, message[0] & 0x0F
    if kind == 0x90:
        return channel, message[1], message[2]
    if kind == 0x80:
        return channel, message[1], 0
    return None


class Engine:
    def __init__(self, model: StepModel, output: OutputPort, settings: JamSettings,
                 clock: Callable[[], float] = time.perf_counter, log: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.stats = JamStats()
        self._clock = clock
        self._origin = clock()
        self._log = log or (lambda line: print(line, file=sys.stderr))
        self._inbox: queue.Queue = queue.Queue(maxsize=INBOX_LIMIT)
        self._player_struck = threading.Event()
        self._player_down: set[tuple[int, int]] = set()
        self._answer_starts = 0.0
        self._phrase_has_notes = False  # a stray key-up (say, of a key held before we started) is no phrase
        self._answer_sounded = True  # no answer pending yet
        self.context = Context(model, settings.window_tokens)
        self.improviser = Improviser(model, Sampler(settings.temperature, settings.top_p, settings.seed),
                                     settings.limits)
        self.scheduler = Scheduler(output.send, clock, on_sent=self._bot_sent)
        self._thread = threading.Thread(target=self._run, name="duetto-engine", daemon=True)

    # -- the port's thread -------------------------------------------------------------------------
    def receive(self, message: list[int], stamp: float) -> None:
        """Port callback: parse and enqueue, nothing more. When the inbox is full, new input is dropped."""
        note = parse_note(message)
        if note is None:
            return
        if note[2] > 0:
            self._player_struck.set()
        self._enqueue((PLAYER, stamp, *note))

    def _bot_sent(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        self._enqueue((BOT, stamp, channel, pitch, velocity))

    def _enqueue(self, item: tuple) -> None:
        try:
            self._inbox.put_nowait(item)
        except queue.Full:
            self.stats.dropped_messages += 1

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and answering; every sounding note is released, then All Notes Off."""
        try:
            self._inbox.put(None, timeout=1.0)
            self._thread.join(timeout=2.0)
        finally:
            self.scheduler.close()

    # -- the engine thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self._hear(*item)
            except Exception as error:  # noqa: BLE001 - a failing model must not stop the bot or hang notes
                self.scheduler.cancel()
                self.stats.errors += 1
                self._log(f"duetto: {type(error).__name__}: {error}; answer abandoned, still listening")

    def _hear(self, source: str, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        if source == PLAYER:
            self.stats.notes_in += velocity > 0
            if velocity > 0:
                self._withdraw_or_barge_in()
                self._player_down.add((channel, pitch))
                self._phrase_has_notes = True
            elif (channel, pitch) in self._player_down:
                self._player_down.discard((channel, pitch))
            self.context.hear(stamp - self._origin, pitch, velocity)
            if velocity == 0 and not self._player_down and self._phrase_has_notes:
                self._answer(stamp + self.settings.phrase_gap)
        else:
            if velocity > 0:
                self.stats.notes_out += 1
                if not self._answer_sounded:
                    self._answer_sounded = True
                    self.stats.answers += 1
            self.context.hear(stamp - self._origin, pitch, velocity)

    def _withdraw_or_barge_in(self) -> None:
        """The player strikes a key: an answer not yet begun is withdrawn, one sounding is cut off."""
        if self.scheduler.busy:
            if self._clock() >= self._answer_starts:
                self.stats.barge_ins += 1
            self.scheduler.cancel()

    def _answer(self, gap_end: float) -> None:
        """Prepare the answer the moment the player's keys are all up, timed to start at `gap_end`.

        The phrase is over only if no key goes down before `gap_end`; if one does, the answer is
        withdrawn before it sounds. So when the gap does end, the first note is already waiting in the
        scheduler and nothing stands between the silence and the answer.
        """
        self._player_struck.clear()
        self._phrase_has_notes = False
        self._answer_starts = gap_end
        self._answer_sounded = False
        logits, state = self.context.snapshot()
        for event in self.improviser.continue_from(
                logits, state, self.settings.response_seconds, should_stop=self._player_struck.is_set):
            at = gap_end + event.seconds
            if event.velocity > 0:
                self.scheduler.note_on(at, self.settings.channel, event.pitch, event.velocity)
            else:
                self.scheduler.note_off(at, self.settings.channel, event.pitch)
        self.context.reprime_if_due()
