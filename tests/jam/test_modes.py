"""Duet and practice modes over real JACK ports, and practice's scoring and phrase-making on their own.

Duet: with MIDI Clock coming in, the bot plays while the player plays, each beat composed from what the
player played until a beat before, starting on the beat; its last note ends within two bars (8 beats) of
the player's last key event. Practice: the bot's phrases are ones a learner can echo (one note at a time,
none shorter than an eighth, within an octave and a half, mostly by step, never leaping beyond a fifth);
an exact echo scores full marks even when the player lets each key go early, and lengthens the next phrase;
a wrong echo scores low and shortens it; pitch and timing are scored apart; a round with no echo is missed,
and after three in a row the bot waits for the player; `duetto jam --mode practice` prints a summary.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from typing import Any

import pytest

from duetto.encodings.events import key_events
from duetto.jam.engine import Engine
from duetto.jam.intake import MODE
from duetto.jam.modes import MODES, make_mode
from duetto.jam.modes.duet import PATIENCE_BEATS
from duetto.jam.modes.practice import (
    FIRST_LENGTH,
    LARGEST_LEAP,
    LEAD_SECONDS,
    MIDDLE_C,
    MISSES_BEFORE_WAITING,
    RANGE_SEMITONES,
    matched_pairs,
    practice_phrase,
    score_echo,
    singable_scale,
    top_line,
)
from duetto.jam.settings import JamSettings
from duetto.midi.ports import open_backend
from duetto.music.groove import Feel
from duetto.music.key import Key, parse_key
from duetto.music.notes import Note, notes_from_events
from duetto.tools.duet_rig import DuetRig, Player, Recorder
from support.clock import ClockSender, fit_clock
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess, wait_until

BPM = 120.0
BEAT = 60.0 / BPM
WHOLE_TONE = 2


def players_settings() -> JamSettings:
    """The player's own: no scale lock, no key, no quantizing (`--quantize 0`), triplets, a tame sampler."""
    return JamSettings(seed=1, temperature=0.9, feel=Feel(quantize=0.0, steps_per_beat=3))


def what_practice_changes(settings: JamSettings) -> tuple[Any, ...]:
    return settings.scale_lock, settings.key, settings.temperature, replace(settings.feel)


def engine_on_loopback(model, settings: JamSettings, mode: str) -> Engine:
    return Engine(model, open_backend("loopback").open_output("Modes Out", virtual=True), settings,
                  mode=make_mode(mode), log=lambda line: None)


@pytest.mark.parametrize("first, then", list(itertools.permutations(MODES, 2)))
def test_a_mode_gives_back_the_settings_it_changed_when_another_takes_over_or_the_jam_ends(
        shipped_model, first, then):
    settings = players_settings()
    theirs = what_practice_changes(settings)
    engine = engine_on_loopback(shipped_model, settings, first)
    engine.start()
    try:
        if first == "practice":  # until it plays a phrase, in the key it chose
            assert wait_until(lambda: settings.key is not None, 10)
        engine.set(MODE, then)  # as the live view's key or OSC does
        assert wait_until(lambda: engine.status is not None and engine.status.mode == then, 5)
        if then != "practice":
            assert what_practice_changes(settings) == theirs
    finally:
        engine.stop()
    assert what_practice_changes(settings) == theirs, "the jam ended with a mode's settings"


def test_a_setting_the_player_moved_while_a_mode_played_stays_theirs(shipped_model):
    settings = players_settings()
    engine = engine_on_loopback(shipped_model, settings, "practice")
    try:
        engine.mode.begin(engine)  # on this thread, which stands in for the engine's: it never starts
        assert settings.scale_lock and settings.feel.quantize == 1.0
        settings.feel.quantize = 0.5  # the player turns a knob
        engine.mode.end()
    finally:
        engine.stop()
    assert settings.feel.quantize == 0.5, "the player's own move was undone"
    assert not settings.scale_lock and settings.feel.steps_per_beat == 3


def test_matching_and_scoring_an_echo():
    assert matched_pairs([60, 62, 64, 65], [60, 64, 65]) == [(0, 0), (2, 1), (3, 2)]
    phrase = [(0.0, 60), (0.5, 62), (1.0, 64)]
    perfect = score_echo(phrase, [(10.0, 60), (10.5, 62), (11.0, 64)], beat=0.5)
    assert (perfect.pitch, perfect.timing, perfect.clean, perfect.missed) == (1.0, 1.0, True, False)
    late = score_echo(phrase, [(10.0, 60), (10.6, 62), (11.25, 64)], beat=0.5)
    assert late.pitch == 1.0 and late.timing == pytest.approx((1 + 0.6 + 0.0) / 3)
    # pitch and timing apart: the notes played are right and on time, so the timing is perfect; the one
    # left out costs pitch alone
    half = score_echo(phrase + [(1.5, 65)], [(10.0, 60), (10.5, 62)], beat=0.5)
    assert (half.pitch, half.timing) == (0.5, 1.0)
    wrong = score_echo(phrase, [(10.0, 61), (10.5, 63)], beat=0.5)
    assert (wrong.pitch, wrong.timing, wrong.clean, wrong.missed) == (0.0, None, False, False)
    silence = score_echo(phrase, [], beat=0.5)
    assert silence.missed and not silence.clean


