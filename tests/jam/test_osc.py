"""Open Sound Control: a real python-osc client drives a running jam over UDP on the loopback, and a real
python-osc server hears its status, as Max, Pure Data or TouchOSC would.

The jam is a `DuetRig` (a `JamSession` on the in-process loopback ports, with a stand-in player), and the
bridge is the one `duetto jam --osc` starts; `duetto jam --osc` itself is run once as a process, on JACK.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("pythonosc", reason="the osc extra (python-osc) is not installed")

from pythonosc.dispatcher import Dispatcher  # noqa: E402
from pythonosc.osc_server import ThreadingOSCUDPServer  # noqa: E402
from pythonosc.udp_client import SimpleUDPClient  # noqa: E402

from duetto.jam.osc import LOCAL_HOST, OscBridge, OscPlan  # noqa: E402
from duetto.jam.settings import JamSettings  # noqa: E402
from duetto.midi.ports import open_backend  # noqa: E402
from duetto.music.key import parse_key  # noqa: E402
from duetto.music.notes import Note  # noqa: E402
from duetto.tools.duet_rig import DuetRig  # noqa: E402
from support.processes import JamProcess, wait_until  # noqa: E402

PHRASE = [Note(0.0, 0.2, 60, 90), Note(0.25, 0.45, 64, 80), Note(0.5, 0.9, 67, 85)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOCAL_HOST, 0))
        return probe.getsockname()[1]


class Listener:
    """A python-osc server on the loopback: every message it hears, as (address, args)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, list]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.heard.append((address, list(args))))
        self.server = ThreadingOSCUDPServer((LOCAL_HOST, 0), dispatcher)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, address: str, *args) -> bool:
        return any(heard == (address, list(args)) for heard in list(self.heard))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osc_jam(shipped_model):
    """A jam with its OSC bridge, a client talking to it and a listener hearing its status."""
    said: list[str] = []
    rig = DuetRig(open_backend("loopback"), shipped_model,
                  JamSettings(phrase_gap=0.25, response_seconds=1.5, seed=3, bpm=90.0, key=parse_key("D:dorian")), name="Osc", log=said.append)
    listener = Listener()
    bridge = OscBridge(rig.engine, OscPlan(free_port(), send_to=(LOCAL_HOST, listener.port)), said.append)
    bridge.start()
    client = SimpleUDPClient(*bridge.address)
    yield rig, bridge, client, listener, said
    bridge.close()
    rig.close()
    listener.close()


def test_osc_listens_on_this_machine_only_by_default(osc_jam):
    _, bridge, *_ = osc_jam
    assert bridge.address[0] == "127.0.0.1"


def test_osc_moves_every_kind_of_control_and_takes_the_views_keys(osc_jam):
    rig, bridge, client, _, _ = osc_jam
    settings, stats = rig.engine.settings, rig.engine.stats
    client.send_message("/duetto/temperature", 0.7)
    client.send_message("/duetto/lowest", 48)
    client.send_message("/duetto/scale_lock", 1)
    client.send_message("/duetto/texture", "chords")
    client.send_message("/duetto/density/step", 2)
    assert wait_until(lambda: settings.temperature == 0.7 and settings.limits.lowest == 48 and settings.scale_lock
                      and settings.texture == "chords" and settings.limits.density > 1.0, 5)
    client.send_message("/duetto/texture/step", 1)  # the view's x key: the next texture after chords
    assert wait_until(lambda: settings.texture == "auto", 5)
    client.send_message("/duetto/panic", 1.0)
    client.send_message("/duetto/panic", 0.0)  # a button's release
    client.send_message("/duetto/undo", [])
    assert wait_until(lambda: stats.panics == 1 and stats.undos == 1, 5)
    client.send_message("/duetto/mode", "practice")
    assert wait_until(lambda: rig.engine.mode.name == "practice", 5)
    client.send_message("/duetto/mode", [])  # the view's m key: the next mode, band
    assert wait_until(lambda: rig.engine.mode.name == "band", 5)
    client.send_message("/duetto/mode", [])  # and round to call
    assert wait_until(lambda: rig.engine.mode.name == "call", 5)
    assert bridge.refused == 0


def test_bad_osc_messages_are_counted_said_once_and_never_fatal(osc_jam):
    rig, bridge, client, _, said = osc_jam
    client.send_message("/duetto/nothing", 1)
    client.send_message("/duetto/nothing", 2)
    client.send_message("/elsewhere", 1)
    client.send_message("/duetto/temperature", "hot")
    client.send_message("/duetto/temperature", 9.0)
    client.send_message("/duetto/style", "bebop")
    client.send_message("/duetto/mode", "jazz")
    client.send_message("/duetto/lowest/step", 0.5)
    client._sock.sendto(b"not OSC at all", bridge.address)
    assert wait_until(lambda: bridge.refused == 9, 5), (bridge.refused, said)
    refusals = [line for line in said if line.startswith("duetto: OSC")]
    assert sum("/duetto/nothing" in line for line in refusals) == 1
    assert any("/duetto/temperature" in line and "'hot' is not a number" in line for line in refusals)
    assert any("(not OSC)" in line for line in refusals)
    client.send_message("/duetto/temperature", 0.5)  # and it still listens
    assert wait_until(lambda: rig.engine.settings.temperature == 0.5, 5)
    assert rig.engine.stats.errors == 0


def test_osc_status_says_each_part_s_notes_the_answer_tempo_and_key(osc_jam):
    rig, _, _, listener, _ = osc_jam
    released = rig.player.play(PHRASE)
    assert rig.wait_until_answered(released, 15), "no answer"
    assert wait_until(lambda: listener.got("/duetto/answer", "end"), 5), listener.heard
    assert listener.got("/duetto/tempo", 90.0, "--bpm")
    assert listener.got("/duetto/key", "D:dorian")
    assert [args for address, args in listener.heard if address == "/duetto/note"][:3] == \
        [["player", 60], ["player", 64], ["player", 67]]
    assert any(address == "/duetto/note" and args[0] == "bot" for address, args in listener.heard)
    begin = listener.heard.index(("/duetto/answer", ["begin"]))
    assert ("/duetto/answer", ["end"]) in listener.heard[begin:]


def test_duetto_jam_osc_starts_the_bridge(jack):
    listener = Listener()
    port = free_port()
    jam = JamProcess("--bpm", "90", "--osc", str(port), "--osc-send", f"127.0.0.1:{listener.port}")
    try:
        jam.wait_for_ports(jack)
        assert wait_until(lambda: listener.got("/duetto/tempo", 90.0, "--bpm"), 10), listener.heard
        SimpleUDPClient(LOCAL_HOST, port).send_message("/duetto/bogus", 1)
        assert wait_until(lambda: jam.said("duetto: OSC /duetto/bogus: unknown address"), 5), jam.lines
    finally:
        code = jam.stop()
        listener.close()
    assert code == 0, jam.lines
    assert jam.said("duetto: OSC: 1 messages refused"), jam.lines


def test_osc_options_are_checked_before_any_work(tmp_path):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind((LOCAL_HOST, 0))
    try:
        result = subprocess.run([sys.executable, "-m", "duetto", "jam", "--osc", str(taken.getsockname()[1])],
                                capture_output=True, text=True, timeout=60)
    finally:
        taken.close()
    assert result.returncode != 0
    assert result.stderr.strip().startswith("duetto: error: --osc ")
    assert "in use" in result.stderr and len(result.stderr.strip().splitlines()) == 1
