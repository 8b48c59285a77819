"""The output scheduler: sends the bot's notes at their intended times, and never leaves one hanging.

One thread owns the output port. It sleeps until just before the next event, then spins for the last
stretch, because a sleeping thread wakes late by up to a millisecond or more. It remembers every note it
has sounded; `cancel` releases them at once (barge-in), `panic` and `close` also send All Notes Off on
every channel used. A safety release is queued with every note-on, so even if whoever scheduled the note
dies before asking for its note-off, the note still ends after `max_note_seconds`.

The player's own notes can be passed through (`forward`): they queue for sending now, on this same
thread, so one writer owns the port. They are kept apart from the bot's notes: a barge-in (`cancel`)
leaves the keys the player is holding alone, they get no safety release (the player's key-up ends them),
and `panic` and `close` release them too. So does the player's expression (`forward_message`: pedals,
pitch bend, pressure, controllers): a sustain pedal left down would hold every note of the synth, so
`panic` and `close` lift any pedal passed through down and re-centre a bent pitch.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from duetto.midi import messages

SPIN_SECONDS = 0.002

Send = Callable[[list[int]], None]
SentListener = Callable[[float, int, int, int], None]  # (seconds, channel, pitch, velocity; 0 = release)


@dataclass(order=True)
class _Event:
    at: float
    is_note_on: bool  # at equal times, releases go first
    sequence: int
    channel: int = field(compare=False)
    pitch: int = field(compare=False)
    velocity: int = field(compare=False)
    safety_for: int | None = field(compare=False, default=None)  # a safety release names its note-on
    forwarded: bool = field(compare=False, default=False)  # the player's note, passed through
    message: tuple[int, ...] | None = field(compare=False, default=None)  # a passed-through non-note message


class Sent(NamedTuple):
    """One scheduled event as it left: what the latency bench and the timing tests measure (see "Measuring"
    in docs/architecture.md)."""

    intended: float  # when it was meant to leave, on the scheduler's clock
    sent_at: float  # when it did
    message: tuple[int, ...] | None  # what went out; None when a release found nothing left to release


class Planned(NamedTuple):
    """One of the bot's notes queued and not yet begun."""

    start: float
    end: float | None  # None: no release queued for it yet
    pitch: int
    channel: int
    velocity: int


