"""Checkpoint -> single-file ONNX single-step graph, with Duetto metadata, checked against PyTorch.

The graph is (inputs..., state...) -> (outputs..., state...); for the event-stream families the input is a
token and the output its next-token logits. Before the file is put in place, the exported graph and the
PyTorch model are driven side by side in a closed loop (each next input drawn from PyTorch's outputs by
the family's `feedback`, and fed to both) and must agree to within `tolerance`; a model that fails the
check never lands.
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

from duetto.atomic import write_atomically
from duetto.encodings.registry import for_vocabulary, newest
from duetto.families import family
from duetto.model.step_model import METADATA_KEY, ModelInfo, StateSpec, StepModel, next_state
from duetto.train.families import load_family
from duetto.train.loop import load_checkpoint

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
        "nll_unit": f"nats/{checkpoint.get('unit', 'token')}",
        "test_bits_per_note": _finite_or_none(checkpoint.get("test_bits_per_note")),
        "train_seconds": checkpoint.get("seconds"),
        "step": checkpoint.get("step"),
        "data": checkpoint.get("data_summary", settings.get("data", "")),
        "command": settings.get("command", ""),
        "config": checkpoint["config"],
    }
    config, name = checkpoint["config"], family(checkpoint["family"]).encoding
    # the vocabulary a checkpoint was trained on says which version of its encoding it speaks
    encoding = for_vocabulary(name, config["vocab_size"]) if "vocab_size" in config else newest(name)
    return ModelInfo(
        family=checkpoint["family"],
        encoding=encoding.name,
        encoding_version=encoding.version,
        vocab_size=encoding.vocab_size,
        step_seconds=graph.step_seconds,
        state=[StateSpec(**spec) for spec in graph.state_layout()],
        inputs=graph.input_names[:len(graph.input_names) - len(graph.state_layout())],
        outputs=graph.output_names[:len(graph.output_names) - len(graph.state_layout())],
        max_steps=graph.max_steps,
        extra=graph.extra(),
        # only models that read conditioning know styles
        styles=list(checkpoint.get("styles", [])) if encoding.conditioned else [],
        training=training,
    )


def _finite_or_none(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def to_onnx_bytes(graph, info: ModelInfo) -> bytes:
    """Export with the dynamo exporter into one self-contained ONNX file, metadata attached.

    The batch axis stays dynamic, so offline generation can step many sequences at once; live use
    steps a batch of one. So does a cache's slot axis, so a cache may hold fewer steps than trained.
    A family whose step has a faster written-out form (`for_export`) is exported in that form.
    """
    batch = torch.export.Dim("batch", min=1, max=4096)
    slots = torch.export.Dim("slots", min=2, max=1 << 16)  # a cache may be made smaller than trained
    dynamic_shapes = {name: {0: batch} for name in info.inputs}
    for spec in info.state:
        axes = {spec.batch_axis: batch}
        if spec.slot_axis is not None:
            axes[spec.slot_axis] = slots
        dynamic_shapes[spec.input] = axes
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        path = Path(folder) / "step.onnx"
        module = graph.for_export() if hasattr(graph, "for_export") else graph
        torch.onnx.export(module, graph.example_inputs(), str(path), input_names=graph.input_names,
                          output_names=graph.output_names, external_data=False, dynamo=True, verbose=False,
                          dynamic_shapes=tuple(dynamic_shapes[name] for name in graph.input_names))
        proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    proto.producer_name = "duetto"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def check_parity(graph, onnx_path: Path, steps: int = PARITY_STEPS, seed: int = 0) -> tuple[float, int]:
    """Closed-loop comparison of PyTorch and ONNX Runtime over `steps` steps (no more than a bounded
    state holds); returns the largest output difference and the steps compared."""
    runtime = StepModel(onnx_path, device="cpu")
    steps = min(steps, runtime.info.max_steps or steps)
    rng = np.random.default_rng(seed)
    inputs = graph.example_inputs(batch_size=1)
    input_count = len(runtime.info.inputs)
    output_count = len(runtime.info.outputs)
    ort_state = runtime.initial_state()
    torch_state = [value.numpy().copy() for value in inputs[input_count:]]
    worst = 0.0
    with torch.inference_mode():
        for _ in range(steps):
            torch_outputs = graph(*inputs[:input_count], *map(torch.from_numpy, torch_state))
            feeds = {name: value.numpy() for name, value in zip(runtime.info.inputs, inputs[:input_count])}
            ort_outputs, ort_state = runtime.run(feeds, ort_state)
            for reference, ours in zip(torch_outputs[:output_count], ort_outputs):
                worst = max(worst, float(np.max(np.abs(reference.numpy() - ours))))
            torch_state = next_state(runtime.info.state, torch_state,
                                     [value.numpy() for value in torch_outputs[output_count:]])
            inputs = graph.feedback(torch_outputs[:output_count], rng)
    return worst, steps


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
        worst, parity_steps = check_parity(graph, candidate, steps=parity_steps)
    if not worst < tolerance:
        raise ParityError(f"{checkpoint_path}: ONNX and PyTorch disagree by {worst:.2e} "
                          f"(tolerance {tolerance:.0e}); nothing written")
    write_atomically(out_path, lambda handle: handle.write(payload))
    report = {"out": out_path, "bytes": len(payload), "parity_steps": parity_steps, "max_abs_diff": worst}
    print(f"wrote {out_path} ({len(payload) / 1e6:.1f} MB); parity over {parity_steps} closed-loop steps: "
          f"max |dlogits| = {worst:.2e}", file=sys.stderr)
    return report
