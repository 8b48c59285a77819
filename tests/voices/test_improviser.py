"""The improviser's masks and timing rules: whatever the model says, the output stays well-formed.

The model here is `RandomTableModel`, a fixed random table of logits: it exercises masking, not music.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from duetto.encodings.events import NOTE_OFF, NOTE_ON, PAD, START, STEP_SECONDS, TIME_SHIFT, V1_VOCAB_SIZE, VELOCITY
from duetto.model.sampler import Sampler
from duetto.voices.improviser import Improviser, Start
from duetto.voices.limits import Limits

EPSILON = 1e-9


class RandomTableModel:
    """Next-token logits looked up by the previous token in a fixed random table.

    It exercises the improviser's masking and timing, not music: every token gets real probability, so
    only the masks keep the output well-formed. Releases are favoured and time shifts and velocity
    changes damped, so that notes crowd together and often meet the polyphony and length limits.
    Every token it is stepped with is recorded in `heard`.
    """

    BIAS = {(NOTE_OFF, TIME_SHIFT): 2.0, (TIME_SHIFT, VELOCITY): -4.0, (VELOCITY, V1_VOCAB_SIZE): -3.0}
    # version 1 of the encoding: no conditioning tokens; an unbounded state
    info = SimpleNamespace(vocab_size=V1_VOCAB_SIZE, max_steps=None)

    def __init__(self, seed: int) -> None:
        self.table = np.random.default_rng(seed).normal(0.0, 2.0, (V1_VOCAB_SIZE, V1_VOCAB_SIZE)).astype(np.float32)
        for (first, last), bias in self.BIAS.items():
            self.table[:, first:last] += bias
        self.heard: list[int] = []

    def initial(self):
        return self.table[START].copy(), [np.zeros(1, dtype=np.float32)]

    def step(self, token, state):
        self.heard.append(token)
        return self.table[token].copy(), [state[0] + 1]


@dataclass
class Run:
    limits: Limits
    seconds: float
    trim: bool
    events: list
    heard: list


NARROW = Limits(lowest=55, highest=67, max_polyphony=3, max_note_seconds=0.5)
SETUPS = [(NARROW, 6.0, True), (NARROW, 6.0, False), (Limits(), 4.35, True), (Limits(max_polyphony=1), 8.0, False)]


def improvise(seed, limits, seconds, trim=True, should_stop=lambda: False):
    model = RandomTableModel(seed)
    logits, state = model.initial()
    improviser = Improviser(model, Sampler(temperature=1.0, top_p=0.95, seed=seed), limits)
    events = list(improviser.continue_from(Start(logits, state), seconds, trim_leading_silence=trim,
                                           should_stop=should_stop))
    return Run(limits, seconds, trim, events, model.heard)


@pytest.fixture(scope="module")
def runs():
    return [improvise(seed, limits, seconds, trim) for limits, seconds, trim in SETUPS for seed in range(4)]


def notes_of(events):
    """(start, end, pitch) for each key-down paired with its key-up."""
    down, notes = {}, []
    for event in events:
        if event.velocity > 0:
            down[event.pitch] = event.seconds
        else:
            notes.append((down.pop(event.pitch), event.seconds, event.pitch))
    return notes


def peak_polyphony(events):
    sounding = peak = 0
    for event in events:
        sounding += 1 if event.velocity > 0 else -1
        peak = max(peak, sounding)
    return peak


def test_runs_are_busy_enough_to_test_anything(runs):
    for run in runs:
        assert len(notes_of(run.events)) >= 5
        assert peak_polyphony(run.events) == run.limits.max_polyphony  # the limit is actually met


def test_every_key_down_has_its_key_up_and_no_silent_key_is_released(runs):
    for run in runs:
        sounding = set()
        for event in run.events:
            if event.velocity > 0:
                assert event.pitch not in sounding, "a sounding key struck again"
                sounding.add(event.pitch)
            else:
                assert event.pitch in sounding, f"release of silent key {event.pitch}"
                sounding.remove(event.pitch)
        assert sounding == set()


def test_every_note_lasts_at_least_one_step(runs):
    """A key-up at the very moment of its key-down is a note that never ends: the scheduler sends
    releases before presses at equal times, so the release goes first and the note hangs on."""
    for run in runs:
        for start, end, pitch in notes_of(run.events):
            assert end - start >= STEP_SECONDS - EPSILON, (start, end, pitch)


def test_pitches_stay_in_the_register(runs):
    for run in runs:
        pitches = {event.pitch for event in run.events}
        assert run.limits.lowest <= min(pitches) and max(pitches) <= run.limits.highest


def test_never_more_than_max_polyphony_keys_down(runs):
    for run in runs:
        assert peak_polyphony(run.events) <= run.limits.max_polyphony


def test_no_note_outlasts_max_note_seconds(runs):
    for run in runs:
        for start, end, pitch in notes_of(run.events):
            assert end - start <= run.limits.max_note_seconds + STEP_SECONDS + EPSILON, (start, end, pitch)


def test_events_are_in_time_order_and_end_by_seconds(runs):
    for run in runs:
        times = [event.seconds for event in run.events]
        assert times == sorted(times)
        assert times[0] >= 0
        assert times[-1] <= run.seconds + EPSILON


def test_trimmed_answers_start_at_once(runs):
    for run in runs:
        if run.trim:
            assert run.events[0].seconds == 0.0
            assert run.events[0].velocity > 0


def test_trimmed_answers_never_ask_the_model_to_wait_before_the_first_note(runs):
    for run in runs:
        if run.trim:
            first_note = next(i for i, token in enumerate(run.heard) if NOTE_ON <= token < NOTE_OFF)
            assert not any(TIME_SHIFT <= token < VELOCITY for token in run.heard[:first_note])


def test_the_model_hears_only_well_formed_tokens(runs):
    """Replayed from the tokens the model was stepped with: the masks (and the overdue release) never
    let it say something a player could not have played."""
    for run in runs:
        sounding = set()
        for token in run.heard:
            assert token not in (PAD, START)
            if NOTE_ON <= token < NOTE_OFF:
                pitch = token - NOTE_ON
                assert run.limits.lowest <= pitch <= run.limits.highest
                assert pitch not in sounding
                sounding.add(pitch)
                assert len(sounding) <= run.limits.max_polyphony
            elif NOTE_OFF <= token < TIME_SHIFT:
                assert token - NOTE_OFF in sounding
                sounding.remove(token - NOTE_OFF)


def test_same_seed_same_answer():
    first = improvise(7, NARROW, 3.0)
    second = improvise(7, NARROW, 3.0)
    assert first.events == second.events and first.heard == second.heard


def test_should_stop_at_once_gives_nothing():
    run = improvise(0, NARROW, 4.0, should_stop=lambda: True)
    assert run.events == [] and run.heard == []


def test_should_stop_stops_immediately_and_leaves_the_releases_to_the_caller():
    model = RandomTableModel(1)
    logits, state = model.initial()
    improviser = Improviser(model, Sampler(seed=1), NARROW)
    events, heard_at_stop = [], []

    def should_stop():
        if len(events) >= 5:
            heard_at_stop.append(len(model.heard))
            return True
        return False

    for event in improviser.continue_from(Start(logits, state), 10.0, should_stop=should_stop):
        events.append(event)
    assert len(heard_at_stop) == 1  # asked once more, then it returned
    assert len(model.heard) == heard_at_stop[0]  # not one more model step
    assert len(events) == 5  # and no releases added: they are the caller's to send


# -- the mask itself -----------------------------------------------------------------------------


def mask_for(sounding, limits=NARROW, may_wait=True, step=10):
    return Improviser(RandomTableModel(0), Sampler(), limits).allowed(sounding, step, may_wait)


def allowed_tokens(mask, first, last):
    return [token - first for token in range(first, last) if mask[token]]


def test_mask_with_nothing_sounding():
    mask = mask_for({})
    assert not mask[PAD] and not mask[START]
    assert allowed_tokens(mask, NOTE_ON, NOTE_OFF) == list(range(55, 68))
    assert allowed_tokens(mask, NOTE_OFF, TIME_SHIFT) == []
    assert mask[TIME_SHIFT:VELOCITY].all() and mask[VELOCITY:].all()


def test_mask_with_keys_down():
    mask = mask_for({60: 0, 64: 3})
    assert allowed_tokens(mask, NOTE_OFF, TIME_SHIFT) == [60, 64]
    assert allowed_tokens(mask, NOTE_ON, NOTE_OFF) == [p for p in range(55, 68) if p not in (60, 64)]


def test_mask_at_full_polyphony_allows_no_new_key():
    mask = mask_for({55: 0, 60: 0, 67: 0})
    assert allowed_tokens(mask, NOTE_ON, NOTE_OFF) == []
    assert allowed_tokens(mask, NOTE_OFF, TIME_SHIFT) == [55, 60, 67]


def test_mask_before_the_first_note_of_a_trimmed_answer_allows_no_waiting():
    mask = mask_for({}, may_wait=False)
    assert not mask[TIME_SHIFT:VELOCITY].any()
    assert mask[NOTE_ON + 60]


def test_mask_size_matches_the_vocabulary():
    assert mask_for({}).shape == (V1_VOCAB_SIZE,)
