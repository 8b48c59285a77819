"""`duetto jam --record` writes a file that lines up in a DAW: the session's tempo, bar 1 at the clock's
Start (or at the first note), both parts."""

from __future__ import annotations

import time

import mido
import pytest

from duetto.jam.intake import PLAYER
from duetto.jam.recording import SessionRecording
from duetto.midi.files import read_score
from duetto.midi.messages import CLOCK
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from support.clock import ClockSender, fit_clock
from support.processes import JamProcess

PHRASE = [(0, 60), (1, 64), (2, 67), (3, 72)]  # (beat, pitch): four crotchets


def played_on_beats(beat: float, first: float, start_beat: int) -> list[Note]:
    """The phrase from beat `start_beat` after the beat at perf_counter `first`, relative to now."""
    now = time.perf_counter()
    return [Note(first + (start_beat + b) * beat - now, first + (start_beat + b + 0.5) * beat - now, pitch, 90)
            for b, pitch in PHRASE]


@pytest.mark.parametrize("bpm", [90, 150])
def test_a_session_under_midi_clock_is_recorded_at_the_clocks_tempo_from_its_start(jack, tmp_path, bpm):
    record = tmp_path / "session.mid"
    jam = JamProcess("--record", str(record), "--phrase-gap", "300", "--response-seconds", "1", "--seed", "2")
    try:
        jam.wait_for_ports(jack)
        before = set(jack.input_names())
        port = jack.open_output(jam.in_port)
        heard = Recorder()
        listener = jack.open_input((set(jack.input_names()) - before).pop(), heard)
        clock = ClockSender(port, bpm).start()
        try:
            time.sleep(2.0)  # the bot finds the tempo within a bar
            ticks = [item.stamp for item in heard.heard if item.message == (CLOCK,)]
            tick, first = fit_clock(ticks)
            Player(port).play(played_on_beats(24 * tick, first, start_beat=8))
            time.sleep(2.0)
        finally:
            clock.stop()
            listener.close()
            port.close()
    finally:
        assert jam.stop() == 0, jam.errors
    score = read_score(record)
    assert score.tempos[0][1] == pytest.approx(bpm, abs=1.0)
    player = mido.MidiFile(record).tracks[1]
    ticks_per_beat = mido.MidiFile(record).ticks_per_beat
    onsets, now = [], 0
    for message in player:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            onsets.append(now / ticks_per_beat)
    assert onsets == pytest.approx([8, 9, 10, 11], abs=0.06)  # on the DAW's beats 9 to 12 (bar 3)


def test_a_session_without_a_clock_starts_at_its_first_note_at_the_bpm_given(jack, tmp_path):
    record = tmp_path / "session.mid"
    jam = JamProcess("--record", str(record), "--bpm", "150", "--phrase-gap", "300", "--response-seconds", "1")
    try:
        jam.wait_for_ports(jack)
        port = jack.open_output(jam.in_port)
        time.sleep(1.5)
        Player(port).play([Note(0.4 * i, 0.4 * i + 0.3, pitch, 90) for i, (_, pitch) in enumerate(PHRASE)])
        time.sleep(2.0)
        port.close()
    finally:
        assert jam.stop() == 0, jam.errors
    score = read_score(record)
    assert [round(bpm) for _, bpm in score.tempos] == [150]
    player = [note for note in score.notes if note.pitch in dict(PHRASE).values()]
    assert player[0].start == pytest.approx(0.0, abs=0.01)  # not 1.5 s of silence from program start


def test_a_tempo_measured_again_within_a_second_refines_it_and_a_later_one_changes_it(tmp_path):
    recording = SessionRecording()
    recording.add(PLAYER, 0.0, 60, 80)
    recording.add(PLAYER, 0.5, 60, 0)
    for seconds, bpm in ((0.0, 148.9), (0.1, 149.6), (0.3, 150.0), (2.0, 150.1), (3.0, 120.0)):
        recording.tempo(seconds, bpm)
    recording.write(str(tmp_path / "session.mid"), 4.0)
    tempos = read_score(tmp_path / "session.mid").tempos
    assert [round(bpm, 1) for _, bpm in tempos] == [150.0, 120.0]
    assert [round(at, 1) for at, _ in tempos] == [0.0, 3.0]


def test_a_note_sent_with_its_release_in_the_same_instant_is_recorded_and_every_key_event_kept(tmp_path):
    # a scheduler that fell behind sends a late note's key-down and key-up back to back, at one stamp
    recording = SessionRecording()
    for index in range(2_000):  # a session's worth of short notes, kept compactly
        recording.add(PLAYER, index * 0.25, 60 + index % 12, 80)
        recording.add(PLAYER, index * 0.25 + 0.1, 60 + index % 12, 0)
    recording.add("bot", 1.0, 72, 90, channel=1)
    recording.add("bot", 1.0, 72, 0, channel=1)
    assert recording.write(str(tmp_path / "session.mid"), 600.0) == 2_001
    tracks = {track.name: track for track in mido.MidiFile(tmp_path / "session.mid").tracks[1:]}
    bot = [message for message in tracks["Duetto"] if message.type in ("note_on", "note_off")]
    assert [(message.type, message.note) for message in bot] == [("note_on", 72), ("note_off", 72)]
    assert bot[1].time >= 1  # written a tick long, its release after its strike
