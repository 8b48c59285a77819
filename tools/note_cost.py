"""What one note costs: a metrical model's step (trunk and heads, the whole note drawn in the graph), closed
loop at its live cache, against Notochord's cost per event (its default model, untrained: weights do not
change the arithmetic) in the same process on the same thread count.

Notochord is not a dependency of Duetto (it pins an older PyTorch); when it is importable the comparison is
made, and otherwise the report says how to make it: `pip install --no-deps notochord appdirs joblib pandas`.
"""

from __future__ import annotations

import time

import numpy as np

from duetto.encodings import metrical
from duetto.model.step_model import StepModel

NOTOCHORD_EVENTS = 300  # timed after NOTOCHORD_WARMUP: Notochord steps in PyTorch eager, ~10 ms an event
NOTOCHORD_WARMUP = 20


class NoteLoop:
    """A metrical model drawing note after note from the one before, as the live voice does (uniforms from
    `seed`, a fresh cache whenever the last is full)."""

    def __init__(self, model: StepModel, seed: int) -> None:
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.state, self.used = model.initial_state(), 0
        self.feeds = metrical.step_inputs(metrical.START_FIELDS, 0, 1, 4 * metrical.TICKS_PER_BEAT)
        self.feeds["forced"] = np.full((1, 5), -1, dtype=np.int64)

    def step(self) -> float:
        """Draw one note; returns the seconds the model call took."""
        if self.used == self.model.info.max_steps:
            self.state, self.used = self.model.initial_state(), 0
        self.feeds["uniforms"] = self.rng.random((1, 5), dtype=np.float32)
        started = time.perf_counter()
        (note, _, bar), self.state = self.model.run(self.feeds, self.state)
        took = time.perf_counter() - started
        self.used += 1
        self.feeds["previous"], self.feeds["previous_bar"] = note, bar
        return took


def note_step_seconds(model: StepModel, steps: int, seed: int) -> list[float]:
    """The time of each of `steps` closed-loop note steps (NoteLoop)."""
    loop = NoteLoop(model, seed)
    return [loop.step() for _ in range(steps)]


def notochord_event_seconds(threads: int = 1) -> tuple[list[float], list[float], float] | str:
    """Notochord's default model, untrained: the time of each `query_feed` (draw an event and hear it: what
    one event costs live) and of each `feed` alone, and its millions of parameters; or why it cannot be
    timed here."""
    try:
        import torch
        from notochord import Notochord
    except ImportError as error:
        return (f"Notochord is not installed ({error.name} missing): pip install --no-deps notochord appdirs "
                "joblib pandas")
    torch.set_num_threads(threads)
    model = Notochord().eval()
    model.reset()
    query_feed, feed, events = [], [], []
    with torch.inference_mode():
        for index in range(NOTOCHORD_WARMUP + NOTOCHORD_EVENTS):
            started = time.perf_counter()
            events.append(model.query_feed())
            query_feed.append(time.perf_counter() - started)
        for event in events:  # the same events heard again: the cost of hearing alone
            started = time.perf_counter()
            model.feed(event["inst"], event["pitch"], event["time"], event["vel"])
            feed.append(time.perf_counter() - started)
    return query_feed[NOTOCHORD_WARMUP:], feed[NOTOCHORD_WARMUP:], sum(p.numel() for p in model.parameters()) / 1e6
