"""How likely a model finds some music: the held-out likelihood of an event-stream model, stepped one token
at a time through the ONNX file exactly as it runs live (a transformer's cache re-primed from its recent
half whenever it is full), so the figure is the shipped file's, not the training graph's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from duetto.encodings import events as encoding
from duetto.model.step_model import StepModel


def sequence_nats(model: StepModel, tokens: Sequence[int], conditioning_counts: bool = True) -> tuple[float, int, int]:
    """(nats, targets, notes) over one sequence from its START: every later token is a target, predicted
    from those before it. With `conditioning_counts` off, STYLE and TEXTURE targets are left out: a caller
    says them, the model never has to guess them (how encodings compare fairly in bits per note)."""
    capacity = model.info.max_steps
    state, used = model.initial_state(), 0
    nats, targets, notes = 0.0, 0, 0
    for index in range(len(tokens) - 1):
        if capacity is not None and used == capacity:
            keep = capacity // 2
            _, state = model.feed([int(token) for token in tokens[index - keep:index]], model.initial_state())
            used = keep
        logits, state = model.step(int(tokens[index]), state)
        used += 1
        following = int(tokens[index + 1])
        if not conditioning_counts and encoding.is_conditioning(following):
            continue
        logits = logits.astype(np.float64)
        peak = logits.max()
        nats += peak + np.log(np.exp(logits - peak).sum()) - logits[following]
        targets += 1
        notes += encoding.NOTE_ON <= following < encoding.NOTE_OFF
    return float(nats), targets, notes
