"""`duetto jam --osc PORT`: Open Sound Control in and out, the way Max, Pure Data, SuperCollider,
TidalCycles and TouchOSC drive instruments (the optional `osc` extra, python-osc).

In, over UDP on 127.0.0.1 (another address only when `--osc-host` names it: OSC has no authentication, so
anyone who can reach the port can play with the bot's settings):

  /duetto/<control> VALUE    set a control a CC can move (duetto.jam.controls) to VALUE, in the control's own
                             range (temperature 0.7, lowest 48, scale_lock 1); style and texture by name
  /duetto/<control>/step N   move it N steps, as the live view's keys do (temperature +1, the next style)
  /duetto/panic, /duetto/reroll, /duetto/undo [1]
                             the actions; a button's release (0) does nothing
  /duetto/mode [NAME]        the next mode, as the view's m key, or the one named

Out, to `--osc-send HOST:PORT`, from the status the engine publishes every 0.1 s:
  /duetto/note PART PITCH    a note struck, PART "player" or "bot"
  /duetto/answer begin|end   an answer began to sound, and finished (or was cut short)
  /duetto/tempo BPM SOURCE   on a change: the tempo and who sets it (midi clock, Link, player, --bpm)
  /duetto/key KEY            on a change: the key the bot plays in

Every request reaches the engine through its inbox, as a CC does (`engine.request`, `adjust`, `set`): the
engine thread alone changes its settings. One thread of the bridge's own receives and sends, so what it
keeps (the bad-message counts, what it last sent) has that one owner. A message that is not understood (an
unknown address, wrong arguments, a value out of range, bytes that are not OSC) is counted, said once per
address, and dropped: nothing a sender does stops the jam.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from duetto.errors import UsageError
from duetto.jam.controls import ACTIONS, CONTROLS, Control
from duetto.jam.intake import BOT, MODE
from duetto.jam.modes import MODES
from duetto.jam.status import STATUS_SECONDS, Status

PREFIX = "/duetto/"
LOCAL_HOST = "127.0.0.1"
PACKET_BYTES = 65_536


@dataclass(frozen=True)
class OscPlan:
    """Where to listen, and where to send the status (None: nowhere)."""

    port: int
    host: str = LOCAL_HOST
    send_to: tuple[str, int] | None = None


def parse_destination(text: str) -> tuple[str, int]:
    """'HOST:PORT' (or ':PORT', this machine) for --osc-send; a UsageError otherwise."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"--osc-send {text!r}: give HOST:PORT, like 127.0.0.1:9001")
    return host or LOCAL_HOST, int(port)


