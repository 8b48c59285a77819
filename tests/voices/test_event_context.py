"""The rolling context: incremental hearing, and priming a fresh state in slices without losing a note."""

from __future__ import annotations

import numpy as np

from duetto.voices.event_context import Context


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
    heard: list[int] = []  # every token the context feeds its model, in order
    feed_one = context.rolling.step
    context.rolling.step = lambda feeds: (heard.append(int(feeds["token"][0])), feed_one(feeds))
    now = 0.0
    while not context.priming:  # play until the model has run past twice the window
        now = play_scale(context, 1, start=now)
    assert len(heard) >= 31
    context.prime_some(5)
    play_scale(context, 2, start=now)  # notes heard mid-priming must reach the fresh state too
    slices = 1
    while context.priming:
        context.prime_some(5)
        slices += 1
    fresh = context.steps_in_state - 1  # what the new state has heard after START
    assert 16 < fresh < len(heard)  # the window when priming began, and every token heard since
    expected, _ = shipped_model.feed([1] + heard[-fresh:], shipped_model.initial_state())
    assert slices == -(-fresh // 5)  # in slices of 5, never more at once
    assert np.allclose(context.logits, expected, atol=1e-5)


def test_priming_costs_nothing_until_the_window_has_been_outrun(shipped_model):
    context = Context(shipped_model, window_tokens=512)
    play_scale(context, 20)
    assert not context.priming
