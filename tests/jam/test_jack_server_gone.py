"""The JACK server goes away mid-session (issue 20, item 7), on a private jackd the test kills (SIGKILL, as a
crash would) and starts again under the same name.

`duetto jam` lets go of every note and says so in one line; then it opens its ports again when the
server is back and plays on, or, when the server stays away (`--jack-wait`), or at once with a synth of
its own (`--synth`: FluidSynth's ports and sound went with the server), exits with status 1 and one line.
Either way no note is left sounding and nothing but Duetto's own lines is printed (libjack's are silenced).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from duetto.midi.ports import open_backend
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from duetto.tools.jack_server import PrivateJackServer
from support.jack import TEST_PERIOD_FRAMES, TEST_RATE
from support.processes import JamProcess, wait_until

pytestmark = pytest.mark.jack

PHRASE = [Note(0.0, 0.12, 60, 90), Note(0.15, 0.27, 64, 80), Note(0.3, 0.5, 67, 85)]
GONE = "duetto: the JACK server went away; every note let go"


def server(name: str) -> PrivateJackServer:
    return PrivateJackServer(name=name, rate=TEST_RATE, period=TEST_PERIOD_FRAMES).__enter__()


def only_duettos_lines(jam: JamProcess) -> None:
    """Everything the jam printed is a line of its own: no traceback, no libjack."""
    strangers = [line for line in jam.lines if not line.startswith("duetto:")]
    assert not strangers, jam.errors


def ports_open(backend, jam: JamProcess) -> bool:
    return any(jam.in_port in port for port in backend.output_names())


@pytest.fixture
def killable(request):
    """A private server of the test's own, its name in JACK_DEFAULT_SERVER for the test and its jams; a
    list the test may append the servers it starts again to; all stopped after, a killed one's slot in
    JACK's registry freed."""
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    servers = [server(f"duetto-gone-{os.getpid()}-{request.node.name[-20:]}")]
    yield servers
    for running in servers:
        running.__exit__(None, None, None)
    if servers[-1].killed:
        servers[-1].reclaim()
    if previous is not None:
        os.environ["JACK_DEFAULT_SERVER"] = previous


def test_a_server_that_dies_mid_answer_is_said_once_and_the_jam_plays_on_when_it_is_back(killable):
    first = killable[0]
    backend = open_backend("jack")
    jam = JamProcess("--seed", "1", "--phrase-gap", "120", "--response-seconds", "4")
    heard_before, heard_after = Recorder(), Recorder()
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.errors
        listener, keyboard = backend.open_input(jam.out_port, heard_before), backend.open_output(jam.in_port)
        time.sleep(0.2)
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: heard_before.unmatched_note_ons() > 0, 5), "no answer before the server died"
        first.kill()  # mid-answer
        assert wait_until(lambda: jam.said(GONE), 3), jam.errors
        time.sleep(1.0)
        killable.append(server(first.name))  # back under its name
        assert wait_until(lambda: jam.said("the JACK server is back"), 5), jam.errors
        assert wait_until(lambda: ports_open(backend, jam), 5), jam.errors
        listener, keyboard = backend.open_input(jam.out_port, heard_after), backend.open_output(jam.in_port)
        time.sleep(0.2)
        # the answer cut off by the server's death never resumes; a new phrase is answered
        assert heard_after.count(0x90) == 0, "notes of the old answer were played on the new server"
        played = time.perf_counter()
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: heard_after.first_note_on(since=played) is not None, 5), jam.errors
        keyboard.close()
    finally:
        code = jam.stop()
    time.sleep(0.2)
    listener.close()
    assert code == 0, jam.errors
    assert heard_after.unmatched_note_ons(all_notes_off_releases=False) == 0
    assert sum(GONE in line for line in jam.lines) == 1
    only_duettos_lines(jam)


def test_a_server_that_stays_away_ends_the_jam_in_one_line(killable):
    jam = JamProcess("--seed", "1", "--jack-wait", "2")
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.errors
        killable[0].kill()
        assert wait_until(lambda: jam.process.poll() is not None, 10), jam.errors
    finally:
        code = jam.stop()
    assert code == 1, jam.errors
    said = [line.strip() for line in jam.lines[2:]]  # after the model's line and the ports'
    assert said == [f"{GONE}, waiting 2 s for it to come back",
                    "duetto: error: the JACK server went away and did not come back within 2 s"], jam.errors
    only_duettos_lines(jam)


def test_a_jam_with_its_own_synth_stops_with_the_server_and_takes_the_synth_with_it(killable):
    jam = JamProcess("--seed", "1", "--synth", "--synth-audio", "jack")
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.errors
        pid = int(re.search(r"FluidSynth \(pid (\d+)\)", jam.errors).group(1))
        killable[0].kill()
        assert wait_until(lambda: jam.process.poll() is not None, 10), jam.errors
    finally:
        code = jam.stop()
    assert code == 1, jam.errors
    assert [line.strip() for line in jam.lines if GONE in line or "error" in line] == [
        GONE, "duetto: error: the JACK server went away"], jam.errors
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10), "FluidSynth outlived the jam"
    only_duettos_lines(jam)
