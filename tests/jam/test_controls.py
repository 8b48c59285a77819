"""Musical controls over real JACK ports: phrase-end triggers, input channel, pass-through, CC-mapped
controls and actions (panic, re-roll, undo), and panic by a key combination.

Each test plays into the bot's virtual input with a second client and listens to its output with a third.
"""

from __future__ import annotations

import itertools
import time

import pytest

from duetto.jam.controls import CONTROLS, PhraseEnd, parse_phrase_end, set_control
from duetto.jam.settings import JamSettings
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from support.processes import wait_until
from support.voices import pitches_heard

PHRASE = [Note(0.0, 0.15, 60, 90), Note(0.2, 0.35, 64, 80), Note(0.4, 0.6, 67, 85)]
_names = itertools.count()


@pytest.fixture
def rig(jack, shipped_model, fast_switching):
    rigs = []

    def make(**overrides) -> DuetRig:
        settings = JamSettings(**{"phrase_gap": 0.2, "response_seconds": 1.5, "seed": 4, **overrides})
        rigs.append(DuetRig(jack, shipped_model, settings, name=f"Controlled {next(_names)}"))
        return rigs[-1]

    yield make
    for made in rigs:
        made.close()


def cc(rig: DuetRig, controller: int, value: int, channel: int = 0) -> None:
    rig.player_port.send([0xB0 | channel, controller, value])


def onsets_since(rig: DuetRig, since: float) -> list[int]:
    return [event.pitch for event in rig.recorder.key_events(since=since) if event.velocity > 0]


@pytest.mark.parametrize("text, parsed", [("silence", PhraseEnd()), ("pedal", PhraseEnd("pedal")),
                                          ("cc:20", PhraseEnd("cc", 20)), ("KEY:108", PhraseEnd("key", 108))])
def test_phrase_end_parses(text, parsed):
    assert parse_phrase_end(text) == parsed


@pytest.mark.parametrize("text", ["cc", "key:128", "pedal:3", "loud"])
def test_bad_phrase_end_is_refused(text):
    with pytest.raises(ValueError, match="--phrase-end"):
        parse_phrase_end(text)


def test_cc_values_map_onto_each_controls_range():
    assert CONTROLS["temperature"].value(0) == pytest.approx(0.0)
    assert CONTROLS["temperature"].value(127) == pytest.approx(2.0)
    assert CONTROLS["density"].value(64) == pytest.approx(1.0, rel=0.04)  # the middle of a ratio range is 1
    assert CONTROLS["lowest"].value(64) == 64
    assert CONTROLS["scale_lock"].value(100) is True


def test_pedal_release_ends_the_phrase_not_silence(rig):
    bench = rig(phrase_end=PhraseEnd("pedal"))
    cc(bench, 64, 127)
    bench.player.play(PHRASE)
    time.sleep(0.6)
    assert bench.engine.stats.answers == 0, "answered on silence while the pedal was down"
    released = time.perf_counter()
    cc(bench, 64, 0)
    assert wait_until(lambda: bench.recorder.first_note_on(since=released) is not None, 5), "no answer"


def test_a_chosen_cc_ends_the_phrase(rig):
    bench = rig(phrase_end=PhraseEnd("cc", 20))
    bench.player.play(PHRASE)
    time.sleep(0.5)
    assert bench.engine.stats.answers == 0
    cc(bench, 20, 127)
    assert wait_until(lambda: bench.engine.stats.answers == 1, 5)


def test_a_chosen_key_ends_the_phrase_and_is_not_music(rig):
    bench = rig(phrase_end=PhraseEnd("key", 108), passthrough=True)
    bench.player.play(PHRASE)
    time.sleep(0.5)
    assert bench.engine.stats.answers == 0
    bench.player.play([Note(0.0, 0.1, 108, 100)])
    assert wait_until(lambda: bench.engine.stats.answers == 1, 5)
    assert 108 not in [event.pitch for event in bench.recorder.key_events()], "the trigger key was played"
    assert bench.engine.stats.notes_in == len(PHRASE)


def test_the_input_channel_filter_ignores_other_channels(rig):
    bench = rig(input_channel=1)
    bench.player.play(PHRASE)  # channel 1 (index 0)
    time.sleep(0.6)
    assert bench.engine.stats.notes_in == 0 and bench.engine.stats.answers == 0
    bench.player.channel = 1
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.engine.stats.answers == 1, 5)


def test_passthrough_sends_the_players_notes_and_barge_in_spares_them(rig):
    bench = rig(passthrough=True, channel=5)
    start = time.perf_counter()
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.recorder.first_note_on(since=start + 0.8) is not None, 5), "no answer"
    bench.player_port.send([0x90, 72, 100])  # barge in and hold the key
    time.sleep(0.3)
    held = [item.message for item in bench.recorder.heard if item.message[:2] in ((0x90, 72), (0x80, 72))]
    assert held == [(0x90, 72, 100)], "the held key was not passed through, or was released by the barge-in"
    bench.player_port.send([0x80, 72, 0])
    assert wait_until(lambda: bench.recorder.unmatched_note_ons() == 0, 1.0)
    thru = [item.message[1] for item in bench.recorder.heard if item.message[0] == 0x90 and item.message[2]]
    assert thru[:len(PHRASE)] == [note.pitch for note in PHRASE]
    bot = [item.message[1] for item in bench.recorder.heard if item.message[0] == 0x95 and item.message[2]]
    assert bot, "the bot did not answer on its own channel"


