"""Time: following MIDI Clock, finding the player's pulse, `--bpm`, and placing the bot's notes on the grid.

The tracker and the placement are tested on made-up stamps; clock following is tested end to end: a test
client sends Start and 0xF8 at 130 BPM into the bot's input over the private JACK server, and the bot's
note-ons, as an independent recorder hears them, must fall on that grid (as it arrives over JACK) within
one JACK period: JACK delivers a message at the start of the next period, so a note sent exactly on a
grid line is heard up to one period after it (plus the callbacks' own fraction of a millisecond).
"""

from __future__ import annotations

import random
import time

import pytest

from duetto.jam.settings import JamSettings
from duetto.midi.messages import CLOCK, CONTINUE, SONG_POSITION, START
from duetto.midi.ports.rtmidi import ArrivalStamps
from duetto.music.clock import SOURCE_BPM, SOURCE_CLOCK, SOURCE_PLAYER, Grid, TempoTracker
from duetto.music.groove import Dynamics, Feel, Placement
from duetto.music.notes import KeyEvent, Note
from duetto.tools.duet_rig import DuetRig, Recorder
from support.clock import ClockSender, fit_clock
from support.jack import TEST_PERIOD_SECONDS
from support.processes import wait_until

BPM = 130.0
TICK = 60.0 / BPM / 24
CALLBACK_SECONDS = 0.001  # a message's callback on the receiving side, after JACK's period boundary


def feed_ticks(tracker: TempoTracker, first: float, count: int, jitter: float = 0.0, seed: int = 0) -> float:
    """Clock ticks stamped as a JACK client would see them: late by up to `jitter`. Returns the last stamp."""
    rng = random.Random(seed)
    stamp = first
    for index in range(count):
        stamp = first + index * TICK + rng.uniform(0, jitter)
        tracker.timing_message([CLOCK], stamp)
    return stamp


def test_arrival_stamps_take_out_the_callbacks_delays():
    stamps = ArrivalStamps()
    arrivals = [10.0 + 0.02 * index for index in range(60)]
    delays = [0.0 if index % 7 == 0 else 0.004 * (index % 3 + 1) for index in range(60)]  # the interpreter was busy
    stamped = [stamps.stamp(0.0 if index == 0 else 0.02, arrival + delay)
               for index, (arrival, delay) in enumerate(zip(arrivals, delays))]
    assert max(abs(stamp - arrival) for stamp, arrival in zip(stamped, arrivals)) < 0.0002
    assert all(stamp <= arrival + delay for stamp, arrival, delay in zip(stamped, arrivals, delays))


def test_grid_lines_beats_and_swing():
    grid = Grid(beat=0.5, origin=10.0, source=SOURCE_BPM)
    assert grid.bpm == 120
    assert grid.next_beat(10.0) == 10.0
    assert grid.next_beat(10.01) == pytest.approx(10.5)
    assert grid.next_beat(9.9) == pytest.approx(10.0)
    assert grid.snap(10.13, 4) == pytest.approx(10.125)
    # with swing 2/3 the second sixteenth of each pair moves a third of a step later
    assert grid.snap(10.13, 4, swing=2 / 3) == pytest.approx(10.125 + 0.125 / 3)
    assert grid.snap(10.26, 4, swing=2 / 3) == pytest.approx(10.25)


def test_midi_clock_gives_tempo_and_the_beat_from_start():
    tracker = TempoTracker()
    tracker.timing_message([START], 99.99)
    last = feed_ticks(tracker, 100.0, 96, jitter=0.005)
    grid = tracker.grid(last)
    assert grid.source == SOURCE_CLOCK
    assert grid.bpm == pytest.approx(BPM, abs=0.5)
    # the first tick after Start is beat one; ticks arrive late by 2.5 ms on average
    assert grid.next_beat(100.0 + 4 * 24 * TICK - 0.01) == pytest.approx(100.0 + 4 * 24 * TICK + 0.0025, abs=0.002)


def test_ticks_held_up_on_the_way_do_not_pull_the_beat_late():
    # a sender starved for 40 ms sends the ticks it owes in a burst, as the test's own clock does on a
    # loaded machine: a plain line through the bar would put the beat about 3 ms late and the tempo off
    tracker = TempoTracker()
    tracker.timing_message([START], 99.99)
    for index in range(96):
        due = 100.0 + index * TICK
        held = max(0.0, 100.0 + 70 * TICK + 0.040 - due) if 70 <= index < 80 else 0.0
        tracker.timing_message([CLOCK], due + held + random.Random(index).uniform(0, 0.0005))
    grid = tracker.grid(100.0 + 96 * TICK)
    assert grid.beat == pytest.approx(24 * TICK, rel=2e-4)
    assert grid.next_beat(100.0 + 95 * TICK) == pytest.approx(100.0 + 96 * TICK, abs=0.0006)