class Scheduler:
    def __init__(self, send: Send, clock: Callable[[], float] = time.perf_counter,
                 on_sent: SentListener | None = None, max_note_seconds: float = 8.0) -> None:
        self._send = send
        self._clock = clock
        self._on_sent = on_sent
        self._max_note_seconds = max_note_seconds
        self._heap: list[_Event] = []
        self._sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> sequence of its note-on
        self._forwarded: set[tuple[int, int]] = set()  # the player's keys sounding through the output
        self._pedals_down: set[tuple[int, int]] = set()  # (channel, controller) the player holds down
        self._bent: set[int] = set()  # channels whose pitch the player bent away from the centre
        self._channels_used: set[int] = set()
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        # every scheduled event as it went out (the most recent 10,000): part of the measurement API
        self.timeline: deque[Sent] = deque(maxlen=10_000)
        self.sent = 0  # messages the port took; with send_errors, what the session's output watch reads
        self.send_errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="duetto-scheduler", daemon=True)
        self._thread.start()

    def note_on(self, at: float, channel: int, pitch: int, velocity: int) -> None:
        self._push(_Event(at, True, next(self._sequence), channel, pitch, velocity))

    def note_off(self, at: float, channel: int, pitch: int) -> None:
        self._push(_Event(at, False, next(self._sequence), channel, pitch, 0))

    def forward(self, channel: int, pitch: int, velocity: int) -> None:
        """Pass one of the player's note messages through to the output, now (any thread)."""
        self._push(_Event(self._clock(), velocity > 0, next(self._sequence), channel, pitch, velocity,
                          forwarded=True))

    def forward_message(self, message: list[int]) -> None:
        """Pass one of the player's other channel messages through to the output, now (any thread)."""
        self._push(_Event(self._clock(), True, next(self._sequence), messages.channel_of(message), 0, 0, forwarded=True,
                          message=tuple(message)))

    def _push(self, event: _Event) -> None:
        with self._condition:
            if self._closed:
                return
            heapq.heappush(self._heap, event)
            self._condition.notify()

    def plan(self) -> list[Planned]:
        """The bot's notes queued and not yet begun, in order (any thread): what the live view shows ahead
        of time, and what a band voices again when the tune moves (`repitch`)."""
        with self._condition:
            return [Planned(on.at, None if off is None else off.at, on.pitch, on.channel, on.velocity)
                    for on, off in self._queued_notes()]

    def repitch(self, pitches: dict[tuple[float, int, int], int]) -> int:
        """Move the bot's queued notes named by (start, channel, pitch), as `plan` lists them, to new
        pitches, their releases with them; a note begun meanwhile stays as it is (any thread). Returns how
        many moved."""
        with self._condition:
            safety = {event.safety_for: event for event in self._heap if event.safety_for is not None}
            moved = 0
            for on, off in self._queued_notes():
                pitch = pitches.get((on.at, on.channel, on.pitch))
                if pitch is not None:
                    for event in (on, off, safety.get(on.sequence)):
                        if event is not None:
                            event.pitch = pitch  # not part of the queue's order: the heap stays a heap
                    moved += 1
            return moved

    def _queued_notes(self) -> list[tuple[_Event, _Event | None]]:
        """The bot's queued note-ons in order, each with the first release queued after it for its key
        (None if none is). Called with the lock held."""
        queued = sorted(event for event in self._heap if event.safety_for is None and not event.forwarded)
        notes, open_on = [], {}
        for event in queued:
            key = (event.channel, event.pitch)
            if event.is_note_on:
                open_on[key] = len(notes)
                notes.append((event, None))
            elif key in open_on:
                index = open_on.pop(key)
                notes[index] = (notes[index][0], event)
        return notes

    @property
    def busy(self) -> bool:
        """True while notes sound or wait to be played."""
        with self._condition:
            return bool(self._sounding) or any(event.safety_for is None and not event.forwarded
                                               for event in self._heap)

    def cancel(self) -> int:
        """Drop everything pending and release every sounding note now. Returns how many were released."""
        with self._condition:
            if self._closed:
                return 0  # close() released everything already, and the port may be gone
            self._heap = [event for event in self._heap if event.forwarded]
            heapq.heapify(self._heap)
            released = self._release_all()
            self._condition.notify()
            return released

    def replan(self, keep_sounding: Callable[[int, int], bool]) -> None:
        """Drop the bot's notes queued and not yet begun, and release now the sounding ones for which
        `keep_sounding(channel, pitch)` is false; the rest play out to their own release (any thread).
        What a band does when the harmony changes under notes it composed ahead (duetto.jam.modes.band)."""
        with self._condition:
            if self._closed:
                return
            now = self._clock()
            for channel, pitch in sorted(self._sounding):
                if not keep_sounding(channel, pitch):
                    self._emit(now, channel, pitch, 0)
            kept, releasing = [], set()
            for event in sorted(self._heap):
                key = (event.channel, event.pitch)
                if event.forwarded or event.safety_for is not None:
                    kept.append(event)
                elif not event.is_note_on and key in self._sounding and key not in releasing:
                    releasing.add(key)  # a note playing on: its own release, the first one queued for its key
                    kept.append(event)
            self._heap = kept  # a sorted list is a heap
            self._condition.notify()

    def panic(self) -> None:
        """Silence everything now, the player's passed-through notes too, then All Notes Off on every
        channel used; scheduling goes on afterwards."""
        with self._condition:
            if not self._closed:
                self._silence()
                self._condition.notify()

    def close(self) -> None:
        """Release everything, send All Notes Off on the channels used, and stop the thread. Idempotent."""
        with self._condition:
            if self._closed:
                return
            self._silence()
            self._closed = True
            self._condition.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    def _silence(self) -> None:
        self._heap.clear()
        self._release_all()
        for message in messages.silence(self._channels_used, self._forwarded, self._pedals_down, self._bent):
            self._transmit(message)
        self._forwarded.clear()
        self._pedals_down.clear()
        self._bent.clear()

    def _release_all(self) -> int:
        """Release the bot's sounding notes (not the player's passed-through ones)."""
        now = self._clock()
        sounding = sorted(self._sounding)
        for channel, pitch in sounding:
            self._emit(now, channel, pitch, 0)
        return len(sounding)

    def _emit(self, now: float, channel: int, pitch: int, velocity: int) -> None:
        """Send one note message and keep the books. Called with the lock held."""
        key = (channel, pitch)
        if velocity > 0:
            if key in self._sounding:
                self._emit(now, channel, pitch, 0)
            self._transmit(messages.note_on(channel, pitch, velocity))
            self._channels_used.add(channel)
        else:
            self._transmit(messages.note_off(channel, pitch))
            self._sounding.pop(key, None)
        if self._on_sent is not None:
            self._on_sent(now, channel, pitch, velocity)

    def _transmit(self, message: list[int]) -> None:
        """Send, surviving a port that has gone away: the books stay right and the thread stays alive."""
        try:
            self._send(message)
            self.sent += 1
        except Exception as error:  # noqa: BLE001 - any backend failure must not kill the scheduler
            self.send_errors += 1
            self.last_error = f"{type(error).__name__}: {error}"

    def _pass_through(self, event: _Event) -> None:
        if event.message is not None:
            self._pass_message(event.channel, event.message)
            return
        key = (event.channel, event.pitch)
        if event.velocity > 0:
            self._transmit(messages.note_on(event.channel, event.pitch, event.velocity))
            self._forwarded.add(key)
            self._channels_used.add(event.channel)
        elif key in self._forwarded:
            self._transmit(messages.note_off(event.channel, event.pitch))
            self._forwarded.discard(key)

    def _pass_message(self, channel: int, message: tuple[int, ...]) -> None:
        self._transmit(list(message))
        self._channels_used.add(channel)
        control = messages.parse_control(list(message))
        if control is not None and control[1] in messages.PEDALS:
            if control[2] >= messages.SWITCH_ON:
                self._pedals_down.add((channel, control[1]))
            else:
                self._pedals_down.discard((channel, control[1]))
        elif messages.is_pitch_bend(message):
            if tuple(message[1:]) == messages.BEND_CENTRE:
                self._bent.discard(channel)
            else:
                self._bent.add(channel)

    def _play(self, event: _Event, now: float) -> None:
        if event.forwarded:
            self._pass_through(event)
            return
        key = (event.channel, event.pitch)
        if event.velocity > 0:
            self._emit(now, event.channel, event.pitch, event.velocity)
            self._sounding[key] = event.sequence
            safety = _Event(now + self._max_note_seconds, False, next(self._sequence), event.channel,
                            event.pitch, 0, safety_for=event.sequence)
            heapq.heappush(self._heap, safety)
            sent = tuple(messages.note_on(event.channel, event.pitch, event.velocity))
        elif key in self._sounding and event.safety_for in (None, self._sounding[key]):
            self._emit(now, event.channel, event.pitch, 0)
            sent = tuple(messages.note_off(event.channel, event.pitch))
        else:
            sent = None
        if event.safety_for is None:
            self.timeline.append(Sent(event.at, now, sent))

    @property
    def lateness(self) -> list[float]:
        """Seconds each scheduled event left after its intended time (the most recent 10,000)."""
        return [sent.sent_at - sent.intended for sent in list(self.timeline)]

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._heap or self._heap[0].at - self._clock() > SPIN_SECONDS):
                    timeout = self._heap[0].at - self._clock() - SPIN_SECONDS if self._heap else None
                    self._condition.wait(timeout)
                if self._closed:
                    return
                due = self._heap[0].at
            while self._clock() < due:
                time.sleep(0)  # spin, but let other threads take the interpreter
            with self._condition:
                now = self._clock()
                while self._heap and self._heap[0].at <= now:
                    self._play(heapq.heappop(self._heap), now)
