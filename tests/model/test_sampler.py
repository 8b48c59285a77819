"""Turning logits into tokens: argmax at temperature 0, masks, the nucleus, seeds, and the distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from duetto.model.sampler import Sampler


def softmax(logits, temperature=1.0):
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def random_logits(seed, size=50, spread=2.0):
    return np.random.default_rng(seed).normal(0, spread, size).astype(np.float32)


def draws(sampler, logits, count, allowed=None):
    return np.array([sampler.sample(logits, allowed) for _ in range(count)])


def test_temperature_zero_is_argmax():
    sampler = Sampler(temperature=0, top_p=0.5, seed=1)
    for seed in range(20):
        logits = random_logits(seed)
        assert sampler.sample(logits) == int(np.argmax(logits))


def test_temperature_zero_takes_the_best_allowed_token():
    logits = random_logits(0)
    allowed = np.ones(len(logits), dtype=bool)
    allowed[np.argsort(logits)[-5:]] = False  # forbid the five best
    assert Sampler(temperature=0).sample(logits, allowed) == int(np.argsort(logits)[-6])


@pytest.mark.parametrize("top_p", [1.0, 0.95, 0.5])
def test_mask_is_respected(top_p):
    logits = random_logits(3)
    allowed = np.zeros(len(logits), dtype=bool)
    allowed[[0, 7, 13, 21, 42]] = True
    drawn = draws(Sampler(temperature=1.5, top_p=top_p, seed=4), logits, 2000, allowed)
    assert set(drawn) <= {0, 7, 13, 21, 42}


def test_mask_can_force_a_token_the_model_thinks_unlikely():
    logits = np.array([10.0, 0.0, -30.0])
    allowed = np.array([False, False, True])
    assert set(draws(Sampler(seed=0), logits, 200, allowed)) == {2}


def test_small_top_p_keeps_only_the_top_token():
    logits = random_logits(5, spread=0.5)  # a flat distribution: the top token is far from certain
    assert softmax(logits).max() < 0.2
    drawn = draws(Sampler(temperature=1.0, top_p=0.01, seed=6), logits, 500)
    assert set(drawn) == {int(np.argmax(logits))}


def test_top_p_keeps_the_smallest_set_that_reaches_it():
    logits = np.log([0.2, 0.5, 0.3])
    drawn = draws(Sampler(temperature=1.0, top_p=0.75, seed=7), logits, 1000)
    assert set(drawn) == {1, 2}  # 0.5 alone falls short of 0.75; 0.5 + 0.3 reaches it


def test_top_p_with_a_mask_works_within_the_allowed_tokens():
    logits = np.log([0.6, 0.25, 0.1, 0.05])
    allowed = np.array([False, True, True, True])  # renormalised: 0.625, 0.25, 0.125
    drawn = draws(Sampler(temperature=1.0, top_p=0.5, seed=8), logits, 500, allowed)
    assert set(drawn) == {1}


def test_same_seed_same_tokens():
    logits = random_logits(9)
    first = draws(Sampler(temperature=1.2, top_p=0.9, seed=42), logits, 300)
    second = draws(Sampler(temperature=1.2, top_p=0.9, seed=42), logits, 300)
    other = draws(Sampler(temperature=1.2, top_p=0.9, seed=43), logits, 300)
    assert list(first) == list(second)
    assert list(first) != list(other)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_distribution_matches_softmax(temperature):
    """Pearson's chi-square against softmax(logits / T); 27.9 is the 0.1% point for 9 degrees of freedom."""
    logits = np.array([0.0, 0.5, 1.0, -0.5, 0.2, 1.5, -1.0, 0.8, 0.3, -0.2])
    count = 5000
    drawn = draws(Sampler(temperature=temperature, top_p=1.0, seed=2024), logits, count)
    observed = np.bincount(drawn, minlength=len(logits))
    expected = softmax(logits, temperature) * count
    chi_square = float(((observed - expected) ** 2 / expected).sum())
    assert chi_square < 27.9, (observed, expected.round())


def test_higher_temperature_flattens_the_distribution():
    logits = np.array([2.0, 0.0, 0.0, 0.0])
    cold = draws(Sampler(temperature=0.5, top_p=1.0, seed=1), logits, 2000)
    hot = draws(Sampler(temperature=3.0, top_p=1.0, seed=1), logits, 2000)
    assert (cold == 0).mean() > 0.9 > 0.5 > (hot == 0).mean()


@pytest.mark.parametrize("options", [
    {"temperature": -0.1}, {"temperature": -math.inf}, {"temperature": math.nan}, {"temperature": math.inf},
    {"top_p": 0.0}, {"top_p": -0.5}, {"top_p": 1.01}, {"top_p": math.nan},
])
def test_invalid_settings_are_refused(options):
    with pytest.raises(ValueError):
        Sampler(**options)
