"""The rolling context: incremental hearing, and priming a fresh state in slices without losing a note."""

from __future__ import annotations

import numpy as np

from live.context import Context


def play_scale(context: Context, notes: int, start: float = 0.0) -> float:
    now = start
    for index in range(notes):
        context.hear(now, 60 + index % 12, 80)
        context.hear(now + 0.1, 60 + index % 12, 0)
        now += 0.2
    return now


def test_hearing_feeds_the_model_token_by_token(shipped_model):
    context = Context(shipped_model, window_tokens=64)
    play_scale(context, 5)
    tokens = list(context.window)
    logits, _ = shipped_model.feed([1] + tokens, shipped_model.initial_state())  # START, then the same
    assert np.allclose(context.logits, logits, atol=1e-5)


def test_a_fresh_state_is_primed_in_slices_and_takes_over_with_everything_heard(shipped_model):
    context = Context(shipped_model, window_tokens=16)
    now = 0.0
    while not context.priming:  # play until the model has run past twice the window
        now = play_scale(context, 1, start=now)
    assert context.steps_in_state >= 32
    primed_from = list(context.window)  # the window the fresh state starts from
    context.prime_some(5)
    heard_before = context.steps_in_state
    play_scale(context, 2, start=now)  # notes heard mid-priming must reach the fresh state too
    heard_since = list(context.window)[-(context.steps_in_state - heard_before):]
    slices = 1
    while context.priming:
        context.prime_some(5)
        slices += 1
    expected, _ = shipped_model.feed(primed_from + heard_since, shipped_model.initial_state())
    assert slices == -(-(len(primed_from) + len(heard_since)) // 5)  # in slices of 5, never more at once
    assert np.allclose(context.logits, expected, atol=1e-5)
    assert context.steps_in_state == len(primed_from) + len(heard_since)  # what the new state has heard


def test_priming_costs_nothing_until_the_window_has_been_outrun(shipped_model):
    context = Context(shipped_model, window_tokens=512)
    play_scale(context, 20)
    assert not context.priming