def _bind(host: str, port: int) -> socket.socket:
    """A UDP socket on (host, port), or a UsageError naming what went wrong."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind)
        sock.bind(address)
    except OSError as error:
        raise UsageError(f"--osc {port} on {host}: {error.strerror or error}") from None
    return sock


def check_plan(plan: OscPlan) -> None:
    """The port can be listened on, before any work starts (it is let go at once, and bound again later)."""
    _bind(plan.host, plan.port).close()


class Jam(Protocol):
    """What the bridge needs of the engine: its published status, its settings' choices, and the ways to
    ask it for things."""

    @property
    def status(self) -> Status | None: ...

    settings: Any

    def request(self, action: str) -> None: ...

    def adjust(self, name: str, steps: int) -> None: ...

    def set(self, name: str, value: Any) -> None: ...


class Refused(ValueError):
    """A message not understood; its text says why."""


class OscBridge:
    """The OSC server and status sender of one jam: `start()`, then `close()` before the engine stops."""

    def __init__(self, jam: Jam, plan: OscPlan, log: Callable[[str], None]) -> None:
        from pythonosc.udp_client import SimpleUDPClient  # the `osc` extra, checked before any work starts

        self._jam, self._log = jam, log
        self._socket = _bind(plan.host, plan.port)
        self._socket.settimeout(STATUS_SECONDS)
        self._client = None if plan.send_to is None else SimpleUDPClient(*plan.send_to)
        self.refused = 0
        self._said: set[str] = set()  # addresses whose refusal was logged
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="duetto-osc", daemon=True)
        self._sent_notes: set[tuple[str, float, int]] = set()
        self._sent: dict[str, Any] = {}  # what was last sent of the tempo, the key, the answers

    @property
    def address(self) -> tuple[str, int]:
        return self._socket.getsockname()[:2]

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=2.0)
        self._socket.close()
        if self.refused:
            self._log(f"duetto: OSC: {self.refused} messages refused")

    # -- the bridge's thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        from pythonosc.osc_packet import OscPacket, ParseError

        while not self._stop.is_set():
            try:
                data = self._socket.recv(PACKET_BYTES)
            except socket.timeout:
                data = None
            except OSError:
                break  # closed
            if data is not None:
                try:
                    messages = [timed.message for timed in OscPacket(data).messages]
                except ParseError:
                    self._refuse("(not OSC)", "the bytes are not an OSC packet")
                    messages = []
                for message in messages:
                    try:
                        self._obey(message.address, list(message.params))
                    except Refused as why:
                        self._refuse(message.address, str(why))
            if self._client is not None and self._jam.status is not None:
                self._send_status(self._jam.status)

    def _refuse(self, address: str, why: str) -> None:
        self.refused += 1
        if address not in self._said:
            self._said.add(address)
            self._log(f"duetto: OSC {address}: {why} (refused; said once, counted always)")

    def _obey(self, address: str, args: list[Any]) -> None:
        """Turn one message into a request to the engine, or raise Refused saying why not."""
        if not address.startswith(PREFIX):
            raise Refused(f"unknown address (Duetto's begin with {PREFIX})")
        name, _, step = address[len(PREFIX):].partition("/")
        if name in ACTIONS and not step:
            if not args or _number(args[0]) >= 0.5:
                self._jam.request(name)
        elif name == MODE and not step:
            if not args:
                self._jam.adjust(MODE, 1)
            elif len(args) == 1 and args[0] in MODES:
                self._jam.set(MODE, args[0])
            else:
                raise Refused(f"give no argument (the next mode) or one of {', '.join(MODES)}")
        elif name in CONTROLS and step == "step":
            if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int):
                raise Refused("give one whole number of steps, like 1 or -1")
            if args[0]:
                self._jam.adjust(name, args[0])
        elif name in CONTROLS and not step:
            if len(args) != 1:
                raise Refused("give one value")
            self._jam.set(name, self._value(CONTROLS[name], args[0]))
        else:
            raise Refused(f"unknown address (controls: {', '.join(CONTROLS)}; actions: {', '.join(ACTIONS)}, mode)")

    def _value(self, control: Control, value: Any) -> Any:
        """The setting an OSC argument asks for, checked against the control's range or choices."""
        if control.choices is not None:
            options = getattr(self._jam.settings, control.choices)
            if value not in options:
                raise Refused(f"{value!r}: choose one of {', '.join(options)}")
            return value
        number = _number(value)
        if not control.lowest <= number <= control.highest:
            raise Refused(f"{number:g} is out of range ({control.lowest:g} to {control.highest:g})")
        if control.type is bool:
            return number >= 0.5
        return round(number) if control.type is int else round(number, 6)  # OSC floats are 32-bit: 0.7 comes as 0.69999999

    def _send_status(self, status: Status) -> None:
        """What changed since the last status: new notes, an answer's begin or end, the tempo, the key."""
        window = {(note.part, note.start, note.pitch) for note in status.notes}
        for part, start, pitch in sorted(window - self._sent_notes, key=lambda note: note[1]):
            self._client.send_message(f"{PREFIX}note", ["bot" if part == BOT else "player", pitch])
        self._sent_notes = window
        answering = self._sent.get("answers", status.answers) < status.answers or (
            self._sent.get("answering", False) and status.answering)
        if answering != self._sent.get("answering", False):
            self._client.send_message(f"{PREFIX}answer", "begin" if answering else "end")
        tempo = None if status.bpm is None else [round(status.bpm, 1), status.tempo_source]
        for what, now in (("tempo", tempo), ("key", status.key)):
            if now is not None and now != self._sent.get(what):
                self._client.send_message(f"{PREFIX}{what}", now)
            self._sent[what] = now
        self._sent["answers"], self._sent["answering"] = status.answers, answering


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refused(f"{value!r} is not a number")
    return float(value)
