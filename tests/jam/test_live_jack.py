"""The live bot over real virtual MIDI ports on a private JACK server (dummy driver).

A second rtmidi client plays a phrase into the bot's input and an independent one records its output:
the answer, its timing, withdrawal and barge-in, `duetto ports` and `duetto demo`. Stopping a real
`duetto jam` with signals mid-answer is in test_stuck_notes.py.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import mido
import pytest

from duetto.jam.settings import JamSettings
from duetto.midi.files import read_midi
from duetto.midi.ports.libjack import jack_period_seconds
from duetto.models import DEFAULT_MODEL
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess, wait_until

GAP = 0.3
PHRASE = [Note(0.0, 0.2, 60, 90), Note(0.25, 0.45, 62, 80), Note(0.5, 0.7, 64, 85), Note(0.75, 1.2, 67, 95)]
_names = itertools.count()


@pytest.fixture
def rig(jack, shipped_model):
    rigs = []

    def make(**overrides) -> DuetRig:
        settings = JamSettings(phrase_gap=GAP, response_seconds=2.0, seed=7, **overrides)
        rigs.append(DuetRig(jack, shipped_model, settings, name=f"Bot {next(_names)}"))
        return rigs[-1]

    yield make
    for made in rigs:
        made.close()


def test_answer_arrives_after_the_phrase_gap_and_every_note_is_released(rig):
    bench = rig()
    last_release = bench.player.play(PHRASE)
    gap_end = last_release + GAP
    assert wait_until(lambda: bench.engine.stats.answers == 1 and not bench.engine.scheduler.busy, 10)
    first = bench.recorder.first_note_on(since=last_release)
    assert first is not None, "no answer arrived"
    # not before the phrase gap has ended (one JACK period of transport jitter allowed), and promptly after
    assert first >= gap_end - 0.002
    assert first - gap_end < 0.05, f"first answer note {1000 * (first - gap_end):.1f} ms after the gap"
    # the scheduler has sent the last note-off; give the transport a moment to deliver it
    assert wait_until(lambda: bench.recorder.unmatched_note_ons() == 0, 1.0), "a bot note was left sounding"
    answer = bench.recorder.notes(since=last_release)
    assert len(answer) >= 2
    assert all(note.end - gap_end <= 2.0 + 0.05 for note in answer)


def test_playing_again_before_the_gap_ends_withdraws_the_answer(rig):
    bench = rig()
    last_release = bench.player.play(PHRASE)
    time.sleep(GAP / 2)
    bench.player.play([Note(0.0, 0.1, 72, 90)])
    time.sleep(GAP / 2 + 0.05)
    assert bench.recorder.first_note_on(since=last_release) is None, "answered in the middle of a phrase"
    assert wait_until(lambda: bench.engine.stats.answers == 1, 5), "no answer after the phrase really ended"


def test_barge_in_stops_the_answer_and_releases_its_notes(rig):
    bench = rig()
    last_release = bench.player.play(PHRASE)
    assert wait_until(lambda: bench.recorder.first_note_on(since=last_release) is not None, 5)
    time.sleep(0.1)
    assert bench.engine.scheduler.busy, "the answer was over before the player could barge in"
    barge_in = time.perf_counter()
    bench.player.play([Note(0.0, 0.3, 48, 100)])
    assert wait_until(lambda: bench.engine.stats.barge_ins == 1, 1.0)
    assert wait_until(lambda: bench.recorder.unmatched_note_ons() == 0, 1.0), \
        "a bot note was left sounding after barge-in"
    # allow a few transport periods for a note already on its way when the key went down
    late_onsets = [event for event in bench.recorder.key_events(since=barge_in + 0.03) if event.velocity > 0]
    assert late_onsets == [], "the bot kept playing after the player came in"


def test_the_transport_compensation_is_one_period_read_from_the_running_server(jack, monkeypatch):
    assert jack_period_seconds() == pytest.approx(TEST_PERIOD_SECONDS)
    assert jack.transport_latency() == pytest.approx(TEST_PERIOD_SECONDS / 2)  # each trip, on average
    settings = JamSettings()
    settings.compensate_transport(jack.transport_latency())
    assert settings.latency_compensation == pytest.approx(TEST_PERIOD_SECONDS)  # the trip in and the trip out
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "duetto-no-such-server")
    assert jack_period_seconds() is None
    assert jack.transport_latency() == 0.0


def test_a_compensated_answer_leaves_early_by_the_compensation_and_no_earlier(rig):
    bench = rig(latency_compensation=TEST_PERIOD_SECONDS)
    last_release = bench.player.play(PHRASE)
    assert wait_until(lambda: bench.engine.stats.answers == 1 and not bench.engine.scheduler.busy, 10)
    heard_end = bench.engine.mode.phrase_ended_at  # the key-up's arrival, which the gap is timed from
    intended, sent, _ = next(entry for entry in bench.engine.scheduler.timeline
                             if entry[2] is not None and entry[2][0] & 0xF0 == 0x90)
    assert intended == pytest.approx(heard_end + GAP - TEST_PERIOD_SECONDS, abs=1e-9)
    assert sent >= intended
    first = bench.recorder.first_note_on(since=last_release)
    assert first is not None and first >= last_release + GAP - TEST_PERIOD_SECONDS


def test_jam_can_be_told_not_to_compensate_the_transport(jack):
    jam = JamProcess("--no-transport-compensation")
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.lines
        assert jam.said("(jack); Ctrl-C to stop"), jam.lines
    finally:
        assert jam.stop() == 0, jam.lines


def test_ports_lists_virtual_ports_on_jack(jack):
    port = jack.open_output("Listed Port", virtual=True)
    try:
        listing = subprocess.run([sys.executable, "-m", "duetto", "ports", "--backend", "jack"],
                                 capture_output=True, text=True, timeout=20)
    finally:
        port.close()
    assert listing.returncode == 0, listing.stderr
    assert "backend: jack" in listing.stdout
    assert "Listed Port" in listing.stdout


def test_demo_runs_over_jack_and_writes_the_duet(jack, tmp_path):
    out = tmp_path / "duet.mid"
    demo = subprocess.run([sys.executable, "-m", "duetto", "demo", "--backend", "jack", "--rounds", "1",
                           "--model", str(DEFAULT_MODEL), "--seed", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "on jack ports" in demo.stdout
    assert "unmatched bot note-ons: 0" in demo.stdout
    assert [track.name for track in mido.MidiFile(out).tracks[1:]] == ["Player", "Duetto"]
    assert len(read_midi(out)) > 11
