"""Real MIDI ports through python-rtmidi: ALSA and JACK on Linux, CoreMIDI on macOS, MM on Windows.

Each rtmidi port is its own client on the MIDI system. Virtual ports are named as asked ("Duetto In"), and
ports to connect to are found by exact name or by a unique case-insensitive part of the name, so
`--in keystation` finds "Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0". The port Duetto makes to
connect to one is named after Duetto ("Duetto Out", or the backend's `own_name`), never after the other
program's port: `--out fluidsynth` must not add a "fluidsynth" that reads as the synth's own.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from typing import Callable, Iterator, TypeVar

import rtmidi

from duetto.midi.ports.base import PortError, Receive, match_port
from duetto.midi.ports.libjack import (jack_connect, jack_connections, jack_midi_ports, jack_period_seconds,
                                       quiet_libjack)

APIS = {
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "windows": rtmidi.API_WINDOWS_MM,
}
AUTO_ORDER = {"linux": ("alsa", "jack"), "darwin": ("coremidi",), "win32": ("windows",)}
HELP = {
    "alsa": "the ALSA sequencer is missing (no /dev/snd/seq: load snd-seq, or run JACK)",
    "jack": "no JACK server is running (start one, e.g. `jackd -d dummy`, or use PipeWire's JACK)",
    "coremidi": "CoreMIDI is only on macOS",
    "windows": "Windows MIDI is only on Windows",
}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what C libraries print while probing (libjack complains loudly when no server runs)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            sys.stderr.flush()
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _probe(api_name: str) -> str | None:
    """None if the API works here, else the reason it does not."""
    api = APIS[api_name]
    if api not in rtmidi.get_compiled_api():
        return HELP[api_name]
    try:
        with _quiet_stderr():
            rtmidi.MidiOut(api, name="Duetto probe").delete()
    except (rtmidi.SystemError, RuntimeError):
        return HELP[api_name]
    return None


# time for JACK's process thread to leave a port it had begun a cycle with: a few periods, and then some
CLOSE_SETTLE_SECONDS = 0.02
# A JACK port just opened is tried with this byte (MIDI's undefined system real-time status, which every
# receiver ignores) before it is handed out; see RtMidiBackend._passes.
PROBE = 0xFD
PROBE_CLIENT = "Duetto check"  # the short-lived client that sends or listens for it
PROBE_SECONDS = 0.5  # a running client passes it within a period or two; a loaded machine takes longer
PROBE_EVERY = 0.01  # sent again this often: a new connection carries messages from the next cycle on
OPEN_TRIES = 4  # a port that passes nothing is closed and opened again, this many opens in all
REFUSED_PAUSE_SECONDS = 0.25  # a JACK too busy to make a client (a loaded machine) is asked again after this

Opened = TypeVar("Opened")


class _Refused(PortError):
    """The MIDI system would not make a client or port this time (on JACK: a server busy on a loaded
    machine, or still removing the client of the same name just closed)."""


def _patiently(open_once: Callable[[], Opened]) -> Opened:
    """What `open_once` opens; on JACK a refusal is asked again, OPEN_TRIES times in all, the last refusal
    raised. (Seen under load: a jam's input found asleep, closed and opened again, and JACK refusing
    the new client, "JACK error creating virtual port": a jam that did not start.)"""
    for _ in range(OPEN_TRIES - 1):
        try:
            return open_once()
        except _Refused:
            time.sleep(REFUSED_PAUSE_SECONDS)
    return open_once()


def _free(midi: rtmidi.MidiIn | rtmidi.MidiOut) -> None:
    """Close an rtmidi port and free it and its client, letting the MIDI system's thread leave it first.

    RtMidi's JACK process callback (in C++) looks whether its port is open and then uses it and, for an
    output, the ring buffer of messages waiting to go out. Freeing the object unregisters the port and
    frees that buffer at once, before it closes the client that runs the callback: a callback that had
    just looked read freed memory, a native crash now and then when ports closed under traffic (issue
    20). Once the port is closed, every cycle that begins sees it so and does nothing; the cycle already
    under way ends within a period (a few milliseconds at most), so the object is freed after that.
    """
    midi.close_port()
    time.sleep(CLOSE_SETTLE_SECONDS)
    midi.delete()  # ends its client on the MIDI system now, not whenever it is collected


def _open(midi, name: str, own_name: str, virtual: bool, direction: str) -> str:
    """Open a virtual port called `name`, or connect a port called `own_name` to the port `name` names
    (see `match_port`) among those the rtmidi object lists itself: a port opened or closed meanwhile by
    another program shifts no index. Returns the name of the port opened or connected to."""
    if virtual:
        midi.open_virtual_port(name)
        return name
    ports = midi.get_ports()
    match = match_port(name, ports, direction)
    midi.open_port(ports.index(match), name=own_name)
    return match


class ArrivalStamps:
    """`time.perf_counter()` stamps of when messages reached this port, as exact as the MIDI system knows.

    The port's thread delivers a message when it next looks and gets the interpreter, which on a busy
    machine can be milliseconds after the MIDI system took the message in; the system's own time between
    messages (rtmidi's delta) does not suffer that delay. So each message is stamped on the system's
    timeline, placed on the perf_counter timeline by the smallest (least delayed) offset seen lately: a
    delay can only make a delivery later, never earlier, so the stamp lies between the true arrival and
    the delivery. The offset may creep up slowly (RISE, in case the two clocks drift) and drops back at
    the next message that comes through without delay. MIDI Clock followed this way keeps the beat within
    a JACK period on a loaded machine. A few operations per message: cheap enough for a flood.
    """

    RISE = 0.001  # seconds the offset may rise per second of the system's time
    RESYNC_SECONDS = 0.5  # a stamp this far before the callback means the system's times went astray

    def __init__(self) -> None:
        self._system = 0.0  # seconds on the MIDI system's timeline since the first message
        self._offset: float | None = None  # perf_counter minus system time, least delayed lately

    def stamp(self, delta: float, now: float) -> float:
        delta = max(0.0, delta)
        self._system += delta
        sample = now - self._system
        self._offset = sample if self._offset is None else min(sample, self._offset + self.RISE * delta)
        stamped = self._system + self._offset
        if now - stamped > self.RESYNC_SECONDS:
            self._offset, stamped = sample, now
        return stamped


class RtMidiInput:
    """An input whose messages reach `callback` on a thread of its own, never on the MIDI system's.

    Why not rtmidi's callback: on JACK it runs Python on JACK's real-time process thread, which must then
    wait for the GIL, and JACK ends a client by cancelling that thread wherever it stands
    (`jack_client_close` -> `pthread_cancel`). A callback in flight, or waiting for the GIL, while the
    port closed was a native crash (issue 20), and `cancel_callback` freed the callback's data under a
    call in flight. So the process thread only queues what arrives (rtmidi's own lock-free queue, pure
    C++), and the port's thread takes it out and delivers it. That thread is the one owner of the rtmidi
    object: it alone reads the queue and, when told to stop, frees the port and its client; `close`
    waits for it, so once `close` returns no delivery is running or can begin, from any thread, twice or
    not.
    """

    POLL_SECONDS = 0.0005  # an empty queue is looked at again this soon: at most this much added latency
    QUEUE_LIMIT = 16_384  # messages queued while the thread waits for the GIL: 0.8 s of a 20k msg/s flood

    def __init__(self, api: int, name: str, own_name: str, callback: Receive, virtual: bool) -> None:
        midi = rtmidi.MidiIn(api, name=name if virtual else own_name, queue_size_limit=self.QUEUE_LIMIT)
        try:
            midi.ignore_types(sysex=True, timing=False, active_sense=True)  # MIDI Clock must come through
            self.name = _open(midi, name, own_name, virtual, "input")
        except BaseException:
            midi.delete()  # rtmidi never frees an object left to the collector: its JACK client would stay
            raise
        self._stop = threading.Event()
        self.probed = threading.Event()  # a probe byte came through (and was kept from the callback)
        self._thread = threading.Thread(target=self._deliver, args=(midi, callback), daemon=True,
                                        name=f"MIDI in {self.name}")
        self._thread.start()

    def _deliver(self, midi: rtmidi.MidiIn, callback: Receive) -> None:
        """The port's thread: deliver what arrives until told to stop, then free the port and its client."""
        stamps = ArrivalStamps()
        try:
            while not self._stop.is_set():
                event = midi.get_message()
                if event is None:
                    time.sleep(self.POLL_SECONDS)
                    continue
                if event[0] == [PROBE]:
                    self.probed.set()
                    continue
                try:
                    callback(event[0], stamps.stamp(event[1], time.perf_counter()))
                except Exception:  # one message a receiver chokes on must not deafen the port for good
                    traceback.print_exc()
        finally:
            _free(midi)

    def close(self) -> None:
        """Stop delivery and free the port; returns once both are done (at once on the port's thread,
        whose delivery ends as the callback returns)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()


class RtMidiOutput:
    """An output any thread may send on and any thread close: one lock keeps a send from ever reaching
    the rtmidi object while, or after, it is freed."""

    def __init__(self, api: int, name: str, own_name: str, virtual: bool) -> None:
        self._midi: rtmidi.MidiOut | None = rtmidi.MidiOut(api, name=name if virtual else own_name)
        try:
            self.name = _open(self._midi, name, own_name, virtual, "output")
        except BaseException:
            self._midi.delete()  # rtmidi never frees an object left to the collector: its client would stay
            raise
        self._lock = threading.Lock()

    def send(self, message: list[int]) -> None:
        with self._lock:
            if self._midi is None:  # after close() the C++ object is freed: touching it would crash
                raise PortError(f"MIDI output {self.name!r} is closed")
            self._midi.send_message(message)

    def close(self) -> None:
        with self._lock:
            if self._midi is not None:
                _free(self._midi)
                self._midi = None


Port = TypeVar("Port", RtMidiInput, RtMidiOutput)


class RtMidiBackend:
    """Ports on one MIDI system. `own_name` names the ports Duetto makes to connect to other programs'
    ports, client and port alike: "Duetto In", "Duetto Out" by default; a second bot (`--name Bass`)
    passes its own, so its connections read "Bass In", "Bass Out"."""

    def __init__(self, api_name: str, own_name: str = "Duetto") -> None:
        self.name = api_name
        self.api = APIS[api_name]
        self.own_name = own_name
        if api_name == "jack":
            quiet_libjack()  # Duetto says in one line what libjack would say in several

    @classmethod
    def select(cls, name: str = "auto", own_name: str = "Duetto") -> "RtMidiBackend":
        """The named backend if it works here, or the first that works for `auto`; else a PortError."""
        if name != "auto" and name not in APIS:
            raise PortError(f"unknown MIDI backend {name!r}: use auto, {', '.join(APIS)} or loopback")
        candidates = AUTO_ORDER.get(sys.platform, ("alsa", "jack")) if name == "auto" else (name,)
        reasons = []
        for candidate in candidates:
            reason = _probe(candidate)
            if reason is None:
                return cls(candidate, own_name)
            reasons.append(reason)
        raise PortError("no usable MIDI system: " + "; ".join(reasons))

    @property
    def supports_virtual_ports(self) -> bool:
        return self.name != "windows"

    def _list(self, midi_class) -> list[str]:
        """Port names. On JACK through the process's one question client (duetto.midi.ports.libjack: a
        client opened for each look is what leaves JACK's wake-up handles stale); elsewhere, or where
        libjack cannot answer, through a short-lived client of rtmidi's. A MIDI system that will not make
        one (JACK busy or gone) is a PortError, like every other failure of the ports."""
        if self.name == "jack":
            with _quiet_stderr():
                listed = jack_midi_ports("input" if midi_class is rtmidi.MidiOut else "output")
            if listed is not None:
                return listed
        with _quiet_stderr():
            try:
                probe = midi_class(self.api, name="Duetto list")
            except (rtmidi.SystemError, RuntimeError) as error:
                raise PortError(f"cannot list MIDI ports on {self.name}: {error}") from None
            try:
                return list(probe.get_ports())
            finally:
                probe.delete()

    def input_names(self) -> list[str]:
        """Ports Duetto can listen to (other programs' outputs and hardware inputs)."""
        return self._list(rtmidi.MidiIn)

    def output_names(self) -> list[str]:
        """Ports Duetto can play into (synths, DAW tracks, hardware outputs)."""
        return self._list(rtmidi.MidiOut)

    def transport_latency(self) -> float:
        """Mean seconds a message spends between two clients: half a period on JACK, which moves MIDI
        once per period (0 if its period cannot be read); ALSA, CoreMIDI and Windows deliver at once."""
        if self.name != "jack":
            return 0.0
        with _quiet_stderr():  # libjack says why, loudly, when it cannot connect
            period = jack_period_seconds()
        return 0.0 if period is None else period / 2

    def connected(self, target: str, direction: str) -> bool:
        """Whether Duetto's own port of `direction` ("input" or "output") is connected to the port
        `target`. Only JACK is asked (where a peer that restarted between two looks at the port list
        leaves its namesake unconnected); elsewhere, and when JACK cannot say, a listed port counts as
        connected. JACK names a second client of one name "NAME-01", so those count as ours too."""
        if self.name != "jack":
            return True
        with _quiet_stderr():
            peers = jack_connections(target)
        if peers is None:
            return True
        ours = f"{self.own_name} {'Out' if direction == 'output' else 'In'}"
        clients = (peer.split(":", 1)[0] for peer in peers)
        return any(client == ours or client.startswith(ours + "-") for client in clients)

    def _check_virtual(self, virtual: bool) -> None:
        if virtual and not self.supports_virtual_ports:
            raise PortError("Windows has no virtual MIDI ports: create one with loopMIDI and pass its "
                            "name with --in/--out")

    def open_input(self, name: str, callback: Receive, virtual: bool = False) -> RtMidiInput:
        self._check_virtual(virtual)
        own = name if virtual else f"{self.own_name} In"
        return self._open_passing("input", name, own, lambda: RtMidiInput(self.api, name, own, callback, virtual))

    def open_output(self, name: str, virtual: bool = False) -> RtMidiOutput:
        self._check_virtual(virtual)
        own = name if virtual else f"{self.own_name} Out"
        return self._open_passing("output", name, own, lambda: RtMidiOutput(self.api, name, own, virtual))

    def _open_passing(self, direction: str, name: str, own: str, make: Callable[[], Port]) -> Port:
        """The port `make` opens, called `own`; on JACK, opened again until it passes MIDI (`_passes`)."""
        if self.name != "jack":
            return self._make(direction, name, make)
        peers: list[str] = []  # what others had connected to a port opened asleep: connected again
        for _ in range(OPEN_TRIES):
            probe = _patiently(lambda: self._probe_client(direction, name))  # sends into it, or listens to it
            port = None
            try:
                before = probe.get_ports()
                port = _patiently(lambda: self._make(direction, name, make))
                full = self._find(probe, before, own)
                if full is None:
                    return port
                jack_connect([(peer, full) if direction == "input" else (full, peer) for peer in peers])
                if self._passes(port, probe, full) or self._passes_second_probe(port, direction, name, full):
                    return port
            except BaseException:
                if port is not None:
                    port.close()  # never left open, unreturned, when the probe itself fails
                raise
            finally:
                _free(probe)
            with _quiet_stderr():
                peers = [peer for peer in jack_connections(full) or [] if not peer.startswith(PROBE_CLIENT)]
            port.close()  # which clears the stale handle it slept on: the next client given its number wakes
        raise PortError(f"MIDI {direction} {name!r}: JACK never ran its client ({OPEN_TRIES} tries)")

    def _probe_client(self, direction: str, name: str) -> rtmidi.MidiIn | rtmidi.MidiOut:
        with _quiet_stderr():
            try:
                return (rtmidi.MidiOut if direction == "input" else rtmidi.MidiIn)(self.api, name=PROBE_CLIENT)
            except (rtmidi.SystemError, RuntimeError) as error:
                raise _Refused(f"cannot open MIDI {direction} {name!r} on {self.name}: {error}") from None

    def _passes_second_probe(self, port: Port, direction: str, name: str, full: str) -> bool:
        """Whether the port passes a second probe client's byte: the first probe may be the client asleep
        (it is opened while the first still holds its number, so it is given another)."""
        probe = _patiently(lambda: self._probe_client(direction, name))
        try:
            return self._passes(port, probe, full)
        finally:
            _free(probe)

    def _make(self, direction: str, name: str, make: Callable[[], Port]) -> Port:
        try:
            return make()
        except (rtmidi.SystemError, rtmidi.InvalidPortError, RuntimeError) as error:
            raise _Refused(f"cannot open MIDI {direction} {name!r} on {self.name}: {error}") from None

    @staticmethod
    def _find(probe: rtmidi.MidiIn | rtmidi.MidiOut, before: list[str], own: str) -> str | None:
        """The full name ("client:port") of Duetto's new port called `own`, absent from the listing
        `before`, as the `probe` client lists it now; None where that can't be told (another program's
        port of that name appeared too, or JACK did not answer)."""
        try:
            listed = probe.get_ports()
        except (rtmidi.SystemError, RuntimeError):
            return None
        known = set(before)
        ours = [full for full in listed if full not in known and full.split(":", 1)[-1] == own]
        return ours[0] if len(ours) == 1 else None

    @staticmethod
    def _passes(port: RtMidiInput | RtMidiOutput, probe: rtmidi.MidiIn | rtmidi.MidiOut, full: str) -> bool:
        """Whether a probe byte sent through Duetto's new JACK `port` (listed as `full`) reaches the
        `probe` client, or from it the port.

        libjack (jack2 1.9.x, the copy python-rtmidi bundles too) keeps one table of wake-up handles per
        process, by client number. A client that comes and goes while another client of the process is
        being opened can leave its handle there (jack2 issue 721); the next client of the process given
        its number waits on the departed one's handle, which nobody signals, and its process thread
        sleeps in its first cycle for good: the port is listed and connected, and passes nothing. It
        was a band part silent from its first note, one start in ten on a loaded machine where another
        program listed ports as Duetto opened its own. Closing the port clears the handle, so a port
        that passes nothing is opened again, and what others connected to it meanwhile is connected to
        the new one. The probe (PROBE, ignored by receivers) goes through a short-lived client of its
        own, which may itself be the one asleep: a port is only judged asleep when a second probe client
        fails too. An input keeps the probe from its callback.
        """
        into_input = isinstance(port, RtMidiInput)
        try:
            listed = probe.get_ports()
            if full not in listed:
                return True  # gone already: the port checks of whoever opened it will say so
            probe.open_port(listed.index(full), name="check")
            if not into_input:
                probe.ignore_types(sysex=True, timing=True, active_sense=True)
            give_up = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < give_up:
                if into_input:
                    probe.send_message([PROBE])
                    if port.probed.wait(PROBE_EVERY):
                        return True
                    continue
                port.send([PROBE])
                time.sleep(PROBE_EVERY)
                while (event := probe.get_message()) is not None:
                    if event[0] == [PROBE]:
                        return True
            return False
        except (rtmidi.SystemError, rtmidi.InvalidPortError, RuntimeError):
            return True  # JACK busy: the port checks of whoever opened it will say if it is not there
