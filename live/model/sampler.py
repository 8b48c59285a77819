"""Turning logits into one token: temperature, nucleus (top-p), masks, and a seeded generator."""

from __future__ import annotations

import numpy as np

# The sampling every model plays with unless its file (`ModelInfo.defaults`) or the user says otherwise.
DEFAULT_TEMPERATURE = 1.0  # the model's own distribution, neither sharpened nor flattened
DEFAULT_TOP_P = 0.95  # the unlikeliest 5% of the mass left out: the tail where the wrong notes are


class Sampler:
    """Draws tokens from logits. The same seed and the same logits give the same tokens."""

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE, top_p: float = DEFAULT_TOP_P,
                 seed: int | None = None) -> None:
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
