"""A synth or a keyboard that disappears and comes back (the DAW quits and restarts), over real JACK ports.

`duetto jam --out NAME` / `--in NAME` connect to another program's port. When that port is deleted
mid-answer or with a key held, Duetto says so, lets go of everything, keeps running, and reconnects when
a port of that name is created again; and when it comes back between two looks at the port list (a synth
restarting fast), which on JACK leaves a port of the right name that Duetto is no longer connected to and
whose sends raise nothing, Duetto notices the lost connection the same way.
"""

from __future__ import annotations

import time

from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess, wait_until

PHRASE = [Note(0.0, 0.12, 60, 90), Note(0.15, 0.27, 64, 80), Note(0.3, 0.5, 67, 85)]


def start_jam(*args: str) -> JamProcess:
    return JamProcess("--seed", "1", "--phrase-gap", "120", *args)


def test_a_synth_that_quits_and_comes_back_is_reconnected(jack):
    first_synth = Recorder()
    synth_port = jack.open_input("Gone Synth", first_synth, virtual=True)
    jam = start_jam("--out", "Gone Synth", "--response-seconds", "3")
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.lines
        # the bot's notes leave one JACK period early: half a period for the trip in, half for the trip out
        assert jam.said(f"notes sent {1000 * TEST_PERIOD_SECONDS:.2f} ms early for the transport"), jam.lines
        keyboard = jack.open_output(jam.in_port)
        time.sleep(0.2)
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: first_synth.unmatched_note_ons() > 0, 5), "no answer reached the synth"
        synth_port.close()  # the synth quits mid-answer
        assert wait_until(lambda: jam.said("'Gone Synth:Gone Synth' is gone"), 5), jam.lines
        second_synth = Recorder()
        synth_port = jack.open_input("Gone Synth", second_synth, virtual=True)
        assert wait_until(lambda: jam.said("is back; reconnected"), 5), jam.lines
        time.sleep(3.5)  # the first answer is over
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: second_synth.unmatched_note_ons() > 0, 5), "no answer after reconnecting"
        keyboard.close()
    finally:
        code = jam.stop()
        time.sleep(0.1)
        synth_port.close()
    assert code == 0, jam.lines
    assert second_synth.unmatched_note_ons() == 0


def test_a_synth_that_restarts_between_two_checks_is_reconnected_within_a_second(jack):
    first_synth = Recorder()
    synth_port = jack.open_input("Quick Synth", first_synth, virtual=True)
    jam = start_jam("--out", "Quick Synth", "--response-seconds", "1")
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.lines
        keyboard = jack.open_output(jam.in_port)
        time.sleep(0.2)
        synth_port.close()  # the synth restarts faster than Duetto looks at the port list (twice a second)
        second_synth = Recorder()
        synth_port = jack.open_input("Quick Synth", second_synth, virtual=True)
        restarted = time.monotonic()
        assert wait_until(lambda: jam.said("is back; reconnected"), 5), jam.lines
        assert time.monotonic() - restarted < 1.5, "not noticed within a second (and a check's wait)"
        assert jam.said("'Quick Synth:Quick Synth' lost its connection") or jam.said("is gone"), jam.lines
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: second_synth.unmatched_note_ons() > 0, 5), "the restarted synth heard nothing"
        keyboard.close()
    finally:
        code = jam.stop()
        time.sleep(0.1)
        synth_port.close()
    assert code == 0, jam.lines
    assert second_synth.unmatched_note_ons() == 0


def test_a_keyboard_that_vanishes_with_a_key_down_is_let_go_and_reconnected(jack):
    keys = jack.open_output("Gone Keys", virtual=True)
    jam = start_jam("--in", "Gone Keys", "--response-seconds", "1")
    output = Recorder()
    try:
        assert wait_until(lambda: jam.said("Ctrl-C to stop") or jam.process.poll() is not None, 30), jam.lines
        listener = jack.open_input(jam.out_port, output)
        time.sleep(0.2)
        keys.send([0x90, 60, 90])
        keys.send([0x90, 64, 90])
        time.sleep(0.3)
        keys.close()  # the keyboard is unplugged with two keys down
        assert wait_until(lambda: jam.said("'Gone Keys:Gone Keys' is gone"), 5), jam.lines
        # its keys are let go: the phrase is over, and the bot answers it
        assert wait_until(lambda: output.first_note_on(since=0) is not None, 5), "the engine still waits for key-ups"
        keys = jack.open_output("Gone Keys", virtual=True)
        assert wait_until(lambda: jam.said("is back; reconnected"), 5), jam.lines
        time.sleep(1.5)
        replugged = time.perf_counter()
        Player(keys).play(PHRASE)
        assert wait_until(lambda: output.first_note_on(since=replugged + 0.4) is not None, 5), \
            "no answer from the reconnected keyboard"
    finally:
        code = jam.stop()
        time.sleep(0.1)
        keys.close()
    listener.close()
    assert code == 0, jam.lines
    assert output.unmatched_note_ons() == 0
