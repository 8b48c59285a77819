"""The live engine: call and response, with barge-in, on the beat when there is one.

Threads and what each owns:
  * the port's callback thread only parses messages and puts them in the inbox (`receive`), and queues
    the player's notes for pass-through in the scheduler;
  * the engine thread owns the voice (the model and what it heard), the phrase logic, the tempo and key
    trackers and the settings: CC changes reach the settings only through the inbox. It feeds every note
    heard to the model as it arrives and, when the phrase ends, streams a sampled answer into the
    scheduler timed to begin when the phrase gap ends (on the next beat when a tempo is known), withdrawn
    unheard if the player goes on;
  * the scheduler thread owns the output port and the sounding notes.
Notes the bot actually sent come back through the inbox, so the context hears the duet as it sounded;
they are held back from the voice until the player plays on (or the next answer begins), so that an
answer can be undone or re-rolled and the model never learns it happened.
A player's key-down while the bot is answering stops the answer and releases its notes at once.
"""

from __future__ import annotations

import math
import queue
import statistics
import random
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from duetto.music.clock import TIMING_STATUSES, Grid, TempoTracker
from duetto.jam.controls import ACTIONS, CONTROLS, PRESSED, PhraseEnd, set_control
from duetto.music.groove import Dynamics, Feel, Placement
from duetto.encodings.events import KeyEvent
from duetto.voices.improviser import Limits
from duetto.music.key import Key, KeyFinder
from duetto.model.step_model import StepModel
from duetto.midi.ports import OutputPort
from duetto.jam.recording import SessionRecording
from duetto.model.sampler import Sampler
from duetto.jam.scheduler import Scheduler
from duetto.families import make_voice

if TYPE_CHECKING:
    from duetto.jam.modes import Mode


def make_mode(name: str, engine: "Engine") -> "Mode | None":
    """The mode object for `--mode`; None for call and response, which the engine itself plays."""
    if name == "call":
        return None
    from duetto.jam.modes import MODES

    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}: use call, {', '.join(MODES)}")
    return MODES[name](engine)

PLAYER, BOT, TIMING, CONTROL, TRIGGER, ACTION = "player", "bot", "timing", "control", "trigger", "action"
PRIME_SLICE_TOKENS = 8  # model steps taken for context priming between looks at the inbox (~2 ms)
# Key-downs waiting to be heard. Each costs a few model steps (about a millisecond), so a full inbox keeps
# the engine at most about a second behind the player; no human fills it, only a flood of messages does.
INBOX_LIMIT = 1_000
ALL_NOTES_OFF_CONTROLS = (120, 123)  # All Sound Off, All Notes Off
SUSTAIN = 64
STATUS_SECONDS = 0.1  # how often the engine thread publishes its status (for the terminal view)
MEASUREMENTS = 1_000  # recent step times and answer latencies kept for percentiles


@dataclass
class JamSettings:
    """Everything that shapes a jam. The engine thread owns it once the engine runs; CCs change it there."""

    phrase_gap: float = 0.6  # seconds of silence that end a phrase...
    phrase_beats: float | None = None  # ...or this many beats, when a tempo is known
    phrase_end: PhraseEnd = field(default_factory=PhraseEnd)
    response_seconds: float = 4.0
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int | None = None
    channel: int = 0
    input_channel: int | None = None  # listen to this channel only (None: all)
    passthrough: bool = False  # the player's notes go to the output too
    velocity_follow: float = 0.0  # 0: the model's dynamics, 1: the player's
    bpm: float | None = None  # the tempo when neither MIDI Clock nor the player gives one
    follow_player: bool = True  # find the beat in the player's own pulse (False: free time)
    key: Key | None = None  # None: detected from the player
    scale_lock: bool = False
    feel: Feel = field(default_factory=Feel)
    cc_map: dict[int, str] = field(default_factory=dict)  # CC number -> control or action name
    panic_keys: frozenset[int] = frozenset()  # held together by the player: panic
    window_tokens: int = 512
    limits: Limits = field(default_factory=Limits)
    mode: str = "call"
    # seconds the bot's notes leave early, to make up for the MIDI transport (see `compensate_transport`)
    latency_compensation: float = 0.0

    def compensate_transport(self, one_way: float) -> None:
        """Make up for a transport whose trips take `one_way` seconds on average. The player's key
        reaches Duetto one trip after it was played, which delays every time the engine derives from it
        (the phrase's end, the beat), and the answer reaches the synth one trip after it leaves: so the
        bot's notes are sent two trips early, and land when they were meant to."""
        self.latency_compensation = 2 * one_way


