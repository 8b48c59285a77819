"""The port thread's side of the jam: parse each incoming message and hand it to the engine thread.

Nothing here composes or decides; the port's callback must return at once. The intake owns what only the
port thread (and, for the bot's own notes, the scheduler thread) touches: which keys it let into the
inbox, and the stamp of the player's latest strike. The inbox is bounded by `_admit`, not by the queue, so
a key-up is never dropped once its key-down got in: the engine never waits for a key-up that never comes.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Callable, NamedTuple, Union

from duetto.jam.controls import ACTIONS, CONTROLS, PRESSED
from duetto.jam.settings import JamSettings, JamStats
from duetto.midi import messages

PLAYER, BOT = "player", "bot"  # the two parts of the duet
MODE = "mode"  # adjusted like a control: the next mode, or the one before
# Key-downs waiting to be heard. Each costs a few model steps (about a millisecond), so a full inbox keeps
# the engine at most about a second behind the player; no human fills it, only a flood of messages does.
INBOX_LIMIT = 1_000
RELEASES = (messages.ALL_SOUND_OFF, messages.ALL_NOTES_OFF)


# The inbox's items, in the way mido's messages read: each says what happened and when (`stamp`, on the
# engine's clock).
class Played(NamedTuple):
    """A key went down (velocity > 0) or up, the player's or (as it was sent) the bot's."""

    part: str  # PLAYER or BOT
    stamp: float
    channel: int
    pitch: int
    velocity: int


class Timing(NamedTuple):
    """A MIDI Clock, Start, Continue, Stop or Song Position message."""

    stamp: float
    message: list[int]


class ControlChange(NamedTuple):
    stamp: float
    channel: int
    controller: int
    value: int


class PhraseTrigger(NamedTuple):
    """The player ended the phrase on purpose (`--phrase-end key:N`)."""

    stamp: float


class Action(NamedTuple):
    """Panic, reroll or undo, asked for from the live view or elsewhere."""

    stamp: float
    name: str


class Adjust(NamedTuple):
    """A control (or the mode) moved `steps` along, as a key of the live view moves it."""

    stamp: float
    name: str
    steps: int


class Set(NamedTuple):
    """A control (or the mode) given a value already checked against its range, as OSC gives it."""

    stamp: float
    name: str
    value: object


InboxItem = Union[Played, Timing, ControlChange, PhraseTrigger, Action, Adjust, Set]


class Intake:
    """Turns raw port messages into inbox items (`InboxItem`); None only wakes the engine thread to stop."""

    def __init__(self, settings: JamSettings, stats: JamStats, clock: Callable[[], float],
                 forward_note: Callable[[int, int, int], None], forward_message: Callable[[list[int]], None]) -> None:
        self.settings = settings
        self.inbox: queue.Queue[InboxItem | None] = queue.Queue()
        self._stats = stats
        self._clock = clock
        self._forward_note = forward_note  # pass-through: the scheduler sends the player's notes on
        self._forward_message = forward_message
        self._admitted_down: dict[str, set[tuple[int, int]]] = {PLAYER: set(), BOT: set()}
        self.latest_strike = -math.inf  # stamp of the player's latest key-down let into the inbox
        # an action (panic, undo, re-roll) waits: whoever composes stops now; the engine thread clears it
        self.interrupt = threading.Event()

    # -- the port's thread -------------------------------------------------------------------------
    def receive(self, message: list[int], stamp: float) -> None:
        """Port callback: parse and enqueue, nothing more.

        All Notes Off (or All Sound Off) from the player releases every key it holds on that channel: the
        way back when a note-off was lost on the way in (a MIDI system drops input under overload), which
        would otherwise leave the engine waiting for a key-up that never comes.
        """
        if messages.is_timing(message):
            self._enqueue_unpaired(Timing(stamp, list(message)))
            return
        settings = self.settings
        control = messages.parse_control(message)
        if control is not None:
            channel, controller, value = control
            if settings.input_channel not in (None, channel):
                return
            if controller in RELEASES:
                for _, pitch in sorted(key for key in self._admitted_down[PLAYER] if key[0] == channel):
                    self.receive(messages.note_off(channel, pitch), stamp)
                return
            if settings.passthrough and self._sounds(controller):
                self._forward_message(message)
            # an action stops an answer being composed at once; the engine thread then carries it out
            action = settings.cc_map.get(controller) in ACTIONS and value >= PRESSED
            self._enqueue_unpaired(ControlChange(stamp, channel, controller, value), interrupts=action)
            return
        note = messages.parse_note(message)
        if note is None:
            if (settings.passthrough and messages.is_channel_message(message)
                    and settings.input_channel in (None, messages.channel_of(message))):
                self._forward_message(message)  # pitch bend, pressure, program change
            return
        if settings.input_channel not in (None, note[0]):
            return
        if settings.phrase_end.signal == "key" and note[1] == settings.phrase_end.number:
            if note[2] > 0:
                self._enqueue_unpaired(PhraseTrigger(stamp))
            return
        if settings.passthrough and not settings.steers(note[1]):
            self._forward_note(*note)
        if note[0] == messages.DRUM_CHANNEL:
            return  # percussion: passed through, but no pitch for the key, the context or the model
        if self._admit(PLAYER, *note):
            if note[2] > 0:
                self.latest_strike = stamp
            self.inbox.put(Played(PLAYER, stamp, *note))

    def _sounds(self, controller: int) -> bool:
        """Whether a controller shapes the player's sound (a pedal, the mod wheel) rather than driving
        Duetto (a mapped knob, the phrase-end button): only the former is passed through."""
        phrase_end = self.settings.phrase_end
        return (controller not in messages.CHANNEL_MODE_CONTROLLERS and controller not in self.settings.cc_map
                and not (phrase_end.signal == "cc" and phrase_end.number == controller))

    def player_port_lost(self) -> None:
        """The player's port went away with keys down: let go of them (call once its callbacks have
        stopped), or the engine would wait for key-ups that never come."""
        for channel in range(16):
            self.receive(messages.control_change(channel, messages.ALL_NOTES_OFF, 0), self._clock())

    # -- any thread ----------------------------------------------------------------------------------
    def request(self, action: str) -> None:
        """Ask for panic, reroll or undo; the engine thread carries it out."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        self.interrupt.set()
        self.inbox.put(Action(self._clock(), action))

    def adjust(self, name: str, steps: int) -> None:
        """Ask for a control (or the mode) to move `steps` along, as a key of the live view does; the
        engine thread moves it, as it does for a CC."""
        if name != MODE and name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}")
        self.inbox.put(Adjust(self._clock(), name, steps))

    def set(self, name: str, value: object) -> None:
        """Ask for a control (or the mode) to take a value already checked against its range, as an OSC
        message does (duetto.jam.osc); the engine thread sets it."""
        if name != MODE and name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}")
        self.inbox.put(Set(self._clock(), name, value))

    def wake(self) -> None:
        """Wake the engine thread (to stop)."""
        self.inbox.put(None)

    @property
    def backlog(self) -> int:
        """Messages heard but not yet taken in by the engine thread (bounded, see `_admit`)."""
        return self.inbox.qsize()

    # -- the scheduler's thread ----------------------------------------------------------------------
    def bot_sent(self, stamp: float, channel: int, pitch: int, velocity: int) -> None:
        """The bot's note as it was sent: the engine hears the duet as it sounded."""
        if self._admit(BOT, channel, pitch, velocity):
            self.inbox.put(Played(BOT, stamp, channel, pitch, velocity))

    # -- bounds ----------------------------------------------------------------------------------------
    def _enqueue_unpaired(self, item: InboxItem, interrupts: bool = False) -> None:
        """Messages with no key-up to keep track of: dropped (and counted) when the inbox is full."""
        if self.inbox.qsize() >= INBOX_LIMIT:
            self._stats.dropped_messages += 1
            return
        if interrupts:  # before the item is in: the engine thread clears it when it takes the item
            self.interrupt.set()
        self.inbox.put(item)

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
        if self.inbox.qsize() >= INBOX_LIMIT:
            self._stats.dropped_messages += 1
            return False
        down.add(key)
        return True
