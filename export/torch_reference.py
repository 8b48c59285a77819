"""The same model in PyTorch, for the latency benchmark's baselines.

Two ways of running the shipped model without ONNX Runtime, both in eager mode under `inference_mode`:
stepping one token at a time with the state carried (what a careful PyTorch runtime would do), and
recomputing the whole context window for every new token (the classic `model.predict(window)` recipe).
The families fed more than a token (melody, notes, biaxial) get the first of the two, from the
configuration their model file records.
"""

from __future__ import annotations

import itertools
import time
from typing import Iterable, Sequence

import numpy as np
import torch

from duetto.export.onnx import build_step_graph
from duetto.model.step_model import ModelInfo, StateSpec, next_state
from duetto.train.families import load_family
from duetto.train.loop import load_checkpoint


class TorchReference:
    def __init__(self, checkpoint_path: str, threads: int = 1) -> None:
        torch.set_num_threads(threads)
        self.graph = build_step_graph(load_checkpoint(checkpoint_path))

    def step_seconds(self, tokens: Sequence[int], state: list[np.ndarray], specs: list[StateSpec]) -> list[float]:
        """Time each single step with the state carried from the previous one, starting from `state`
        (the runtime's own initial state, so a cache has the same size on both sides)."""
        inputs = ((torch.tensor([value], dtype=torch.int64),) for value in tokens)
        return timed_steps(self.graph, inputs, [torch.from_numpy(part.copy()) for part in state], specs, 1)

    def recompute_seconds(self, tokens: Sequence[int], window: int, repeats: int) -> list[float]:
        """Time predicting the next token by running the whole last `window` tokens from a zero state."""
        model = self.graph.model
        context = torch.tensor([list(tokens[-window:])], dtype=torch.int64)
        times = []
        with torch.inference_mode():
            for _ in range(repeats):
                started = time.perf_counter()
                model(context)
                times.append(time.perf_counter() - started)
        return times


def feature_step_seconds(info: ModelInfo, steps: int, threads: int = 1) -> list[float]:
    """Time `steps` single steps of a family fed more than a token, with the state carried. The model is
    built from the configuration its ONNX file records, with weights drawn at random: those families'
    checkpoints are not shipped, and a step costs the same whatever its weights and inputs (the ONNX
    Runtime side is timed on zero inputs for the same reason)."""
    torch.set_num_threads(threads)
    family = load_family(info.family)
    graph = family.StepGraph(family.build(info.training["config"]).eval()).eval()
    inputs = graph.example_inputs(batch_size=1)
    feeds, state = tuple(inputs[:len(info.inputs)]), list(inputs[len(info.inputs):])
    return timed_steps(graph, itertools.repeat(feeds, steps), state, info.state, len(info.outputs))


def timed_steps(graph: torch.nn.Module, inputs: Iterable[tuple[torch.Tensor, ...]], state: list[torch.Tensor],
                specs: list[StateSpec], output_count: int) -> list[float]:
    """Time one step of `graph` per item of `inputs`, the state carried from each step to the next as the
    runtime carries it."""
    times = []
    with torch.inference_mode():
        for feeds in inputs:
            started = time.perf_counter()
            outputs = graph(*feeds, *state)
            state = [torch.from_numpy(part) for part in
                     next_state(specs, [part.numpy() for part in state],
                                [out.numpy() for out in outputs[output_count:]])]
            times.append(time.perf_counter() - started)
    return times
