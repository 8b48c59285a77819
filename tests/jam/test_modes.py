"""Duet and practice modes over real JACK ports, and the practice scoring on its own.

Duet: with MIDI Clock coming in, the bot plays while the player plays, each beat composed from what the
player played until a beat before, starting on the beat; it stops when the player has stopped. Practice:
the bot plays a phrase; echoing it exactly scores full marks and lengthens the next phrase, a wrong echo
scores low and shortens it; `duetto jam --mode practice` prints a summary when stopped.
"""

from __future__ import annotations

import time

import pytest

from duetto.jam.modes.duet import PATIENCE_BEATS
from duetto.jam.modes.practice import FIRST_LENGTH, matched_pairs, score_echo
from duetto.jam.settings import JamSettings
from duetto.music.groove import Feel
from duetto.music.notes import Note
from duetto.testing.duet_rig import ClockSender, DuetRig, Player, Recorder, fit_clock
from duetto.testing.jack_server import TEST_PERIOD_SECONDS
from duetto.testing.processes import JamProcess, wait_until

BPM = 120.0
BEAT = 60.0 / BPM


def test_matching_and_scoring_an_echo():
    assert matched_pairs([60, 62, 64, 65], [60, 64, 65]) == [(0, 0), (2, 1), (3, 2)]
    phrase = [(0.0, 60), (0.5, 62), (1.0, 64)]
    perfect = score_echo(phrase, [(10.0, 60), (10.5, 62), (11.0, 64)], beat=0.5)
    assert (perfect.pitch, perfect.timing, perfect.clean) == (1.0, 1.0, True)
    late = score_echo(phrase, [(10.0, 60), (10.6, 62), (11.25, 64)], beat=0.5)
    assert late.pitch == 1.0 and late.timing == pytest.approx((1 + 0.6 + 0.0) / 3)
    wrong = score_echo(phrase, [(10.0, 61), (10.5, 63)], beat=0.5)
    assert (wrong.pitch, wrong.timing, wrong.clean) == (0.0, 0.0, False)
    assert score_echo(phrase, [], beat=0.5).pitch == 0.0


def test_duet_plays_along_on_the_beat_and_stops_when_the_player_does(jack, shipped_model, fast_switching):
    settings = JamSettings(mode="duet", seed=3, feel=Feel(quantize=1.0), limits=JamSettings().limits)
    rig = DuetRig(jack, shipped_model, settings, name="Duet")
    context, model_heard = rig.engine.voice.context, []  # every key event the model is fed, in order
    hear = context.hear
    context.hear = lambda seconds, pitch, velocity: (model_heard.append((pitch, velocity)),
                                                     hear(seconds, pitch, velocity))
    before = set(jack.input_names())
    clock_port = jack.open_output("Duet In")
    clock_heard = Recorder()
    clock_listener = jack.open_input((set(jack.input_names()) - before).pop(), clock_heard)
    clock = ClockSender(clock_port, BPM).start()
    try:
        assert wait_until(lambda: rig.engine.grid() is not None, 3)
        time.sleep(0.5)
        melody = [60, 62, 64, 65, 67, 65, 64, 62] * 2
        first = time.perf_counter()
        last = rig.player.play([Note(i * BEAT / 2, i * BEAT / 2 + 0.2, pitch, 80) for i, pitch in enumerate(melody)])
        time.sleep(PATIENCE_BEATS * BEAT + 2 * BEAT)
        stopped = time.perf_counter()
        time.sleep(2 * BEAT)
    finally:
        clock.stop()
        rig.close()
        clock_listener.close()
        clock_port.close()
    onsets = [event.seconds for event in rig.recorder.key_events() if event.velocity > 0]
    during = [onset for onset in onsets if first < onset < last]
    assert len(during) >= 4, f"the bot played {len(during)} notes while the player played"
    tick, first_tick = fit_clock([item.stamp for item in clock_heard.heard if item.message == (0xF8,)])
    step = tick * 24 / settings.feel.steps_per_beat
    # where the bot placed its notes, against the clock as heard over JACK, within one JACK period: a tempo
    # estimated over the last bar strays from a line fitted through the whole session by a millisecond or
    # two on a loaded machine (how late notes arrive is the scheduler's and JACK's business, tested in
    # test_time.py and measured by the benchmark)
    placed = [intended for intended, _, message in rig.engine.scheduler.timeline if message and message[0] == 0x90]
    assert len(placed) >= len(during)
    off_grid = [min((at - first_tick) % step, step - (at - first_tick) % step) for at in placed]
    assert [round(1000 * d, 1) for d in off_grid if d > TEST_PERIOD_SECONDS] == []
    assert [onset for onset in onsets if onset > stopped] == [], "the bot played on after the player stopped"
    assert rig.recorder.unmatched_note_ons() == 0
    # the player's notes reached the model while the bot played: it heard the whole melody, in order, among
    # the bot's own notes
    struck = [pitch for pitch, velocity in model_heard if velocity > 0]
    assert len(struck) > len(melody)
    assert len(matched_pairs(melody, struck)) == len(melody), "the player's notes did not all reach the model"