def test_song_position_sets_the_phase_of_the_beat():
    tracker = TempoTracker()
    tracker.timing_message([SONG_POSITION, 2, 0], 99.9)  # two sixteenths in: half a beat
    tracker.timing_message([CONTINUE], 99.95)
    last = feed_ticks(tracker, 100.0, 48)
    grid = tracker.grid(last)
    assert grid.next_beat(100.0) == pytest.approx(100.0 + 12 * TICK)


def test_a_stopped_clock_hands_over_to_bpm():
    tracker = TempoTracker(bpm=90)
    last = feed_ticks(tracker, 100.0, 48)
    assert tracker.grid(last).source == SOURCE_CLOCK
    assert tracker.grid(last + 1.0).source == SOURCE_BPM
    assert tracker.grid(last + 1.0).bpm == pytest.approx(90)


def test_tempo_from_the_players_onsets_with_the_beat_on_the_phrase_start():
    tracker = TempoTracker()
    beat = 60 / 100
    rhythm = [0, 0.5, 1, 1.5, 2, 3, 3.5, 4, 5, 6, 6.5, 7]  # quarters and eighths at 100 BPM
    for index, position in enumerate(rhythm):
        tracker.player_onset(50.0 + position * beat + random.Random(index).uniform(-0.01, 0.01),
                             starts_phrase=index == 0)
    grid = tracker.grid(60.0)
    assert grid.source == SOURCE_PLAYER
    assert grid.bpm == pytest.approx(100, abs=2)
    assert grid.origin == pytest.approx(50.0, abs=0.011)


def test_free_time_ignores_the_players_pulse_but_not_bpm():
    beat = 60 / 100
    for bpm, expected in ((None, None), (120.0, 120.0)):
        tracker = TempoTracker(bpm, follow_player=False)
        for index, position in enumerate([0, 1, 2, 3, 4, 5, 6, 7]):
            tracker.player_onset(50.0 + position * beat, starts_phrase=index == 0)
        grid = tracker.grid(60.0)
        assert (grid and grid.bpm) == expected


def test_no_tempo_without_clock_pulse_or_bpm():
    tracker = TempoTracker()
    for stamp in (1.0, 1.37, 2.9):  # three scattered notes are no pulse
        tracker.player_onset(stamp, starts_phrase=stamp == 1.0)
    assert tracker.grid(3.0) is None


def test_placement_quantizes_onsets_and_releases():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0), random.Random(0))
    assert placement.place(KeyEvent(0.0, 60, 80)) == pytest.approx(10.0)
    assert placement.place(KeyEvent(0.14, 62, 80)) == pytest.approx(10.125)
    assert placement.place(KeyEvent(0.30, 60, 0)) == pytest.approx(10.25)
    assert placement.place(KeyEvent(0.16, 64, 80)) == pytest.approx(10.125)
    assert placement.place(KeyEvent(0.17, 64, 0)) == pytest.approx(10.125 + 0.02)  # never shorter than 20 ms


def test_a_restrike_squeezed_onto_one_grid_line_moves_to_the_next():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0), random.Random(0))
    times = [placement.place(event) for event in
             [KeyEvent(0.0, 60, 80), KeyEvent(0.03, 60, 0), KeyEvent(0.03, 60, 80), KeyEvent(0.2, 60, 0)]]
    assert times == pytest.approx([10.0, 10.02, 10.125, 10.25])


def test_without_a_grid_humanize_keeps_durations():
    placement = Placement(10.0, None, Feel(quantize=1.0, humanize_ms=10), random.Random(1))
    on = placement.place(KeyEvent(0.1, 60, 80))
    assert on != pytest.approx(10.1)
    assert placement.place(KeyEvent(0.4, 60, 0)) - on == pytest.approx(0.3)