class TimedModel:
    """The model, with the time of each step kept (for the view); everything else passes through."""

    def __init__(self, model: StepModel) -> None:
        self._model = model
        self.step_seconds: deque[float] = deque(maxlen=MEASUREMENTS)

    def step(self, token: int, state: list) -> tuple:
        return self._timed(self._model.step, token, state)

    def run(self, feeds: dict, state: list) -> tuple:
        return self._timed(self._model.run, feeds, state)

    def _timed(self, method: Callable, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.step_seconds.append(time.perf_counter() - began)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@dataclass(frozen=True)
class Status:
    """What the engine is doing, published by its thread for whoever watches (the terminal view)."""

    mode: str
    tempo_source: str
    bpm: float | None
    transport_running: bool
    key: str | None
    key_locked: bool
    notes_in: int
    notes_out: int
    answers: int
    barge_ins: int
    step_ms: tuple[float, float] | None  # p50, p99
    answer_late_ms: tuple[float, float] | None  # first note of each answer: sent minus due, p50, p99
    provider: str
    temperature: float
    quantize: float
    dropped: int
    errors: int


def percentiles(values: list[float]) -> tuple[float, float] | None:
    """(p50, p99) in milliseconds, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


@dataclass
class JamStats:
    notes_in: int = 0
    notes_out: int = 0
    answers: int = 0  # answers that began to sound
    barge_ins: int = 0
    dropped_messages: int = 0  # messages dropped because the inbox was full (key-ups of dropped key-downs too)
    errors: int = 0
    panics: int = 0
    rerolls: int = 0
    undos: int = 0
    cc_changes: int = 0


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


CHANNEL_MESSAGE_LENGTHS = {0xA0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}  # poly pressure, program, pressure, bend


def is_channel_message(message: list[int]) -> bool:
    """A well-formed polyphonic pressure, program change, channel pressure or pitch bend."""
    return (bool(message) and CHANNEL_MESSAGE_LENGTHS.get(message[0] & 0xF0) == len(message)
            and all(byte < 128 for byte in message[1:]))


def parse_control(message: list[int]) -> tuple[int, int, int] | None:
    """(channel, controller, value) for a well-formed control change; None otherwise."""
    if len(message) != 3 or message[0] & 0xF0 != 0xB0 or message[1] > 127 or message[2] > 127:
        return None
    return message[0] & 0x0F, message[1], message[2]


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
        self._interrupt = threading.Event()  # an action (panic, undo, re-roll) waits: stop composing now
        # an answer is being composed and fed to the scheduler (whose queue may run dry meanwhile if
        # composing is slower than playing); read by other threads to know an answer is complete
        self.composing = False
        self._player_down: set[tuple[int, int]] = set()
        self._answer_starts = 0.0
        self._phrase_has_notes = False  # a stray key-up (say, of a key held before we started) is no phrase
        self._answer_sounded = True  # no answer pending yet
        # when the latest answered phrase ended: its last key-up's arrival (for re-roll; read by the bench)
        self.phrase_ended_at: float | None = None
        self._unheard_answer: list[tuple[float, int, int]] = []  # the bot's notes not yet fed to the voice
        self._cc_values: dict[tuple[int, int], int] = {}  # (channel, controller) -> latest value
        self.sampler = Sampler(settings.temperature, settings.top_p, settings.seed)
        self.tempo = TempoTracker(settings.bpm, settings.follow_player)
        self.keys = KeyFinder()
        self.dynamics = Dynamics()
        self._rng = random.Random(settings.seed)
        self.model = TimedModel(model)
        self._first_note_due: float | None = None  # when the pending answer's first note is due
        # when the latest answer's first note was sent (clock time); read by other threads to tell this
        # answer from one that began before they asked
        self.answer_began_at = -math.inf
        self.answer_lateness: deque[float] = deque(maxlen=MEASUREMENTS)
        self.status: Status | None = None
        self._status_at = -math.inf
        self.voice = make_voice(self.model, self.sampler, settings.limits, settings.window_tokens)
        self.mode = make_mode(settings.mode, self)
        self.scheduler = Scheduler(output.send, clock, on_sent=self._bot_sent)
        self._thread = threading.Thread(target=self._run, name="duetto-engine", daemon=True)

    # -- the port's thread -------------------------------------------------------------------------
    def receive(self, message: list[int], stamp: float) -> None:
        """Port callback: parse and enqueue, nothing more.

        All Notes Off (or All Sound Off) from the player releases every key it holds on that channel: the
        way back when a note-off was lost on the way in (a MIDI system drops input under overload), which
        would otherwise leave the engine waiting for a key-up that never comes.
        """
        if message and message[0] in TIMING_STATUSES:
            self._enqueue_unpaired((TIMING, stamp, list(message)))
            return
        settings = self.settings
        control = parse_control(message)
        if control is not None:
            channel, controller, value = control
            if settings.input_channel not in (None, channel):
                return
            if controller in ALL_NOTES_OFF_CONTROLS:
                for _, pitch in sorted(key for key in self._admitted_down[PLAYER] if key[0] == channel):
                    self.receive([0x80 | channel, pitch, 0], stamp)
                return
            if settings.passthrough and self._sounds(controller):
                self.scheduler.forward_message(message)
            # an action stops an answer being composed at once; the engine thread then carries it out
            action = settings.cc_map.get(controller) in ACTIONS and value >= PRESSED
            self._enqueue_unpaired((CONTROL, stamp, channel, controller, value), interrupts=action)
            return
        note = parse_note(message)
        if note is None:
            if (settings.passthrough and is_channel_message(message)
                    and settings.input_channel in (None, message[0] & 0x0F)):
                self.scheduler.forward_message(message)  # pitch bend, pressure, program change
            return
        if settings.input_channel not in (None, note[0]):
            return
        if settings.phrase_end.kind == "key" and note[1] == settings.phrase_end.number:
            if note[2] > 0:
                self._enqueue_unpaired((TRIGGER, stamp))
            return
        if settings.passthrough:
            self.scheduler.forward(*note)
        if self._admit(PLAYER, *note):
            if note[2] > 0:
                self._latest_strike = stamp
            self._inbox.put((PLAYER, stamp, *note))

    def _sounds(self, controller: int) -> bool:
        """Whether a controller shapes the player's sound (a pedal, the mod wheel) rather than driving
        Duetto (a mapped knob, the phrase-end button): only the former is passed through."""
        phrase_end = self.settings.phrase_end
        return (controller < 120 and controller not in self.settings.cc_map
                and not (phrase_end.kind == "cc" and phrase_end.number == controller))

    def request(self, action: str) -> None:
        """Ask for panic, reroll or undo from any thread; the engine thread carries it out."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        self._interrupt.set()
        self._inbox.put((ACTION, self._clock(), action))

    def player_port_lost(self) -> None:
        """The player's port went away with keys down: let go of them (call once its callbacks have
        stopped), or the engine would wait for key-ups that never come."""
        for channel in range(16):
            self.receive([0xB0 | channel, 123, 0], self._clock())

    def _enqueue_unpaired(self, item: tuple, interrupts: bool = False) -> None:
        """Messages with no key-up to keep track of: dropped (and counted) when the inbox is full."""
        if self._inbox.qsize() >= INBOX_LIMIT:
            self.stats.dropped_messages += 1
            return
        if interrupts:  # before the item is in: the engine thread clears it when it takes the item
            self._interrupt.set()
        self._inbox.put(item)

    def _bot_sent(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        # recorded here, on the scheduler's thread as it sends, so a recording stopped mid-answer still
        # holds every note the bot played (the engine thread may never get to the inbox again)
        if self.recording is not None:
            self.recording.add(BOT, stamp - self._origin, pitch, velocity)
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
        """Messages heard but not yet taken in by the engine thread (bounded, see `_admit`)."""
        return self._inbox.qsize()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def session_seconds(self) -> float:
        """Seconds since the engine was made: the clock of its context and recording."""
        return self._clock() - self._origin

    def grid(self) -> Grid | None:
        """The beat grid now (MIDI Clock, the player's pulse or --bpm), or None when no tempo is known."""
        return self.tempo.grid(self._clock())

    @property
    def stopping(self) -> bool:
        """Whether composing should stop now: the engine stops, or an action waits to be carried out."""
        return self._stopping.is_set() or self._interrupt.is_set()

    def now(self) -> float:
        """The engine's clock: the one port stamps and scheduled times are on."""
        return self._clock()

    def log(self, line: str) -> None:
        self._log(line)

    @property
    def key(self) -> Key | None:
        """The key the bot plays in: the one set, else the one heard (None until one is heard)."""
        return self.settings.key or self.keys.key

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
        """Take the next message; while the context primes a fresh state and nothing waits, prime a slice.
        A mode (duet, practice) is given its turn whenever the time it asked for has come."""
        now = self._clock()
        if now - self._status_at >= STATUS_SECONDS:
            self._publish_status()
        if self.mode is not None and now >= self.mode.wake_at:
            self.mode.tick(now)
        wait = STATUS_SECONDS if self.mode is None else min(STATUS_SECONDS, max(0.0, self.mode.wake_at - now))
        try:
            item = self._inbox.get_nowait() if self.voice.priming else self._inbox.get(timeout=wait)
        except queue.Empty:
            if self.voice.priming:
                self.voice.prime_some(PRIME_SLICE_TOKENS)
            return
        if item is None:  # None only wakes the thread to stop
            return
        kind, stamp, *rest = item
        if kind == TIMING:
            self.tempo.timing_message(rest[0], stamp)
        elif kind == CONTROL:
            self._control(stamp, *rest)
        elif kind == TRIGGER:
            self._end_phrase(stamp)
        elif kind == ACTION:
            self._act(rest[0])
        else:
            self._hear(kind, stamp, *rest)

    def _publish_status(self) -> None:
        self._status_at = self._clock()
        grid, key, stats = self.grid(), self.key, self.stats
        self.status = Status(
            mode=self.settings.mode, tempo_source=grid.source if grid else "none",
            bpm=grid.bpm if grid else None, transport_running=self.tempo.transport_running,
            key=str(key) if key else None, key_locked=self.settings.scale_lock,
            notes_in=stats.notes_in, notes_out=stats.notes_out, answers=stats.answers, barge_ins=stats.barge_ins,
            step_ms=percentiles(list(self.model.step_seconds)),
            answer_late_ms=percentiles(list(self.answer_lateness)),
            provider=str(getattr(self.model, "provider", "unknown")), temperature=self.settings.temperature,
            quantize=self.settings.feel.quantize, dropped=stats.dropped_messages, errors=stats.errors)

    def _hear(self, source: str, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        if self.recording is not None and source == PLAYER:
            self.recording.add(source, stamp - self._origin, pitch, velocity)
        if source == BOT:
            if velocity > 0:
                self.stats.notes_out += 1
                if not self._answer_sounded:
                    self._answer_sounded = True
                    self.answer_began_at = stamp
                    self.stats.answers += 1
                    if self._first_note_due is not None:
                        self.answer_lateness.append(stamp - self._first_note_due)
            self._unheard_answer.append((stamp, pitch, velocity))
            if self.mode is not None:  # only a call-and-response answer can be undone
                self._let_voice_hear_the_answer()
            return
        if velocity > 0 and self.mode is None:
            self._withdraw_or_barge_in()  # first: the answer stops at once
        self._let_voice_hear_the_answer()
        if velocity > 0:
            self.stats.notes_in += 1
            self.tempo.player_onset(stamp, starts_phrase=not self._phrase_has_notes)
            self.keys.heard(stamp, pitch)
            self.dynamics.heard(velocity)
            self._player_down.add((channel, pitch))
            self._phrase_has_notes = True
            if self.settings.panic_keys and self.settings.panic_keys <= {p for _, p in self._player_down}:
                self.panic()
        else:
            self._player_down.discard((channel, pitch))
        self.voice.hear(stamp - self._origin, pitch, velocity)
        if self.mode is not None:
            self.mode.player_note(stamp, pitch, velocity, bool(self._player_down))
        elif (velocity == 0 and not self._player_down and self._phrase_has_notes
                and self.settings.phrase_end.kind == "silence"):
            self._answer(stamp, self._phrase_gap())

    def _let_voice_hear_the_answer(self) -> None:
        """The bot's notes reach the voice once the answer can no longer be undone."""
        for stamp, pitch, velocity in self._unheard_answer:
            self.voice.hear(stamp - self._origin, pitch, velocity)
        self._unheard_answer.clear()

    def _phrase_gap(self) -> float:
        grid = self.grid()
        if grid is not None and self.settings.phrase_beats is not None:
            return self.settings.phrase_beats * grid.beat
        return self.settings.phrase_gap

    def _control(self, stamp: float, channel: int, controller: int, value: int) -> None:
        previous = self._cc_values.get((channel, controller), 0)
        self._cc_values[(channel, controller)] = value
        pressed = previous < PRESSED <= value
        phrase_end = self.settings.phrase_end
        if phrase_end.kind == "pedal" and controller == SUSTAIN and value < PRESSED <= previous:
            self._end_phrase(stamp)
        elif phrase_end.kind == "cc" and controller == phrase_end.number and pressed:
            self._end_phrase(stamp)
        name = self.settings.cc_map.get(controller)
        if name in ACTIONS:
            if pressed:
                self._act(name)
        elif name is not None:
            set_control(self.settings, name, CONTROLS[name].value(value))
            self.stats.cc_changes += 1

    def _end_phrase(self, stamp: float) -> None:
        """A trigger (pedal, CC, key) ends the phrase: answer now, or on the next beat (call mode)."""
        if self.mode is None and self._phrase_has_notes:
            self._answer(stamp, 0.0)

    def _withdraw_or_barge_in(self) -> None:
        """The player strikes a key: an answer not yet begun is withdrawn, one sounding is cut off."""
        if self.scheduler.busy:
            if self._clock() >= self._answer_starts:
                self.stats.barge_ins += 1
            self.scheduler.cancel()

    # -- actions (engine thread) ---------------------------------------------------------------------
    def _act(self, action: str) -> None:
        self._interrupt.clear()
        {"panic": self.panic, "reroll": self.reroll, "undo": self.undo}[action]()

    def panic(self) -> None:
        """Silence the output now (the bot's notes, passed-through ones, All Notes Off); keep listening."""
        self._unheard_answer.clear()
        self.scheduler.panic()
        self.stats.panics += 1

    def undo(self) -> None:
        """Forget the last answer: stop it if it sounds, and the model never hears it (until the player
        plays on, after which the answer is part of the duet)."""
        self._discard_answer()
        self.stats.undos += 1

    def reroll(self) -> None:
        """Discard the last answer and play a new one in its place, from the same moment of the duet."""
        if self.phrase_ended_at is None:
            return
        self._discard_answer()
        self.stats.rerolls += 1
        now = self._clock()
        self._compose(now, now)

    def _discard_answer(self) -> None:
        self.scheduler.cancel()
        self._unheard_answer.clear()

    # -- answering -----------------------------------------------------------------------------------
    def _sync_sampling(self) -> None:
        """Bring sampling and masks in line with the settings, which CCs may have changed."""
        settings = self.settings
        self.sampler.temperature = max(0.0, settings.temperature)
        self.sampler.top_p = min(1.0, max(0.01, settings.top_p))
        key = self.key
        settings.limits.pitch_classes = key.pitch_classes if settings.scale_lock and key is not None else None

    def _answer(self, released: float, gap: float) -> None:
        """Prepare the answer the moment the phrase ends (at `released`), timed to start when the gap
        ends (on the next beat when a tempo is known).

        The phrase is over only if no key goes down before the gap ends; if one does, the answer is
        withdrawn before it sounds. So when the gap does end, the first note is already waiting in the
        scheduler and nothing stands between the silence and the answer. A key-down stamped after
        `released` (perhaps already waiting in the inbox) stops the answer from being composed at all.
        """
        self._phrase_has_notes = False
        self.phrase_ended_at = released
        self._let_voice_hear_the_answer()
        self._compose(released + gap, released)

    def _compose(self, earliest: float, since: float) -> None:
        """Stream an answer into the scheduler, starting at `earliest` or the first beat after it;
        abandoned if the player strikes a key after `since`."""
        grid = self.grid()
        start = earliest if grid is None else grid.next_beat(earliest)
        self._answer_starts = start - self.settings.latency_compensation  # when its first note may leave

        def abandon() -> bool:
            return self.stopping or self._latest_strike > since

        self.perform(lambda: self.voice.answer(self.settings.response_seconds, should_stop=abandon), start, grid)

    def perform(self, compose: Callable[[], Iterable[KeyEvent]], start: float,
                grid: Grid | None) -> list[tuple[float, int]]:
        """Play what `compose()` yields (key events timed from 0, composed with sampling in line with the
        settings) from `start`, placed on the grid with the current feel and dynamics, and sent early by
        the latency compensation. Returns the (time meant, pitch) of each note-on queued. Engine thread
        only; the modes use it too."""
        self._sync_sampling()
        settings = self.settings
        self._answer_sounded = False
        self._first_note_due = None
        placement = Placement(start, grid, settings.feel, self._rng)
        struck = []
        self.composing = True
        try:
            for event in compose():
                meant = placement.place(event)
                at = meant - settings.latency_compensation  # sent early, to land at `meant`
                if event.velocity > 0:
                    if self._first_note_due is None:
                        self._first_note_due = at
                    velocity = self.dynamics.scale(event.velocity, settings.velocity_follow)
                    self.scheduler.note_on(at, settings.channel, event.pitch, velocity)
                    struck.append((meant, event.pitch))
                else:
                    self.scheduler.note_off(at, settings.channel, event.pitch)
        finally:
            self.composing = False
        return struck