def assert_learnable(notes: list[Note], key: Key, eighth: float, slack: float = 0.0) -> None:
    """A phrase a learner can echo: one note at a time (no chords), none shorter than an eighth, in the key,
    within an octave and a half, no leap beyond a fifth and at least half the moves steps; `slack`: how
    far times heard over ports may stray from the written ones."""
    assert notes
    for note, following in zip(notes, notes[1:]):
        assert following.start - note.start >= eighth - slack, notes
        assert note.end <= following.start + slack, notes
    assert all(note.end - note.start >= eighth - slack for note in notes), notes
    pitches = [note.pitch for note in notes]
    assert all(pitch % 12 in key.pitch_classes for pitch in pitches), pitches
    assert max(pitches) - min(pitches) <= RANGE_SEMITONES, pitches
    moves = [abs(later - earlier) for earlier, later in zip(pitches, pitches[1:])]
    assert max(moves, default=0) <= LARGEST_LEAP, pitches
    assert 2 * sum(move <= WHOLE_TONE for move in moves) >= len(moves), pitches


def test_a_wild_line_becomes_a_phrase_a_learner_can_echo():
    # what the model gave practice mode (issue 12): chords, 20 ms notes, leaps of 19 to 26 semitones, and
    # notes outside the key
    wild = [Note(0.0, 0.02, 60, 80), Note(0.01, 0.02, 64, 80), Note(0.02, 0.05, 67, 80), Note(0.3, 0.32, 86, 80),
            Note(0.4, 1.4, 62, 80), Note(1.5, 1.52, 88, 80), Note(1.5, 1.52, 84, 80), Note(1.54, 1.56, 63, 80),
            Note(1.9, 2.2, 40, 80), Note(2.3, 2.32, 66, 80), Note(2.33, 2.9, 45, 80), Note(3.0, 3.02, 71, 80),
            Note(3.4, 3.42, 96, 80)]
    key, eighth = parse_key("C:major"), 0.25
    line = top_line(key_events(wild), 8)
    assert len(line) == 8
    phrase = list(notes_from_events(practice_phrase(line, singable_scale(key, MIDDLE_C), eighth)))
    assert len(phrase) == 8
    assert_learnable(phrase, key, eighth)
    assert all(abs(note.pitch - MIDDLE_C) <= RANGE_SEMITONES // 2 for note in phrase)
    assert all((note.start / eighth).is_integer() for note in phrase), "off the eighth-note grid"


def test_duet_plays_along_on_the_beat_and_stops_two_bars_after_the_player(jack, shipped_model, fast_switching):
    settings = JamSettings(mode="duet", seed=3, feel=Feel(quantize=1.0), limits=JamSettings().limits)
    rig = DuetRig(jack, shipped_model, settings, name="Duet")
    voice, model_heard = rig.engine.voice, []  # every key event the model is fed, in order
    hear = voice.hear
    voice.hear = lambda seconds, pitch, velocity: (model_heard.append((pitch, velocity)),
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
        time.sleep((PATIENCE_BEATS + 4) * BEAT)  # room for a bot that plays on too long to be heard doing so
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
    # two bars after the player's last key-up (8 beats of the clock as heard) the bot's last note has ended,
    # give or take a JACK period each for the key-up's trip in and the note-off's trip out, and one for
    # the stamps; and it played on into the last of those bars
    beat = tick * 24
    releases = [event.seconds for event in rig.recorder.key_events() if event.velocity == 0]
    overshoot = max(releases) - (last + PATIENCE_BEATS * beat)
    assert overshoot <= 3 * TEST_PERIOD_SECONDS, f"the bot's last note ended {overshoot / beat:.2f} beats late"
    assert max(onsets) > last + (PATIENCE_BEATS - 2) * beat, "the bot stopped before the two bars were up"
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
    # a phrase gap shorter than the silence after each key of an echo played staccato: the echo must be
    # heard whole all the same
    settings = JamSettings(mode="practice", seed=9, bpm=BPM, phrase_gap=0.1)
    lines: list[str] = []
    rig = DuetRig(jack, shipped_model, settings, name="Practice")
    rig.engine._log = lines.append
    practice = rig.engine.mode
    try:
        phrase = echo_of(rig, 0.0)
        assert len(phrase) == FIRST_LENGTH
        # the right keys at the right times, each let go after a tenth of a second
        rig.player.play([Note(note.start, note.start + 0.1, note.pitch, 80) for note in phrase])
        assert wait_until(lambda: len(practice.scores) == 1, 15), lines
        assert practice.scores[0].pitch == 1.0 and practice.scores[0].timing > 0.8, practice.scores
        assert practice.length == FIRST_LENGTH + 1
        since = time.perf_counter()
        second = echo_of(rig, since)
        rig.player.play([Note(n.start, n.end, 30 + i, 80) for i, n in enumerate(second)])  # all wrong
        assert wait_until(lambda: len(practice.scores) == 2, 15), lines
        assert practice.scores[1].pitch == 0.0 and not practice.scores[1].missed
        assert practice.length == FIRST_LENGTH
        key = rig.engine.key  # practice's, given back when the jam ends
    finally:
        rig.close()
    # as heard over JACK, where each time may be a period off
    for heard in (phrase, second):
        assert_learnable(heard, key, BEAT / 2, slack=2 * TEST_PERIOD_SECONDS)
    assert all(abs(note.pitch - MIDDLE_C) <= RANGE_SEMITONES // 2 for note in phrase), "the player has not played yet"
    assert any("round 1: pitch 100%" in line and "clean" in line for line in lines), lines
    assert any("round 2: pitch 0%, timing n/a" in line for line in lines), lines
    assert practice.summary().startswith("duetto practice: 2 rounds, 0 missed; pitch 50%")
    assert rig.recorder.unmatched_note_ons() == 0


def test_a_phrase_composed_for_longer_than_its_lead_is_still_played_whole(jack, shipped_model, fast_switching):
    # a big model on a busy machine: the phrase takes a second to compose, three times the lead
    settings = JamSettings(mode="practice", seed=9, bpm=BPM)
    rig = DuetRig(jack, shipped_model, settings, name="SlowPhrase")
    engine, practice = rig.engine, rig.engine.mode
    compose, composed_at = engine.compose, []

    def slowly(*args, **kwargs):
        for event in compose(*args, **kwargs):
            time.sleep(1.0 / FIRST_LENGTH)  # a second over the phrase's notes
            composed_at.append(engine.now())
            yield event

    engine.compose = slowly
    try:
        phrase = echo_of(rig, 0.0)
        key = engine.key  # practice's, given back when the jam ends
    finally:
        rig.close()
    assert practice.phrase[0][0] >= composed_at[-1] + LEAD_SECONDS  # planned after composing, with its lead
    assert len(phrase) == FIRST_LENGTH
    assert_learnable(phrase, key, BEAT / 2, slack=2 * TEST_PERIOD_SECONDS)  # no note due already


def test_practice_waits_for_the_player_after_rounds_missed_in_a_row(jack, shipped_model, fast_switching):
    settings = JamSettings(mode="practice", seed=4, bpm=180.0, phrase_gap=0.1)
    lines: list[str] = []
    rig = DuetRig(jack, shipped_model, settings, name="Absent")
    rig.engine._log = lines.append
    practice = rig.engine.mode
    try:
        assert wait_until(lambda: len(practice.scores) == MISSES_BEFORE_WAITING, 60), lines
        waiting_since = time.perf_counter()
        time.sleep(4.0)  # longer than the pause before a phrase, its lead and its composing
        assert rig.recorder.notes(since=waiting_since) == [], "the bot played on with nobody there"
        played = time.perf_counter()
        rig.player.play([Note(0.0, 0.2, 60, 80)])
        assert wait_until(lambda: rig.recorder.first_note_on(since=played + 0.2) is not None, 15), \
            "the bot did not start again when the player played"
    finally:
        rig.close()
    assert lines[:MISSES_BEFORE_WAITING] == [
        "duetto practice: round 1: missed (no echo)", "duetto practice: round 2: missed (no echo)",
        "duetto practice: round 3: missed (no echo); 3 missed in a row: waiting for you to play"]
    assert practice.summary() == "duetto practice: 3 rounds, 3 missed"


def test_jam_practice_prints_a_summary_when_stopped(jack):
    jam = JamProcess("--mode", "practice", "--seed", "2", "--bpm", "140", "--phrase-gap", "200")
    phrase = Recorder()
    try:
        jam.wait_for_ports(jack)
        listener = jack.open_input(jam.out_port, phrase)
        keyboard = jack.open_output(jam.in_port)
        # the first phrase is played (one note after another, none longer than a half note: 0.86 s at this
        # tempo); the player echoes something, and once the round is scored stops the session
        assert wait_until(lambda: phrase.heard, 30), jam.errors
        assert wait_until(lambda: time.perf_counter() - phrase.heard[-1].stamp > 1.0, 15), jam.errors
        Player(keyboard).play([Note(0.0, 0.2, 60, 80), Note(0.25, 0.45, 62, 80)])
        assert wait_until(lambda: jam.said("duetto practice: round 1:"), 15), jam.errors
        code = jam.stop()
        keyboard.close()
        listener.close()
    finally:
        jam.stop()
    assert code == 0, jam.errors
    assert "duetto practice: 1 rounds, 0 missed" in jam.out