def test_placement_never_restrikes_a_key_before_its_last_note_ended():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=1.0, humanize_ms=5), random.Random(3))
    times = {}
    for event in [KeyEvent(0.0, 60, 80), KeyEvent(0.2, 60, 0), KeyEvent(0.2, 60, 70), KeyEvent(0.3, 60, 0)]:
        times.setdefault(event.velocity > 0, []).append(placement.place(event))
    (first_on, second_on), (first_off, second_off) = times[True], times[False]
    assert first_on < first_off <= second_on < second_off


def test_output_offset_and_partial_strength():
    grid = Grid(beat=0.5, origin=0.0, source=SOURCE_BPM)
    placement = Placement(10.0, grid, Feel(quantize=0.5, output_offset=-0.02), random.Random(0))
    assert placement.place(KeyEvent(0.0, 60, 80)) == pytest.approx(9.98)
    assert placement.place(KeyEvent(0.1, 64, 80)) == pytest.approx(10.1125 - 0.02)
    assert placement.place(KeyEvent(0.2, 64, 0)) == pytest.approx(10.225 - 0.02)


def test_velocity_follow_moves_toward_the_players_dynamics():
    dynamics = Dynamics()
    for _ in range(20):
        dynamics.heard(40)
    assert dynamics.scale(100, follow=0.0) == 100
    assert dynamics.scale(100, follow=1.0) < 60


def test_the_bot_follows_midi_clock_over_jack(jack, shipped_model, fast_switching):
    settings = JamSettings(phrase_gap=0.25, response_seconds=2.5, seed=11, feel=Feel(quantize=1.0))
    rig = DuetRig(jack, shipped_model, settings, name="Clocked")
    before = set(jack.input_names())
    clock_port = jack.open_output("Clocked In")  # the DAW: its clock goes where the player's notes go
    clock_name = (set(jack.input_names()) - before).pop()
    clock_heard = Recorder()
    clock_listener = jack.open_input(clock_name, clock_heard)
    sender = ClockSender(clock_port, BPM)
    time.sleep(0.1)
    sender.start()
    try:
        assert wait_until(lambda: (rig.engine.grid() or Grid(1, 0, "")).source == SOURCE_CLOCK, 5)
        time.sleep(1.0)
        assert rig.engine.grid().bpm == pytest.approx(BPM, abs=1.0)
        phrase = [Note(0.0, 0.2, 60, 90), Note(0.23, 0.4, 64, 80), Note(0.46, 0.9, 67, 85)]
        released = rig.player.play(phrase)
        assert rig.wait_until_answered(released, 10), "no answer"
    finally:
        sender.stop()
        rig.close()
        clock_listener.close()
        clock_port.close()
    ticks = [item.stamp for item in clock_heard.heard if item.message == (CLOCK,)]
    period, first_tick = fit_clock(ticks)
    assert period == pytest.approx(TICK, rel=0.01)
    onsets = [event.seconds for event in rig.recorder.key_events() if event.velocity > 0]
    assert len(onsets) >= 2  # a sparse answer may strike only twice in 2.5 s; each must be on the grid
    assert onsets[0] >= released + settings.phrase_gap - TEST_PERIOD_SECONDS

    def off_grid(stamp: float, ticks_per_line: int) -> float:
        line = period * ticks_per_line
        distance = (stamp - first_tick) % line
        return min(distance, line - distance)

    # where the engine meant each note: on the clock's grid within a JACK period (its tempo and phase
    # come from ticks that each arrived up to a period late)
    planned = [intended for intended, _, message in rig.engine.scheduler.timeline if message and message[0] == 0x90]
    assert off_grid(planned[0], 24) <= TEST_PERIOD_SECONDS, "the answer was not meant to start on a beat"
    misplaced = [round(1000 * off_grid(at, 6), 2) for at in planned if off_grid(at, 6) > TEST_PERIOD_SECONDS]
    assert misplaced == [], f"notes meant off the sixteenth grid by (ms): {misplaced}"
    # where they were heard: on the grid within a period and a callback, but for the odd note a busy
    # machine sends late (how late, and how often, is the latency benchmark's to measure)
    tolerance = TEST_PERIOD_SECONDS + CALLBACK_SECONDS
    assert off_grid(onsets[0], 24) <= 2 * tolerance, "the answer did not start on a beat"
    misses = [round(1000 * off_grid(onset, 6), 2) for onset in onsets if off_grid(onset, 6) > tolerance]
    assert len(misses) <= len(onsets) // 10 and all(miss <= 3000 * tolerance for miss in misses), \
        f"onsets off the sixteenth grid by (ms): {misses}"
