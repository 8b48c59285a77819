"""The rolling context: incremental hearing, and priming a fresh state on the primer thread without losing a note."""

from __future__ import annotations

import threading

import numpy as np

import pytest

from duetto.model.rolling_state import HANDOVER_INPUTS
from duetto.voices.event_context import Context


def play_scale(context: Context, notes: int, start: float = 0.0) -> float:
    now = start
    for index in range(notes):
        context.hear(now, 60 + index % 12, 80)
        context.hear(now + 0.1, 60 + index % 12, 0)
        now += 0.2
    return now


def test_hearing_feeds_the_model_token_by_token(shipped_event_model):
    context = Context(shipped_event_model, window_tokens=64)
    play_scale(context, 5)
    tokens = list(context.window)
    logits, _ = shipped_event_model.feed([1] + tokens, shipped_event_model.initial_state())  # START, then the same
    assert np.allclose(context.logits, logits, atol=1e-5)


def test_a_fresh_state_is_primed_on_the_primer_thread_and_takes_over_with_everything_heard(shipped_event_model,
                                                                                          monkeypatch):
    context = Context(shipped_event_model, window_tokens=16)
    runs_by_thread: dict[str, int] = {}
    run = shipped_event_model.run
    heard_mid_priming = threading.Event()  # the primer is held back until the notes below are heard

    def counted(feeds, state):
        name = threading.current_thread().name
        if name.startswith("duetto-primer"):
            heard_mid_priming.wait(10)
        runs_by_thread[name] = runs_by_thread.get(name, 0) + 1
        return run(feeds, state)

    monkeypatch.setattr(shipped_event_model, "run", counted)
    heard: list[int] = []  # every token the context feeds its model, in order
    began: list[int] = []  # how many had been heard when the refresh began
    feed_one = context.rolling.step

    def step(feeds):
        heard.append(int(feeds["token"][0]))
        feed_one(feeds)
        if context.rolling.refreshing and not began:
            began.append(len(heard))

    context.rolling.step = step
    now = 0.0
    while not context.rolling.refreshing:  # play until the cache is five eighths full
        now = play_scale(context, 1, start=now)
    assert began == [shipped_event_model.info.max_steps * 5 // 8 - 1]  # START is the state's first step
    play_scale(context, 2, start=now)  # notes heard mid-priming must reach the fresh state too
    heard_mid_priming.set()
    context.rolling.wait_for_primer()
    slices = 0
    while context.priming:
        context.prime_some(3)
        slices += 1
    fresh = context.steps_in_state - 1  # what the new state has heard after START
    caught_up = len(heard) - began[0]
    assert caught_up > HANDOVER_INPUTS and fresh == 16 + caught_up  # the window, and everything heard since
    primer = [runs for name, runs in runs_by_thread.items() if name.startswith("duetto-primer")]
    here = runs_by_thread[threading.current_thread().name] - len(heard)  # caught up on this thread
    assert primer == [1 + 16 + caught_up - here]  # START, the window and the rest on the primer
    assert here == HANDOVER_INPUTS  # the primer leaves the last few
    assert slices == -(-here // 3)  # and they are caught up in slices of 3, never more at once
    expected, _ = shipped_event_model.feed([1] + heard[-fresh:], shipped_event_model.initial_state())
    assert np.allclose(context.logits, expected, atol=1e-5)


@pytest.mark.slow
def test_a_full_cache_waits_for_the_primer_and_never_overflows(shipped_event_model):
    context = Context(shipped_event_model, window_tokens=256)
    heard: list[int] = []
    feed_one = context.rolling.step
    context.rolling.step = lambda feeds: (heard.append(int(feeds["token"][0])), feed_one(feeds))
    capacity = shipped_event_model.info.max_steps
    most = 0
    now = 0.0
    while len(heard) < 2 * capacity:  # never a moment to catch up: hearing alone must keep the cache whole
        now = play_scale(context, 1, start=now)
        most = max(most, context.steps_in_state)
    assert most <= capacity
    fresh = context.steps_in_state - 1
    expected, _ = shipped_event_model.feed([1] + heard[-fresh:], shipped_event_model.initial_state())
    assert np.allclose(context.logits, expected, atol=1e-5)


def test_priming_costs_nothing_until_the_window_has_been_outrun(shipped_event_model):
    context = Context(shipped_event_model, window_tokens=512)
    play_scale(context, 20)
    assert not context.priming


def test_a_closed_context_leaves_the_primer_free(shipped_event_model, monkeypatch):
    """The primer thread is shared by every context in the process: a voice that is done with (its
    engine stopped) must not keep it busy priming a state nobody will hear."""
    context = Context(shipped_event_model, window_tokens=256)
    primer_runs, let_go = [], threading.Event()
    run = shipped_event_model.run

    def counted(feeds, state):
        if threading.current_thread().name.startswith("duetto-primer"):
            let_go.wait(10)
            primer_runs.append(1)
        return run(feeds, state)

    monkeypatch.setattr(shipped_event_model, "run", counted)
    now = 0.0
    while not context.rolling.refreshing:
        now = play_scale(context, 1, start=now)
    job = context.rolling._primer
    context.close()
    let_go.set()
    assert job.result(timeout=30) is None  # given up...
    assert len(primer_runs) <= 2  # ...at its first look, not after the 1 + 192 steps of the window
    assert not context.rolling.refreshing and not context.priming
