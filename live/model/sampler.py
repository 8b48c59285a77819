"""Turning logits into one token: temperature, nucleus (top-p), masks, and a seeded generator."""

from __future__ import annotations

import numpy as np


class Sampler:
    """Draws tokens from logits. The same seed and the same logits give the same tokens."""

    def __init__(self, temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None) -> None:
        if not 0 <= temperature < float("inf"):  # also refuses NaN, which would poison every draw
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], got {top_p}")
        self.temperature = temperature
        self.top_p = top_p
        self.rng = np.random.default_rng(seed)

    def sample(self, logits: np.ndarray, allowed: np.ndarray | None = None) -> int:
        """One token; `allowed` is a boolean mask of tokens that may be chosen. Temperature 0 is argmax."""
        logits = logits.astype(np.float64)
        if allowed is not None:
            logits = np.where(allowed, logits, -np.inf)
        if self.temperature == 0:
            return int(np.argmax(logits))
        scaled = logits / self.temperature
        probabilities = np.exp(scaled - scaled.max())
        probabilities /= probabilities.sum()
        if self.top_p < 1:
            order = np.argsort(probabilities)[::-1]
            cumulative = np.cumsum(probabilities[order])
            keep = order[: int(np.searchsorted(cumulative, self.top_p)) + 1]
            nucleus = np.zeros_like(probabilities)
            nucleus[keep] = probabilities[keep]
            probabilities = nucleus / nucleus.sum()
        return int(self.rng.choice(len(probabilities), p=probabilities))
