"""Ableton Link: `duetto jam --link` follows a second Link peer, a process of its own on the same machine.

Link peers find each other by UDP multicast on every network interface that can carry it. So that the test's
discovery never leaves the machine, both peers run in a network namespace of the test's own, whose only
interface is the loopback with multicast switched on (this needs root and iproute2's `ip`; without them the
test says so and is skipped). JACK, which talks over local sockets, reaches into it as it does anywhere.

The peer sets 97 BPM; the bot's answer, as an independent JACK client hears it, must start on one of the
peer's beats and keep to its sixteenths (`--quantize 1`); then the peer changes to 120 BPM, and the bot must
say so within a beat and answer on the new grid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from duetto.midi.messages import CLOCK
from duetto.music.clock import SOURCE_CLOCK, SOURCE_PLAYER, Grid, TempoTracker
from duetto.music.link import SOURCE_LINK
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess, wait_until

PEER = Path(__file__).parents[1] / "support" / "link_peer.py"
PHRASE = [Note(0.0, 0.2, 60, 90), Note(0.25, 0.45, 64, 80), Note(0.5, 0.9, 67, 85)]
GAP_MS = 250
LOOSE_SECONDS = 2 * TEST_PERIOD_SECONDS + 0.002  # a JACK period each way, and the callbacks' share


@pytest.fixture
def loopback_network():
    """A network namespace whose only interface is a multicast-capable loopback; its `ip netns exec`."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("Link's discovery is kept off the real network in a namespace of its own: needs root and `ip`")
    name = f"duetto-link-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for command in (["link", "set", "lo", "up", "multicast", "on"], ["route", "add", "224.0.0.0/4", "dev", "lo"]):
            subprocess.run(["ip", "netns", "exec", name, "ip", *command], check=True)
        yield ("ip", "netns", "exec", name)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


