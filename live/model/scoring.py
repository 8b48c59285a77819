"""How likely a model finds some music: the held-out likelihood of an event-stream model, stepped one token
at a time, or of a metrical model, one note at a time, through the ONNX file exactly as it runs live (a
cache re-primed from its recent half whenever it is full), so the figure is the shipped file's, not the
training graph's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from duetto.encodings import events as encoding
from duetto.encodings import metrical
from duetto.model.rolling_state import RESTART_SHARE, share
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
            keep = share(capacity, RESTART_SHARE)
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


def metrical_nats(model: StepModel, notes: metrical.MetricalNotes, style: int = 0) -> tuple[float, int]:
    """(nats, notes) of a metrical model over one piece's notes, each note's five fields predicted from
    the notes before it with the piece's texture and `style` slot said, one step at a time through the
    graph as it runs live. A full cache starts afresh from START and the recent half of the notes, the
    first of them counted from its bar line, as a training window opens."""
    capacity = model.info.max_steps
    fields = np.asarray(notes.fields)
    state, used, opened = model.initial_state(), 0, 0
    nats = 0.0
    for index in range(len(fields)):
        if capacity is not None and used == capacity:
            opened = index - share(capacity, RESTART_SHARE)
            state, used = model.initial_state(), 0
            for earlier in range(opened, index):
                state = model.run(_metrical_step(notes, earlier, opened, style), state)[1]
                used += 1
        (_, log_probs, _), state = model.run(_metrical_step(notes, index, opened, style), state)
        used += 1
        nats -= float(log_probs.astype(np.float64).sum())
    return nats, len(fields)


def _metrical_step(notes: metrical.MetricalNotes, index: int, opened: int, style: int) -> dict[str, np.ndarray]:
    """The inputs that read note index - 1 (START when the sequence opened at `index`) and take note
    `index` as given."""
    target = np.array(notes.fields[index])
    if index == opened:
        target[metrical.ONSET] = notes.bar[index]
        return metrical.step_inputs(metrical.START_FIELDS, 0, notes.meter[index], notes.bar_length[index], style,
                                    notes.texture[index], forced=target)
    previous = np.array(notes.fields[index - 1])
    if index - 1 == opened:
        previous[metrical.ONSET] = notes.bar[index - 1]
    return metrical.step_inputs(previous, notes.bar[index - 1], notes.meter[index - 1], notes.bar_length[index - 1],
                                style, notes.texture[index], forced=target)
