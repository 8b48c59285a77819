"""Checkpoint -> single-file ONNX single-step graph, with Duetto metadata, checked against PyTorch.

The graph is (token, state...) -> (logits, state...). Before the file is put in place, the exported graph
and the PyTorch model are driven side by side in a closed loop (each next token sampled from PyTorch's
logits and fed to both) and must agree to within `tolerance`; a model that fails the check never lands.
"""

from __future__ import annotations

import logging
import math
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from live import encoding
from live.model import METADATA_KEY, ModelInfo, StateSpec, StepModel
from live.notes import write_atomically
from train.families import load_family
from train.loop import load_checkpoint

PARITY_STEPS = 500
PARITY_TOLERANCE = 1e-4


class ParityError(Exception):
    """The exported graph disagrees with PyTorch."""


def build_step_graph(checkpoint: dict):
    family = load_family(checkpoint["family"])
    model = family.build(checkpoint["config"])
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return family.StepGraph(model).eval()


def model_info(checkpoint: dict, graph) -> ModelInfo:
    settings = checkpoint.get("settings", {})
    training = {
        "valid_nll": _finite_or_none(checkpoint.get("valid_nll")),
        "test_nll": _finite_or_none(checkpoint.get("test_nll")),
        "nll_unit": "nats/token",
        "step": checkpoint.get("step"),
        "data": checkpoint.get("data_summary", settings.get("data", "")),
        "command": settings.get("command", ""),
        "config": checkpoint["config"],
    }
    return ModelInfo(
        family=checkpoint["family"],
        encoding=encoding.ENCODING_NAME,
        encoding_version=encoding.ENCODING_VERSION,
        vocab_size=checkpoint["config"]["vocab_size"],
        step_seconds=encoding.STEP_SECONDS,
        state=[StateSpec(**spec) for spec in graph.state_layout()],
        inputs=graph.input_names[:len(graph.input_names) - len(graph.state_layout())],
        outputs=graph.output_names[:len(graph.output_names) - len(graph.state_layout())],
        max_steps=getattr(graph, "max_steps", None),
        training=training,
    )


def _finite_or_none(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def to_onnx_bytes(graph, info: ModelInfo) -> bytes:
    """Export with the dynamo exporter into one self-contained ONNX file, metadata attached.

    The batch axis stays dynamic, so offline generation can step many sequences at once; live use
    steps a batch of one.
    """
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic_shapes = {name: {0: batch} for name in info.inputs}
    dynamic_shapes.update({spec.input: {spec.batch_axis: batch} for spec in info.state})
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        path = Path(folder) / "step.onnx"
        torch.onnx.export(graph, graph.example_inputs(), str(path), input_names=graph.input_names,
                          output_names=graph.output_names, external_data=False, dynamo=True, verbose=False,
                          dynamic_shapes=dynamic_shapes)
        proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    proto.producer_name = "duetto"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def check_parity(graph, onnx_path: Path, steps: int = PARITY_STEPS, seed: int = 0) -> float:
    """Closed-loop comparison of PyTorch and ONNX Runtime; returns the largest logit difference."""
    runtime = StepModel(onnx_path, device="cpu")
    rng = np.random.default_rng(seed)
    token, *torch_state = graph.example_inputs(batch_size=1)
    ort_state = runtime.initial_state()
    worst = 0.0
    with torch.inference_mode():
        for _ in range(steps):
            torch_logits, *torch_state = graph(token, *torch_state)
            ort_logits, ort_state = runtime.step(int(token[0]), ort_state)
            reference = torch_logits[0].numpy()
            worst = max(worst, float(np.max(np.abs(reference - ort_logits))))
            probabilities = np.exp(reference - reference.max())
            probabilities /= probabilities.sum()
            token = torch.tensor([rng.choice(len(probabilities), p=probabilities)], dtype=torch.int64)
    return worst


def export(checkpoint_path: str, out_path: str, tolerance: float = PARITY_TOLERANCE,
           parity_steps: int = PARITY_STEPS) -> dict:
    """Export, verify parity, then move the file into place. Returns a small report."""
    checkpoint = load_checkpoint(checkpoint_path)
    graph = build_step_graph(checkpoint)
    info = model_info(checkpoint, graph)
    payload = to_onnx_bytes(graph, info)
    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / "candidate.onnx"
        candidate.write_bytes(payload)
        worst = check_parity(graph, candidate, steps=parity_steps)
    if not worst < tolerance:
        raise ParityError(f"{checkpoint_path}: ONNX and PyTorch disagree by {worst:.2e} "
                          f"(tolerance {tolerance:.0e}); nothing written")
    write_atomically(out_path, lambda handle: handle.write(payload))
    report = {"out": out_path, "bytes": len(payload), "parity_steps": parity_steps, "max_abs_diff": worst}
    print(f"wrote {out_path} ({len(payload) / 1e6:.1f} MB); parity over {parity_steps} closed-loop steps: "
          f"max |dlogits| = {worst:.2e}", file=sys.stderr)
    return report