def echo_of(rig: DuetRig, since: float) -> list[Note]:
    """The bot's practice phrase heard after `since`, as notes from its first onset."""
    practice = rig.engine.mode
    assert wait_until(lambda: practice.phrase and practice.phrase[0][0] > since, 10), "no phrase"
    count = len(practice.phrase)
    assert wait_until(lambda: len(rig.recorder.notes(since=since)) >= count, 10), "the phrase did not arrive whole"
    time.sleep(0.1)
    notes = rig.recorder.notes(since=since)[:count]
    zero = notes[0].start
    return [Note(note.start - zero, note.end - zero, note.pitch, 80) for note in notes]


def test_practice_scores_echoes_and_adapts_the_phrase(jack, shipped_model, fast_switching):
    settings = JamSettings(mode="practice", seed=9, bpm=BPM, phrase_gap=0.3)
    lines: list[str] = []
    rig = DuetRig(jack, shipped_model, settings, name="Practice")
    rig.engine._log = lines.append
    practice = rig.engine.mode
    try:
        phrase = echo_of(rig, 0.0)
        assert len(phrase) == FIRST_LENGTH
        rig.player.play(phrase)  # a perfect echo
        assert wait_until(lambda: len(practice.scores) == 1, 10), lines
        assert practice.scores[0].pitch == 1.0 and practice.scores[0].timing > 0.8, practice.scores
        assert practice.length == FIRST_LENGTH + 1
        since = time.perf_counter()
        second = echo_of(rig, since)
        rig.player.play([Note(n.start, n.end, 30 + i, 80) for i, n in enumerate(second)])  # all wrong
        assert wait_until(lambda: len(practice.scores) == 2, 10), lines
        assert practice.scores[1].pitch == 0.0
        assert practice.length == FIRST_LENGTH
    finally:
        rig.close()
    assert all(note.pitch % 12 in rig.engine.key.pitch_classes for note in phrase + second)
    assert any("round 1: pitch 100%" in line and "clean" in line for line in lines), lines
    assert practice.summary().startswith("duetto practice: 2 rounds")
    assert rig.recorder.unmatched_note_ons() == 0


def test_jam_practice_prints_a_summary_when_stopped(jack):
    jam = JamProcess("--mode", "practice", "--seed", "2", "--bpm", "140", "--phrase-gap", "200")
    try:
        jam.wait_for_ports(jack)
        keyboard = jack.open_output(jam.in_port)
        time.sleep(4.0)  # the first phrase is played; the player echoes something, then stops the session
        Player(keyboard).play([Note(0.0, 0.2, 60, 80), Note(0.25, 0.45, 62, 80)])
        time.sleep(1.0)
        code = jam.stop()
        keyboard.close()
    finally:
        jam.stop()
    assert code == 0, jam.errors
    assert "duetto practice: round 1:" in jam.errors
    assert "duetto practice: 1 rounds" in jam.out
