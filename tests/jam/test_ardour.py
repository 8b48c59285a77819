"""A real DAW in the loop: Ardour 7, headless (its Lua session host, tests/support/ardour_duet.lua), plays a
phrase and its MIDI Clock into a `duetto jam` on the private JACK server and records the answer on a
record-armed MIDI track, as a musician's session would; the test reads Ardour's own take.

Ardour sends its tracks and its clock ahead of its timeline by its output latency, so that what follows the
clock sounds with Ardour's audio. Duetto's answer therefore lands on Ardour's beat at the port, and a track
that records it puts it that much early on the timeline: the test measures both (README, "Connecting a DAW").
"""

from __future__ import annotations

import time

import pytest

from duetto.midi import messages
from duetto.tools.duet_rig import Recorder
from support.ardour import PhraseNote, ardour_lua, record_in_ardour
from support.clock import fit_clock
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess

PHRASE = [PhraseNote(4 + index / 2, pitch, 0.4) for index, pitch in enumerate((60, 62, 64, 65, 67, 65, 64, 62))]
ROLL_SECONDS = 9.0  # at Ardour's 120 BPM: two bars of count-in, the phrase, the 0.6 s gap, a 2 s answer
CALLBACK_SECONDS = 0.001  # a message's callback on the receiving side, after JACK's period boundary


def port_named(names: list[str], name: str) -> str:
    """The full JACK name ("client:port") of the port `name`."""
    (found,) = [full for full in names if name in full]
    return found


def beat_offset(seconds: float, first_beat: float, beat: float) -> float:
    """How far `seconds` lies from the nearest beat (negative: early)."""
    return seconds - (first_beat + round((seconds - first_beat) / beat) * beat)


def test_ardour_plays_a_phrase_and_its_clock_and_records_the_answer_on_its_beat(jack, tmp_path):
    if ardour_lua() is None:
        pytest.fail("ardour7-lua is missing; `make test` installs Debian's ardour")
    started = time.perf_counter()
    jam = JamProcess("--response-seconds", "2", "--seed", "1")
    try:
        jam.wait_for_ports(jack)
        clock_heard, answer_heard = Recorder(), Recorder()
        before = set(jack.output_names())
        witness = jack.open_input("Ardour Clock Witness", clock_heard, virtual=True)
        (witness_name,) = set(jack.output_names()) - before
        answer_listener = jack.open_input(jam.out_port, answer_heard)
        try:
            take = record_in_ardour(tmp_path, port_named(jack.output_names(), jam.in_port),
                                    port_named(jack.input_names(), jam.out_port), witness_name, ROLL_SECONDS, PHRASE)
        finally:
            witness.close()
            answer_listener.close()
    finally:
        assert jam.stop() == 0, jam.errors
    assert "from midi clock" in jam.errors, jam.errors

    # Ardour's take holds the answer, whole, after the phrase
    assert len([event for event in take.events if event[2] > 0]) >= 2, take.events
    sounding: dict[int, int] = {}
    for _, pitch, velocity in take.events:
        sounding[pitch] = sounding.get(pitch, 0) + (1 if velocity > 0 else -1)
        assert sounding[pitch] >= 0, take.events
    assert not any(sounding.values()), take.events
    first = next(beat for beat, _, velocity in take.events if velocity > 0)
    assert first > PHRASE[-1].beat + PHRASE[-1].beats

    # at the port the answer's first note falls on Ardour's beat, as its clock arrives
    heard = clock_heard.heard
    start = next(item.stamp for item in heard if item.message[0] == messages.START)
    tick, first_tick = fit_clock([item.stamp for item in heard if item.message[0] == messages.CLOCK and item.stamp > start])
    beat = 24 * tick
    assert beat == pytest.approx(60.0 / take.bpm, rel=0.002)
    answer_on = answer_heard.first_note_on(since=start)
    at_port = beat_offset(answer_on, first_tick, beat)
    assert abs(at_port) < TEST_PERIOD_SECONDS + CALLBACK_SECONDS, at_port

    # on Ardour's timeline the take lies early by Ardour's output latency (what the README tells users to
    # undo); the witness hears the clock's tick and the note at JACK's period boundaries where Ardour places
    # each on its sample, so the two measures differ by up to a period
    on_timeline = take.seconds(first - round(first))
    latency = at_port - on_timeline
    said = take.output_latency / take.rate
    print(f"answer's first note from Ardour's beat: {1000 * at_port:+.2f} ms at the port, "
          f"{1000 * on_timeline:+.2f} ms on its timeline; output latency measured {1000 * latency:.2f} ms "
          f"(Ardour says {take.output_latency} samples, {1000 * said:.2f} ms); {time.perf_counter() - started:.1f} s")
    assert latency == pytest.approx(said, abs=TEST_PERIOD_SECONDS)
