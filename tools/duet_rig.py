"""The other side of the duet: a player that performs notes into Duetto, and a recorder that listens.

The demo, the benchmarks and the integration tests all stand in for a musician the same way: a `Player`
sends a phrase into "Duetto In" at its written times and a `Recorder`, an independent client on "Duetto
Out", stamps what arrives. The recorder can say whether every note-on it heard was released. A
`ClockSender` is the DAW's transport (MIDI Clock), and `wait_until` the patient polling real ports need.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from duetto.encodings.events import key_events
from duetto.jam.modes.base import Mode
from duetto.jam.prompt import Prompt
from duetto.jam.session import JamSession, say
from duetto.jam.settings import JamSettings
from duetto.midi import messages
from duetto.midi.ports.base import Backend, OutputPort
from duetto.model.step_model import StepModel
from duetto.music.notes import KeyEvent, Note, notes_from_events

SPIN_SECONDS = 0.002


def sleep_until(deadline: float) -> None:
    """Sleep most of the way, then spin: sleeping alone wakes up to a millisecond or more late."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return
        if remaining > SPIN_SECONDS:
            time.sleep(remaining - SPIN_SECONDS)
        else:
            time.sleep(0)


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.01) -> bool:
    """Poll `condition` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class ClockSender:
    """A DAW's transport: MIDI Start, then Clock (MIDI Clock) at 24 per beat from its own thread until stopped.
    `first_tick` is when its first tick (the downbeat) was due, on the perf_counter clock."""

    def __init__(self, port: OutputPort, bpm: float) -> None:
        self.port = port
        self.tick_seconds = 60.0 / bpm / 24
        self.first_tick: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-sender", daemon=True)

    def start(self) -> "ClockSender":
        self._thread.start()
        return self

    def _run(self) -> None:
        self.port.send([messages.START])
        self.first_tick = first = time.perf_counter() + 0.01
        tick = 0
        while not self._stop.is_set():
            sleep_until(first + tick * self.tick_seconds)
            self.port.send([messages.CLOCK])
            tick += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class Player:
    def __init__(self, port: OutputPort, channel: int = 0) -> None:
        self.port = port
        self.channel = channel

    def play(self, notes: Sequence[Note], start: float | None = None,
             stop: threading.Event | None = None) -> float:
        """Perform notes in real time from `start` (perf_counter; default now). Returns the last release time.

        If `stop` is set midway, everything held is released at once.
        """
        start = time.perf_counter() if start is None else start
        held: set[int] = set()
        last_release = start
        try:
            for event in key_events(notes):
                if stop is not None and stop.is_set():
                    break
                sleep_until(start + event.seconds)
                if event.velocity > 0:
                    self.port.send(messages.note_on(self.channel, event.pitch, event.velocity))
                    held.add(event.pitch)
                else:
                    self.port.send(messages.note_off(self.channel, event.pitch))
                    held.discard(event.pitch)
                    last_release = time.perf_counter()
        finally:
            for pitch in sorted(held):
                self.port.send(messages.note_off(self.channel, pitch))
        return last_release


@dataclass(frozen=True)
class Heard:
    stamp: float
    message: tuple[int, ...]


@dataclass
class KeyTally:
    left_sounding: list[tuple[float, int, int]] = field(default_factory=list)  # (arrival, channel, pitch)
    releases_of_nothing: int = 0


class Recorder:
    """Collects everything arriving on a port, stamped on arrival; thread-safe."""

    QUIET_SECONDS = 0.25  # nothing heard for this long: what was sent before has arrived

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heard: list[Heard] = []
        self._last_arrival = time.perf_counter()

    def __call__(self, message: list[int], stamp: float) -> None:
        with self._lock:
            self._heard.append(Heard(stamp, tuple(message)))
            self._last_arrival = time.perf_counter()

    def wait_quiet(self, timeout: float = 3.0) -> bool:
        """Wait until nothing has arrived for QUIET_SECONDS (or `timeout` passes): call it before closing
        the port a count is read from. On a loaded machine, and always on a JACK server without real-time
        threads, the last note-offs can take tens of milliseconds to be delivered, and a port closed
        50 ms after the sender stopped counted notes as stuck that were released (CI, issue 20)."""
        def quiet() -> bool:
            with self._lock:
                return time.perf_counter() - self._last_arrival >= self.QUIET_SECONDS
        return wait_until(quiet, timeout, interval=0.02)

    @property
    def heard(self) -> list[Heard]:
        with self._lock:
            return list(self._heard)

    def key_events(self, since: float = 0.0, origin: float = 0.0) -> list[KeyEvent]:
        """Note messages after `since`, as key events timed from `origin`."""
        events = []
        for item in self.heard:
            note = messages.parse_note(list(item.message)) if item.stamp >= since else None
            if note is not None:
                events.append(KeyEvent(item.stamp - origin, note[1], note[2]))
        return events

    def notes(self, since: float = 0.0, origin: float = 0.0) -> list[Note]:
        return sorted(notes_from_events(self.key_events(since, origin)))

    def first_note_on(self, since: float) -> float | None:
        for event in self.key_events(since):
            if event.velocity > 0:
                return event.seconds
        return None

    def unmatched_note_ons(self, all_notes_off_releases: bool = True) -> int:
        """Note-ons never followed by a note-off (or, unless told otherwise, All Notes Off on their channel;
        a strict count asks every note-on for its own note-off)."""
        return len(self.key_tally(all_notes_off_releases).left_sounding)

    def key_tally(self, all_notes_off_releases: bool = True) -> KeyTally:
        """Which note-ons were never released, and how many note-offs came for no key sounding (the sign of
        a note-on lost on the way, where a stuck note is the sign of a lost note-off)."""
        tally, sounding = KeyTally(), {}  # (channel, pitch) -> the arrival stamps of its note-ons not yet released
        for item in self.heard:
            note, control = messages.parse_note(list(item.message)), messages.parse_control(list(item.message))
            if note is not None and note[2] > 0:
                sounding.setdefault(note[:2], []).append(item.stamp)
            elif note is not None and sounding.get(note[:2]):
                sounding[note[:2]].pop()
            elif note is not None:
                tally.releases_of_nothing += 1
            elif control is not None and control[1] == messages.ALL_NOTES_OFF and all_notes_off_releases:
                for key in [key for key in sounding if key[0] == control[0]]:
                    del sounding[key]
        tally.left_sounding = sorted((stamp, channel, pitch) for (channel, pitch), stamps in sounding.items()
                                     for stamp in stamps)
        return tally

    def count(self, status: int, data1: int | None = None) -> int:
        return sum(1 for item in self.heard if item.message[0] == status
                   and (data1 is None or item.message[1] == data1))


class DuetRig:
    """A `JamSession` on a pair of virtual ports, with a `Player` wired to its input and a `Recorder` to its
    output.

    The demo, the real-port tests and the latency benchmark all set the bot up this way. With rtmidi each
    port is its own client, so the recorder is as independent of the bot as a synth would be.
    """

    SETTLE_SECONDS = 0.2  # JACK and ALSA connect ports asynchronously

    def __init__(self, backend: Backend, model: StepModel, settings: JamSettings, name: str = "Duetto",
                 mode: Mode | None = None, log: Callable[[str], None] = say, prompt: Prompt | None = None) -> None:
        self.session = JamSession(backend, model, settings, name=name, mode=mode, log=log, prompt=prompt).__enter__()
        self.engine = self.session.engine
        self.recorder = Recorder()
        self.listener = backend.open_input(f"{name} Out", self.recorder)
        self.player_port = backend.open_output(f"{name} In")
        self.player = Player(self.player_port)
        time.sleep(self.SETTLE_SECONDS)

    def wait_until_answered(self, since: float, timeout: float) -> bool:
        """Until an answer that began at or after `since` (perf_counter, say the phrase's last release) has
        been composed and played in full, or the timeout passes.

        Asking by time rather than by a count of answers matters: an earlier answer still playing when the
        phrase began is cut short by it, and must not pass for the answer to the phrase.
        """
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            engine = self.engine
            if engine.answer_began_at >= since and not engine.composing and not engine.scheduler.busy:
                return True
            time.sleep(0.005)
        return False

    def messages_lost_in_transport(self) -> int:
        """The bot's messages the recorder never heard: what the transport dropped (JACK loses the MIDI of a
        cycle a loaded client misses), told apart from a note the bot itself left sounding."""
        return max(0, self.engine.scheduler.sent - len(self.recorder.heard))

    def close(self) -> None:
        """Stop the engine (releasing its notes), let the last messages arrive, close every port."""
        self.player_port.close()
        self.session.close()
        self.recorder.wait_quiet()
        self.listener.close()
