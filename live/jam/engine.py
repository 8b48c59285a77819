"""The engine thread: it hears the duet, keeps time and key, and plays what the mode asks for.

Threads and what each owns:
  * the port's callback thread runs the `Intake` (duetto.jam.intake): it only parses messages, puts them
    in the inbox and queues the player's notes for pass-through;
  * the engine thread (this module) owns the voice (the model and what it heard), the mode, the tempo and
    key trackers, the dynamics and the settings: CC changes reach the settings only through the inbox. It
    feeds every note heard to the voice as it arrives, and plays what the mode composes through `perform`;
  * the scheduler thread owns the output port and the sounding notes (duetto.jam.scheduler);
  * whoever watches reads `status`, a `Status` the engine thread replaces every STATUS_SECONDS.
Notes the bot actually sent come back through the inbox, so the voice hears the duet as it sounded; a mode
that `holds_answers` (call and response) keeps them from the voice until the player plays on, so an
answer can be undone or re-rolled and the model never learns it happened.
"""

from __future__ import annotations

import dataclasses
import math
import queue
import random
import sys
import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from duetto.families import make_voice
from duetto.jam.controls import ACTIONS, CONTROLS, PRESSED, set_control, stepped
from duetto.jam.intake import (BOT, MODE, PLAYER, Action, Adjust, ControlChange, Intake, PhraseTrigger, Played,
                               Set, Timing)
from duetto.jam.modes import MODES, make_mode
from duetto.jam.modes.base import Mode
from duetto.jam.overrun import Overruns
from duetto.jam.prompt import Prompt
from duetto.jam.recording import SessionRecording
from duetto.jam.scheduler import Scheduler
from duetto.jam.settings import JamSettings, JamStats
from duetto.jam.status import (MEASUREMENTS, STATUS_SECONDS, NoteLog, RollNote, Status, TimedModel,
                               percentiles)
from duetto.midi import messages
from duetto.midi.ports.base import OutputPort
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.clock import SOURCE_CLOCK, BeatSource, Grid, TempoTracker
from duetto.music.groove import Dynamics, Placement
from duetto.music.key import Key, KeyFinder
from duetto.music.notes import KeyEvent, Note
from duetto.music.parts import MELODY
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind, BandRequest
from duetto.voices.in_kind import CallListener

PRIME_SLICE_TOKENS = 8  # steps a primed state catches up by between looks at the inbox (~2 ms)


