"""The engine's phrase logic through the in-process loopback ports (the same engine code as on JACK)."""

from __future__ import annotations

import time

import pytest

from duetto.jam.modes.base import Mode
from duetto.jam.settings import JamSettings
from duetto.midi.ports import open_backend
from duetto.music.clock import CLOCK_SILENCE_SECONDS, SOURCE_CLOCK
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from support.clock import ClockSender
from support.faults import FailingModel
from support.processes import wait_until

PHRASE = [Note(0.0, 0.15, 60, 90), Note(0.2, 0.35, 64, 80), Note(0.4, 0.6, 67, 85)]


@pytest.fixture
def rig():
    """A bot on loopback ports, as every other place sets one up (`DuetRig`, a `JamSession` inside);
    closed after the test: (engine, player, recorder)."""
    made = []

    def make(model, mode: Mode | None = None, **settings):
        made.append(DuetRig(open_backend("loopback"), model, JamSettings(seed=1, **settings), mode=mode,
                            log=lambda line: None))
        return made[-1].engine, made[-1].player, made[-1].recorder

    yield make
    for bench in made:
        bench.close()


def test_a_stray_key_up_is_not_a_phrase(shipped_model, rig):
    engine, player, recorder = rig(shipped_model, phrase_gap=0.1, response_seconds=1.0)
    player.port.send([0x80, 60, 0])  # released a key pressed before Duetto was listening
    time.sleep(0.3)
    assert recorder.heard == []
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.answers == 1, 3)


def test_a_model_failing_mid_answer_leaves_nothing_hanging_and_the_engine_goes_on(shipped_model, rig):
    failing = FailingModel(shipped_model, fail_after=10_000)
    engine, player, recorder = rig(failing, phrase_gap=0.1, response_seconds=3.0)
    player.play(PHRASE)
    assert wait_until(lambda: engine.stats.answers == 1, 3)
    time.sleep(0.5)
    used = 10_000 - failing.remaining  # the steps of hearing a phrase and answering it (a token or a note each)
    # the next answer breaks past the middle of the steps the last took, with notes already queued
    failing.remaining = used // 2 + 2
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


def test_a_busy_engine_thread_does_not_take_its_own_lag_for_a_stopped_clock(shipped_model, rig):
    mode = SlowComposer()
    engine, player, _ = rig(shipped_model, mode=mode)
    clock = ClockSender(player.port, bpm=120.0).start()
    try:
        assert wait_until(lambda: len(mode.grids) == 2, 5)
    finally:
        clock.stop()
    before, after = mode.grids
    assert before is not None and before.source == SOURCE_CLOCK
    assert after is not None and after.source == SOURCE_CLOCK
    assert after.beat == pytest.approx(before.beat, rel=0.01)
