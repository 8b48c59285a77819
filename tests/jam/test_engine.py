"""The engine's phrase logic through the in-process loopback ports (the same engine code as on JACK)."""

from __future__ import annotations

import time

import pytest

from duetto.jam.engine import Engine
from duetto.jam.modes.base import Mode
from duetto.jam.settings import JamSettings
from duetto.midi.ports import open_backend
from duetto.music.clock import CLOCK_SILENCE_SECONDS, SOURCE_CLOCK
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from support.clock import ClockSender
from support.faults import FailingModel
from support.processes import wait_until

PHRASE = [Note(0.0, 0.15, 60, 90), Note(0.2, 0.35, 64, 80), Note(0.4, 0.6, 67, 85)]


def rig(model, mode: Mode | None = None, **settings):
    backend = open_backend("loopback")
    output = backend.open_output("Out", virtual=True)
    engine = Engine(model, output, JamSettings(seed=1, **settings), log=lambda line: None, mode=mode)
    backend.open_input("In", engine.receive, virtual=True)
    recorder = Recorder()
    backend.open_input("Out", recorder)
    engine.start()
    return engine, Player(backend.open_output("In")), recorder


@pytest.fixture
def stop_later():
    engines = []
    yield engines.append
    for engine in engines:
        engine.stop()


def test_a_stray_key_up_is_not_a_phrase(shipped_model, stop_later):
    engine, player, recorder = rig(shipped_model, phrase_gap=0.1, response_seconds=1.0)
    stop_later(engine)
    player.port.send([0x80, 60, 0])  # released a key pressed before Duetto was listening
    time.sleep(0.3)
    assert recorder.heard == []
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.answers == 1, 3)


def test_a_model_failing_mid_answer_leaves_nothing_hanging_and_the_engine_goes_on(shipped_model, stop_later):
    failing = FailingModel(shipped_model, fail_after=10_000)
    engine, player, recorder = rig(failing, phrase_gap=0.1, response_seconds=3.0)
    stop_later(engine)
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.answers == 1, 3)
    failing.remaining = 40  # the next answer breaks after 40 more steps, with notes already queued
    time.sleep(0.1)
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.errors >= 1, 3)
    time.sleep(0.3)
    assert recorder.unmatched_note_ons() == 0
    assert not engine.scheduler.busy
    failing.remaining = 10_000
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.answers == 2, 3), "the engine stopped answering after a failure"


class SlowComposer(Mode):
    """Composes for longer than the clock's silence timeout, as a big model on a busy machine may, while
    MIDI Clock keeps arriving; notes the grid it finds at the end."""

    name = "slow"

    def __init__(self) -> None:
        super().__init__()
        self.grids = []

    def begin(self, stage) -> None:
        super().begin(stage)
        self.wake_at = stage.now() + 1.0  # a bar of ticks heard first

    def tick(self, now: float) -> None:
        self.grids.append(self.stage.grid())
        time.sleep(CLOCK_SILENCE_SECONDS + 0.3)
        self.grids.append(self.stage.grid())
        self.wake_at = float("inf")


def test_a_busy_engine_thread_does_not_take_its_own_lag_for_a_stopped_clock(shipped_model, stop_later):
    mode = SlowComposer()
    engine, player, _ = rig(shipped_model, mode=mode)
    stop_later(engine)
    clock = ClockSender(player.port, bpm=120.0).start()
    try:
        assert wait_until(lambda: len(mode.grids) == 2, 5)
    finally:
        clock.stop()
    before, after = mode.grids
    assert before is not None and before.source == SOURCE_CLOCK
    assert after is not None and after.source == SOURCE_CLOCK
    assert after.beat == pytest.approx(before.beat, rel=0.01)