class Peer:
    """The second Link peer (tests/support/link_peer.py), asked one line at a time."""

    def __init__(self, within: tuple[str, ...]) -> None:
        self.process = subprocess.Popen([*within, sys.executable, str(PEER)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> list[float]:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return [float(word) for word in self.process.stdout.readline().split()[1:]]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=5)


def said_at(jam: JamProcess, text: str, timeout: float) -> float | None:
    """When (perf_counter) a line with `text` came from the jam, polled every millisecond."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if jam.said(text):
            return time.perf_counter()
        time.sleep(0.001)
    return None


def answer_onsets(recorder: Recorder, since: float, timeout: float) -> list[float]:
    """The answer's note-ons after `since`, once it has been quiet for a second."""
    assert wait_until(lambda: recorder.first_note_on(since) is not None, timeout), "no answer"
    assert wait_until(lambda: time.perf_counter() - recorder.heard[-1].stamp > 1.0, 15)
    return [event.seconds for event in recorder.key_events() if event.velocity > 0 and event.seconds > since]


def off_grid(stamp: float, beat: float, origin: float, lines_per_beat: int = 1) -> float:
    line = beat / lines_per_beat
    distance = (stamp - origin) % line
    return min(distance, line - distance)


class Session:
    """A shared grid, as a Link session with a peer in it gives one (or None: Duetto alone)."""

    def __init__(self, grid: Grid | None) -> None:
        self.shared = grid

    def grid(self, now: float) -> Grid | None:
        return self.shared


def test_midi_clock_wins_over_link_and_link_over_the_players_pulse():
    session = Session(Grid(60 / 97, 0.0, SOURCE_LINK))
    tracker = TempoTracker(bpm=80, shared=session)
    for index in range(12):  # a steady pulse of eighths at 100 BPM
        tracker.player_onset(index * 0.3, starts_phrase=index == 0)
    assert tracker.grid(4.0).source == SOURCE_LINK
    session.shared = None  # the last other peer left
    assert tracker.grid(4.0).source == SOURCE_PLAYER
    session.shared = Grid(60 / 97, 0.0, SOURCE_LINK)
    for tick in range(48):
        tracker.timing_message([CLOCK], 4.0 + tick * 60 / 130 / 24)
    assert tracker.grid(4.0 + 47 * 60 / 130 / 24).source == SOURCE_CLOCK


def test_without_the_link_extra_link_says_how_to_get_it():
    hide = "import sys; sys.modules['link'] = None; from duetto.cli import main; sys.exit(main(['jam', '--link']))"
    result = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip() == ("duetto: error: --link needs Ableton Link's binding (LinkPython-extern), "
                                     "which is not installed: pip install 'duetto[link]'")


def test_jam_follows_a_link_peer_tempo_phase_and_change(jack, loopback_network):
    pytest.importorskip("link", reason="the link extra (LinkPython-extern) is not installed")
    peer = Peer(loopback_network)
    jam = JamProcess("--link", "--phrase-gap", str(GAP_MS), "--response-seconds", "2.5", "--seed", "11",
                     "--quantize", "1", within=loopback_network)
    recorder, listener, player_port = Recorder(), None, None
    try:
        jam.wait_for_ports(jack)
        assert said_at(jam, "Link: 1 other peer", 10), jam.lines
        peer.ask("tempo 97")
        assert said_at(jam, "tempo 97.0 BPM from Link", 5), jam.lines
        listener = jack.open_input(jam.out_port, recorder)
        player_port = jack.open_output(jam.in_port)
        player = Player(player_port)
        time.sleep(0.3)

        released = player.play(PHRASE)
        beat, origin, peers = peer.ask("grid")
        assert peers == 1 and beat == pytest.approx(60 / 97, rel=1e-3)
        onsets = answer_onsets(recorder, released, 10)
        first_ms = 1000 * off_grid(onsets[0], beat, origin)
        worst_ms = max(1000 * off_grid(onset, beat, origin, 4) for onset in onsets)
        print(f"\n97 BPM: first note {first_ms:.2f} ms from the peer's beat, worst sixteenth {worst_ms:.2f} ms "
              f"over {len(onsets)} notes")
        assert first_ms <= 1000 * LOOSE_SECONDS, "the answer did not start on the peer's beat"
        assert worst_ms <= 1000 * LOOSE_SECONDS, "the answer left the peer's sixteenths"

        _, changed = peer.ask("tempo 120")
        heard = said_at(jam, "tempo 120.0 BPM from Link", 2)
        assert heard is not None, jam.lines
        print(f"120 BPM followed {1000 * (heard - changed):.0f} ms after the peer changed it")
        assert heard - changed < 0.5, "the change was not followed within a beat"

        released = player.play(PHRASE)
        beat, origin, _ = peer.ask("grid")
        assert beat == pytest.approx(0.5, rel=1e-3)
        onsets = answer_onsets(recorder, released, 10)
        first_ms = 1000 * off_grid(onsets[0], beat, origin)
        print(f"120 BPM: first note {first_ms:.2f} ms from the peer's beat")
        assert first_ms <= 1000 * LOOSE_SECONDS, "the answer did not start on the peer's new beat"
    finally:
        if player_port is not None:
            player_port.close()
        code = jam.stop()
        if listener is not None:
            listener.close()
        peer.close()
    assert code == 0, jam.lines
    assert recorder.unmatched_note_ons() == 0


FOLLOWERS = """
import sys, time
from duetto.music.link import LinkFollower
for round in range(int(sys.argv[1])):
    follower = LinkFollower()
    deadline = time.monotonic() + 5
    while follower.peers_changed() != 1:
        assert time.monotonic() < deadline, f"round {round}: the peer was not found"
        time.sleep(0.01)
    assert follower.grid(time.perf_counter()) is not None
    if round % 2:
        follower.close()  # the other half are left to the interpreter's exit
print("done", flush=True)
"""


def test_link_followers_joining_and_leaving_a_session_never_crash_the_process(loopback_network):
    """Followers opened and closed (or left open at exit) while a peer plays: the process exits cleanly.
    A jam once ended in SIGABRT at its stop with Link on: no thread of Link's may call into Python."""
    pytest.importorskip("link", reason="the link extra (LinkPython-extern) is not installed")
    peer = Peer(loopback_network)
    try:
        result = subprocess.run([*loopback_network, sys.executable, "-c", FOLLOWERS, "12"], capture_output=True,
                                text=True, timeout=120)
    finally:
        peer.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "done"