class Engine:
    """The stage every mode plays on (duetto.jam.modes.base.Stage), and the thread that drives it."""

    def __init__(self, model: StepModel, output: OutputPort, settings: JamSettings,
                 clock: Callable[[], float] = time.perf_counter, log: Callable[[str], None] | None = None,
                 recording: SessionRecording | None = None, mode: Mode | None = None,
                 shared_beat: BeatSource | None = None, prompt: Prompt | None = None) -> None:
        self.settings = settings
        self.recording = recording
        self.stats = JamStats()
        self._clock = clock
        self._origin = clock()
        # the voice's clock: with a prompt (`jam --prompt`) it heard the piece, which ended as the session began
        self._voice_origin = self._origin - (prompt.seconds if prompt is not None else 0.0)
        self._taken_until = self._origin  # the stamp of the latest inbox item taken
        self._log = log or (lambda line: print(line, file=sys.stderr))
        self._stopping = threading.Event()
        # an answer is being composed and fed to the scheduler (whose queue may run dry meanwhile if
        # composing is slower than playing); read by other threads to know an answer is complete
        self.composing = False
        self._player_down: set[tuple[int, int]] = set()
        self._phrase_has_notes = False  # a stray key-up (say, of a key held before we started) is no phrase
        self._answer_sounded = True  # no answer pending yet
        self._unheard_answer: list[tuple[float, int, int, int | None]] = []  # the bot's notes not yet heard, with their parts
        self._cc_values: dict[tuple[int, int], int] = {}  # (channel, controller) -> latest value
        self.sampler = Sampler(settings.temperature, settings.top_p, settings.seed)
        self.tempo = TempoTracker(settings.bpm, settings.follow_player, shared_beat)
        self._tempo_said: Grid | None = None  # the tempo the log last named
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
        self.output_trouble: str | None = None  # set by the session's output watch, shown in the status
        self.overruns = Overruns(self._log)
        self._status_at = -math.inf
        self._roll = NoteLog()  # the duet's recent notes, for the live view's roll
        self.voice = make_voice(self.model, self.sampler, settings.limits, settings.window_tokens)
        if prompt is not None:
            prompt.play_to(self.voice)  # before the engine thread, the voice's one owner from then on, starts
        self.call = CallListener()  # the player's latest phrase, for answers in kind
        self.scheduler = Scheduler(output.send, clock, on_sent=self._bot_sent)
        self.intake = Intake(settings, self.stats, clock, self.scheduler.forward, self.scheduler.forward_message)
        self.mode = mode if mode is not None else make_mode(settings.mode)
        self._thread = threading.Thread(target=self._run, name="duetto-engine", daemon=True)

    # -- other threads -------------------------------------------------------------------------------
    def receive(self, message: list[int], stamp: float) -> None:
        """The input port's callback (see `Intake.receive`)."""
        self.intake.receive(message, stamp)

    def request(self, action: str) -> None:
        """Ask for panic, reroll or undo from any thread; the engine thread carries it out."""
        self.intake.request(action)

    def adjust(self, name: str, steps: int) -> None:
        """Ask for a control (or the mode) to move `steps` along from any thread (see `controls.stepped`)."""
        self.intake.adjust(name, steps)

    def set(self, name: str, value: object) -> None:
        """Ask for a control (or the mode) to take a checked value, from any thread (see `Intake.set`)."""
        self.intake.set(name, value)

    def player_port_lost(self) -> None:
        """The player's port went away with keys down: let go of them."""
        self.intake.player_port_lost()

    @property
    def backlog(self) -> int:
        return self.intake.backlog

    def _bot_sent(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        # recorded here, on the scheduler's thread as it sends, so a recording stopped mid-answer still
        # holds every note the bot played (the engine thread may never get to the inbox again)
        if self.recording is not None:
            self.recording.add(self._lane_of(channel), stamp - self._origin, pitch, velocity, channel)
        self.intake.bot_sent(stamp, channel, pitch, velocity)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.mode.begin(self)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and answering, without first working through a backlog or finishing an answer;
        every sounding note is released, then All Notes Off."""
        try:
            self._stopping.set()
            self.intake.wake()
            if self._thread.ident is not None:  # started
                self._thread.join(timeout=2.0)
        finally:
            self.scheduler.close()
            self.voice.close()

    @property
    def session_seconds(self) -> float:
        """Seconds since the engine was made: the clock of its context and recording."""
        return self._clock() - self._origin

    # -- the stage a mode plays on (engine thread) -----------------------------------------------------
    def now(self) -> float:
        return self._clock()

    def grid(self) -> Grid | None:
        # while messages wait in the inbox the engine thread is behind (composing takes time on a busy
        # machine): the clock is judged as of the latest message taken, so that lag never reads as a
        # stopped clock and the grid never falls back to the player's pulse mid-song
        return self.tempo.grid(self._clock() if self.intake.inbox.empty() else self._taken_until)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set() or self.intake.interrupt.is_set()

    @property
    def keys_held(self) -> bool:
        return bool(self._player_down)

    @property
    def latest_strike(self) -> float:
        return self.intake.latest_strike

    @property
    def heard_key(self) -> Key | None:
        return self.keys.key

    @property
    def key(self) -> Key | None:
        """The key the bot plays in: the one set, else the one heard (None until one is heard)."""
        return self.settings.key or self.keys.key

    @property
    def phrase_has_notes(self) -> bool:
        return self._phrase_has_notes

    def end_phrase(self) -> None:
        self._phrase_has_notes = False
        self.call.phrase_ended()
        self._let_voice_hear_the_answer()

    def compose(self, seconds: float, should_stop: Callable[[], bool], texture: str | None = None,
                start: float | None = None, band: BandRequest | None = None) -> Iterator[KeyEvent]:
        self._tell_voice_the_time()
        kind = self.answer_kind(texture) if band is None else self._band_kind(band)
        return self.voice.answer(seconds, should_stop=should_stop, kind=kind,
                                 start=None if start is None else start - self._voice_origin)

    def _band_kind(self, band: BandRequest) -> AnswerKind:
        """What a band is asked to play as: its parts set the texture and the registers, not the player's
        phrase."""
        return dataclasses.replace(self.answer_kind(None), band=band, texture=None, register=None, pace=None)

    def revoice(self, band: BandRequest) -> int:
        parts = {member.channel: member.part for member in self.settings.band.parts}
        planned = [note for note in self.scheduler.plan() if note.end is not None and note.channel in parts]
        if not planned or not getattr(self.voice, "plays_band", False):
            return 0
        self._tell_voice_the_time()
        shift = self.settings.latency_compensation - self._voice_origin  # sent early; the voice's seconds
        notes = [Note(note.start + shift, note.end + shift, note.pitch, note.velocity, parts[note.channel])
                 for note in planned]
        voiced = self.voice.revoice(notes, self._band_kind(band))
        return self.scheduler.repitch({(before.start, before.channel, before.pitch): after.pitch
                                       for before, after in zip(planned, voiced) if after.pitch != before.pitch})

    def _tell_voice_the_time(self) -> None:
        """The grid as the voice counts time (from the session's origin), for a voice that plays in beats."""
        grid = self.grid()
        self.voice.keep_time(None if grid is None else Timeline.steady(grid.bpm, origin=grid.origin - self._voice_origin))

    def answer_kind(self, texture: str | None = None) -> AnswerKind:
        """What the next answer should be like (see duetto.voices.in_kind)."""
        styles = self.model.info.styles
        style = styles.index(self.settings.style) if self.settings.style in styles else None
        return self.call.answer_kind(texture or self.settings.texture, style, self.key)

    def silence_bot(self) -> bool:
        if not self.scheduler.busy:
            return False
        self.scheduler.cancel()
        return True

    def replan(self, keep_sounding: Callable[[int, int], bool]) -> None:
        self.scheduler.replan(keep_sounding)

    def forget_answer(self) -> None:
        self.scheduler.cancel()
        self._unheard_answer.clear()

    def log(self, line: str) -> None:
        self._log(line)

    def perform(self, compose: Callable[[], Iterable[KeyEvent]], start: float,
                grid: Grid | None) -> list[tuple[float, int]]:
        """Play what `compose()` yields (key events timed from 0, composed with sampling in line with the
        settings) from `start`, placed on the grid with the current feel and dynamics, and sent early by
        the latency compensation. Returns the (time meant, pitch) of each note-on queued."""
        self._sync_sampling()
        settings = self.settings
        self._answer_sounded = False
        self._first_note_due = None
        placement = Placement(start, grid, settings.feel, self._rng)
        struck = []
        left_out: set[tuple[int, int]] = set()  # (channel, pitch) of notes composed too late to be played, until their release
        self.overruns.begin_answer()
        self.composing = True
        try:
            delay = 0.0  # an answer whose first note comes too late starts late, as a whole
            for event in compose():
                meant = placement.place(event) + delay
                at = meant - settings.latency_compensation  # sent early, to land at `meant`
                channel = self._channel_of(event.part)
                if event.velocity > 0 and self.overruns.too_late(at, self._clock()):
                    if not struck:
                        delay = self._clock() - at
                        meant, at = meant + delay, at + delay
                    else:
                        left_out.add((channel, event.pitch))  # a shorter answer, never a late flood
                        continue
                if event.velocity == 0 and (channel, event.pitch) in left_out:
                    left_out.discard((channel, event.pitch))
                    continue
                if event.velocity > 0:
                    if self._first_note_due is None:
                        self._first_note_due = at
                    velocity = self.dynamics.scale(event.velocity, settings.velocity_follow)
                    self.scheduler.note_on(at, channel, event.pitch, velocity)
                    struck.append((meant, event.pitch))
                else:
                    self.scheduler.note_off(at, channel, event.pitch)
        finally:
            self.composing = False
        self.overruns.end_answer(played=bool(struck))
        return struck

    def _channel_of(self, part: int | None) -> int:
        """The channel a note goes out on: its band part's, else the bot's."""
        band = self.settings.band
        channel = None if part is None or band is None else band.channel_of(part)
        return self.settings.channel if channel is None else channel

    def _part_of(self, channel: int, player: bool) -> int | None:
        """The band part a note heard on `channel` plays, for a voice that plays a band: the player is the
        melody; None outside band mode (the voice judges parts itself)."""
        if self.mode.name != "band" or not getattr(self.voice, "plays_band", False):
            return None
        return MELODY if player else self.settings.band.part_of_channel(channel)

    def _sync_sampling(self) -> None:
        """Bring sampling and masks in line with the settings, which CCs may have changed."""
        settings = self.settings
        self.sampler.temperature = max(0.0, settings.temperature)
        self.sampler.top_p = min(1.0, max(0.01, settings.top_p))
        key = self.key
        settings.limits.pitch_classes = key.pitch_classes if settings.scale_lock and key is not None else None

    # -- the engine thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._next()
                except Exception as error:  # noqa: BLE001 - a failing model must not stop the bot or hang notes
                    self.scheduler.cancel()
                    self.stats.errors += 1
                    self._log(f"duetto: {type(error).__name__}: {error}; answer abandoned, still listening")
        finally:
            self.mode.end()  # the settings the mode changed go back, on this thread, which owns them

    def _next(self) -> None:
        """Take the next message; while the voice primes a fresh state and nothing waits, prime a slice.
        The mode is given its turn whenever the time it asked for has come."""
        now = self._clock()
        if now - self._status_at >= STATUS_SECONDS:
            self._publish_status()
        if now >= self.mode.wake_at:
            self.mode.tick(now)
        wait = min(STATUS_SECONDS, max(0.0, self.mode.wake_at - now))
        inbox = self.intake.inbox
        try:
            item = inbox.get_nowait() if self.voice.priming else inbox.get(timeout=wait)
        except queue.Empty:
            if self.voice.priming:
                self.voice.prime_some(PRIME_SLICE_TOKENS)
            return
        if item is None:  # None only wakes the thread to stop
            return
        self._taken_until = item.stamp
        match item:
            case Played(part=part, stamp=stamp, channel=channel, pitch=pitch, velocity=velocity):
                heard = self._bot_heard if part == BOT else self._player_heard
                heard(stamp, channel, pitch, velocity)
            case Timing(stamp=stamp, message=message):
                self.tempo.timing_message(message, stamp)
            case ControlChange(stamp=stamp, channel=channel, controller=controller, value=value):
                self._control(stamp, channel, controller, value)
            case PhraseTrigger(stamp=stamp):
                self.mode.phrase_trigger(stamp)
            case Action(name=name):
                self._act(name)
            case Adjust(name=name, steps=steps):
                self._adjust(name, steps)
            case Set(name=name, value=value):
                self._set(name, value)

    def _publish_status(self) -> None:
        self._status_at = self._clock()
        self._tell_voice_the_time()
        grid, key, stats = self.grid(), self.key, self.stats
        self._say_tempo(grid)
        if self.recording is not None and grid is not None:
            self.recording.tempo(self.session_seconds, grid.bpm)
            started = self.tempo.transport_origin
            if grid.source == SOURCE_CLOCK and self.tempo.transport_running and started is not None:
                self.recording.transport_started(started - self._origin)
        settings, limits, feel = self.settings, self.settings.limits, self.settings.feel
        plan = tuple(RollNote(start, end, pitch, self._lane_of(channel))
                     for start, end, pitch, channel, _ in self.scheduler.plan())
        self.status = Status(
            mode=self.mode.name, tempo_source=grid.source if grid else "none",
            bpm=grid.bpm if grid else None, transport_running=self.tempo.transport_running,
            key=str(key) if key else None, key_locked=self.settings.scale_lock,
            notes_in=stats.notes_in, notes_out=stats.notes_out, answers=stats.answers, barge_ins=stats.barge_ins,
            step_ms=percentiles(list(self.model.step_seconds)),
            answer_late_ms=percentiles(list(self.answer_lateness)),
            provider=str(getattr(self.model, "provider", "unknown")), temperature=self.settings.temperature,
            quantize=feel.quantize, dropped=stats.dropped_messages, errors=stats.errors,
            now=self._status_at, grid=grid, notes=self._roll.snapshot(), plan=plan, style=settings.style,
            texture=settings.texture, top_p=settings.top_p, density=limits.density, swing=feel.swing,
            velocity_follow=settings.velocity_follow, response_seconds=settings.response_seconds,
            passthrough=settings.passthrough, panics=stats.panics, undos=stats.undos, rerolls=stats.rerolls,
            answering=self.composing or self.scheduler.busy, output_trouble=self.output_trouble,
            overruns=self.overruns.count)

    def _say_tempo(self, grid: Grid | None) -> None:
        """One line whenever the tempo's source changes, or its tempo moves by a BPM or more: who sets
        the beat (MIDI Clock, Link, the player, --bpm) is never a guess."""
        said = self._tempo_said
        if grid is not None and (said is None or said.source != grid.source or abs(said.bpm - grid.bpm) >= 1):
            self._log(f"duetto: tempo {grid.bpm:.1f} BPM from {grid.source}")
            self._tempo_said = grid
        elif grid is None and said is not None:
            self._log("duetto: no tempo now (silence ends phrases in ms)")
            self._tempo_said = None

    def _lane_of(self, channel: int) -> str:
        """The live view's lane for a note of the bot's: its band part's name in band mode, else the bot's."""
        band = self.settings.band
        if self.mode.name != "band" or band is None:
            return BOT
        return next((part.name for part in band.parts if part.channel == channel), BOT)

    def _bot_heard(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        self._roll.heard(self._lane_of(channel), stamp, channel, pitch, velocity)
        if velocity > 0:
            self.stats.notes_out += 1
            if not self._answer_sounded:
                self._answer_sounded = True
                self.answer_began_at = stamp
                self.stats.answers += 1
                if self._first_note_due is not None:
                    self.answer_lateness.append(stamp - self._first_note_due)
        self._unheard_answer.append((stamp, pitch, velocity, self._part_of(channel, player=False)))
        if not self.mode.holds_answers:
            self._let_voice_hear_the_answer()

    def _player_heard(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        if self.recording is not None:
            self.recording.add(PLAYER, stamp - self._origin, pitch, velocity, channel)
        self._roll.heard(PLAYER, stamp, channel, pitch, velocity)
        if self.settings.steers(pitch):  # an arranger's left hand: the band's chord, not music to hear
            self.mode.steer(stamp, pitch, velocity)
            return
        if velocity > 0:
            self.mode.key_struck(stamp)  # first: the mode may stop the bot at once
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
        self._voice_hears(stamp, pitch, velocity, self._part_of(channel, player=True))
        self.call.hear(stamp - self._voice_origin, pitch, velocity)
        self.mode.player_note(stamp, pitch, velocity, bool(self._player_down))

    def _let_voice_hear_the_answer(self) -> None:
        """The bot's notes reach the voice once the answer can no longer be undone."""
        for stamp, pitch, velocity, part in self._unheard_answer:
            self._voice_hears(stamp, pitch, velocity, part)
        self._unheard_answer.clear()

    def _voice_hears(self, stamp: float, pitch: int, velocity: int, part: int | None) -> None:
        if part is None:
            self.voice.hear(stamp - self._voice_origin, pitch, velocity)
        else:  # only a voice that plays a band is given parts (`_part_of`)
            self.voice.hear(stamp - self._voice_origin, pitch, velocity, part)

    def _control(self, stamp: float, channel: int, controller: int, value: int) -> None:
        previous = self._cc_values.get((channel, controller), 0)
        self._cc_values[(channel, controller)] = value
        pressed = previous < PRESSED <= value
        phrase_end = self.settings.phrase_end
        if phrase_end.signal == "pedal" and controller == messages.SUSTAIN and value < PRESSED <= previous:
            self.mode.phrase_trigger(stamp)
        elif phrase_end.signal == "cc" and controller == phrase_end.number and pressed:
            self.mode.phrase_trigger(stamp)
        name = self.settings.cc_map.get(controller)
        if name in ACTIONS:
            if pressed:
                self._act(name)
        elif name is not None:
            set_control(self.settings, name, CONTROLS[name].value(value, self.settings))
            self.stats.cc_changes += 1

    # -- actions (engine thread) ---------------------------------------------------------------------
    def _act(self, action: str) -> None:
        self.intake.interrupt.clear()
        {"panic": self.panic, "reroll": self.reroll, "undo": self.undo}[action]()

    def _adjust(self, name: str, steps: int) -> None:
        """A key of the live view moves a control as a CC would, or changes the mode."""
        if name == MODE:
            self._change_mode(steps)
        else:
            set_control(self.settings, name, stepped(self.settings, name, steps))
            self.stats.cc_changes += 1

    def _set(self, name: str, value: object) -> None:
        """An OSC message sets a control (or the mode) to a value, as a CC would."""
        if name == MODE:
            self._switch_mode(str(value))
        else:
            set_control(self.settings, name, value)
            self.stats.cc_changes += 1

    def _change_mode(self, steps: int) -> None:
        """The next mode (or the one before) takes over."""
        names = list(MODES)
        current = names.index(self.mode.name) if self.mode.name in names else -1
        self._switch_mode(names[(current + steps) % len(names)])

    def _switch_mode(self, name: str) -> None:
        """The mode named takes over: the bot stops, what it played so far stays part of the duet the voice
        heard, and the mode before gives back the settings it changed (`Mode.end`)."""
        self.scheduler.cancel()
        self._let_voice_hear_the_answer()
        self.mode.end()
        self.settings.mode = name
        self.mode = make_mode(name)
        self.mode.begin(self)

    def panic(self) -> None:
        """Silence the output now (the bot's notes, passed-through ones, All Notes Off); keep listening."""
        self._unheard_answer.clear()
        self.mode.panicked()
        self.scheduler.panic()
        self.stats.panics += 1

    def undo(self) -> None:
        """Forget the last answer: stop it if it sounds, and the model never hears it (until the player
        plays on, after which the answer is part of the duet)."""
        self.forget_answer()
        self.stats.undos += 1

    def reroll(self) -> None:
        """Discard the last answer and play a new one in its place (if the mode has one to re-roll)."""
        if self.mode.reroll():
            self.stats.rerolls += 1