def test_passthrough_sends_pedal_and_bend_but_not_duettos_own_knobs_and_lifts_the_pedal_at_the_end(rig):
    bench = rig(passthrough=True, phrase_gap=30.0, cc_map={21: "temperature"})
    cc(bench, 64, 127)  # sustain down
    cc(bench, 21, 10)  # Duetto's temperature knob: not for the synth
    bench.player_port.send([0xE0, 0, 100])  # pitch bend up
    bench.player_port.send([0xD0, 50])  # channel pressure
    assert wait_until(lambda: bench.engine.stats.cc_changes == 1 and len(bench.recorder.heard) == 3, 2)
    assert [item.message for item in bench.recorder.heard] == [(0xB0, 64, 127), (0xE0, 0, 100), (0xD0, 50)]
    bench.engine.stop()
    assert wait_until(lambda: len(bench.recorder.heard) == 6, 2), bench.recorder.heard
    assert [item.message for item in bench.recorder.heard][3:] == [(0xB0, 64, 0), (0xE0, 0, 64), (0xB0, 123, 0)]


def test_a_mapped_cc_changes_the_control_live(rig):
    bench = rig(cc_map={21: "temperature", 22: "quantize", 23: "scale_lock"})
    cc(bench, 21, 0)
    cc(bench, 22, 127)
    cc(bench, 23, 127)
    assert wait_until(lambda: bench.engine.stats.cc_changes == 3, 2)
    assert bench.engine.settings.temperature == pytest.approx(0.0)
    assert bench.engine.settings.feel.quantize == pytest.approx(1.0)
    assert bench.engine.settings.scale_lock is True


def test_panic_cc_silences_the_answer_and_the_bot_keeps_playing(rig):
    bench = rig(cc_map={30: "panic"}, response_seconds=4.0)
    start = time.perf_counter()
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.recorder.first_note_on(since=start + 0.6) is not None, 5)
    time.sleep(0.2)
    panicked = time.perf_counter()
    cc(bench, 30, 127)
    assert wait_until(lambda: bench.engine.stats.panics == 1, 2)
    assert wait_until(lambda: bench.recorder.count(0xB0, 123) >= 1, 1), "no All Notes Off"
    time.sleep(0.2)
    assert bench.recorder.unmatched_note_ons(all_notes_off_releases=False) == 0
    assert onsets_since(bench, panicked + 0.05) == [], "the answer went on after panic"
    cc(bench, 30, 0)
    answers = bench.engine.stats.answers
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.engine.stats.answers == answers + 1, 5), "no answer after panic"


def test_panic_keys_held_together_silence_everything(rig):
    bench = rig(panic_keys=frozenset({21, 108}), response_seconds=4.0)
    start = time.perf_counter()
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.recorder.first_note_on(since=start + 0.6) is not None, 5)
    bench.player.play([Note(0.0, 0.2, 21, 90), Note(0.05, 0.2, 108, 90)])
    assert wait_until(lambda: bench.engine.stats.panics == 1, 2)
    assert wait_until(lambda: bench.recorder.count(0xB0, 123) >= 1, 1)


def test_reroll_replaces_the_answer_and_undo_withdraws_it(rig):
    bench = rig(cc_map={40: "reroll", 41: "undo"}, response_seconds=3.0)
    bench.player.play(PHRASE)
    assert wait_until(lambda: bench.engine.stats.answers == 1, 5)
    time.sleep(0.3)
    rerolled = time.perf_counter()
    cc(bench, 40, 127)
    assert wait_until(lambda: bench.engine.stats.rerolls == 1 and bench.engine.stats.answers == 2, 3)
    assert wait_until(lambda: onsets_since(bench, rerolled) != [], 3), "no new answer after re-roll"
    time.sleep(0.2)
    undone = time.perf_counter()
    cc(bench, 41, 127)
    assert wait_until(lambda: bench.engine.stats.undos == 1, 2)
    time.sleep(0.3)
    assert onsets_since(bench, undone + 0.05) == [], "the undone answer went on"
    assert wait_until(lambda: bench.recorder.unmatched_note_ons() == 0, 1)
    assert not bench.engine.scheduler.busy
    # neither discarded answer reached the model: all it has heard is the player's phrase
    assert pitches_heard(bench.engine.voice) == [note.pitch for note in PHRASE]



def test_a_choice_control_splits_the_knob_among_its_options():
    settings = JamSettings(style_choices=("auto", "chorale", "folk"))
    texture, style = CONTROLS["texture"], CONTROLS["style"]
    assert [texture.value(cc, settings) for cc in (0, 30, 60, 90, 127)] == ["auto", "free", "line", "voices", "chords"]
    assert [style.value(cc, settings) for cc in (0, 42, 43, 85, 86, 127)] == ["auto", "auto", "chorale", "chorale",
                                                                            "folk", "folk"]
    set_control(settings, "texture", texture.value(127, settings))
    assert settings.texture == "chords"
