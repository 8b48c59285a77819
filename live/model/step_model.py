"""An ONNX single-step model: load it, check it describes itself, pick a provider, and step it.

The runtime never needs the training code. Everything it must know rides in the ONNX file's metadata under
the key `duetto` as JSON (`ModelInfo`): family, encoding and version, vocabulary size, time step, the state
layout, sampling defaults and where the model came from. A file that is not ONNX, lacks that metadata,
speaks another encoding or has inputs that do not match it is refused with one line naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from duetto.encodings.registry import ENCODINGS, spoken
from duetto.errors import DuettoError
from duetto.model.sampler import DEFAULT_TEMPERATURE, DEFAULT_TOP_P

METADATA_KEY = "duetto"


class ModelError(DuettoError):
    """A model file Duetto refuses to use; the message is one line naming the file and the problem."""


@dataclass
class StateSpec:
    """One part of a model's state. Normally the graph returns the whole new part (`output`). A part
    with `written_at` is a cache: the graph returns only the entry for one slot, and the caller writes
    it in place at the slot that the state part named `written_at` held before the step."""

    input: str
    output: str
    shape: list[int]
    dtype: str = "float32"
    batch_axis: int = 1
    written_at: str | None = None
    slot_axis: int | None = None


def next_state(specs: list[StateSpec], state: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
    """The state after a step, from the state before it and the graph's state outputs. Cache parts are
    updated in place (their slot's entry written), so a step never copies a whole cache."""
    before = {spec.input: value for spec, value in zip(specs, state)}
    after = []
    for spec, value, output in zip(specs, state, outputs):
        if spec.written_at is None:
            after.append(output)
            continue
        slots = before[spec.written_at].reshape(-1)
        cache = np.moveaxis(value, (spec.batch_axis, spec.slot_axis), (0, 1))
        entries = np.moveaxis(output, (spec.batch_axis, spec.slot_axis), (0, 1))
        for sequence, slot in enumerate(slots):
            cache[sequence, slot] = entries[sequence, 0]
        after.append(value)
    return after


@dataclass
class ModelInfo:
    """The self-description an exported model carries."""

    family: str
    encoding: str
    encoding_version: int
    vocab_size: int
    step_seconds: float
    state: list[StateSpec]
    inputs: list[str] = field(default_factory=lambda: ["token"])  # graph inputs besides the state
    outputs: list[str] = field(default_factory=lambda: ["logits"])  # graph outputs besides the state
    max_steps: int | None = None  # steps one state can hold (a transformer's cache); None: unbounded
    # the sampling it plays best with; export writes the sampler's defaults
    defaults: dict = field(default_factory=lambda: {"temperature": DEFAULT_TEMPERATURE, "top_p": DEFAULT_TOP_P})
    extra: dict = field(default_factory=dict)  # what a family's voice needs beyond the above
    styles: list[str] = field(default_factory=list)  # the styles it was trained on, by index (encoding v2)
    training: dict = field(default_factory=dict)

    def sampling(self, temperature: float | None = None, top_p: float | None = None) -> tuple[float, float]:
        """The temperature and top-p asked for, and this model's own where none is."""
        return (self.defaults.get("temperature", DEFAULT_TEMPERATURE) if temperature is None else temperature,
                self.defaults.get("top_p", DEFAULT_TOP_P) if top_p is None else top_p)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelInfo":
        raw = json.loads(text)
        raw["state"] = [StateSpec(**spec) for spec in raw["state"]]
        return cls(**raw)


def onnxruntime_module():
    """Import onnxruntime, saying clearly when neither or both of its CPU and GPU builds are installed."""
    installed = []
    for distribution in ("onnxruntime", "onnxruntime-gpu"):
        try:
            metadata.version(distribution)
            installed.append(distribution)
        except metadata.PackageNotFoundError:
            pass
    if not installed:
        raise ModelError("ONNX Runtime is not installed: pip install 'duetto[cpu]' (or 'duetto[gpu]' with CUDA)")
    if len(installed) == 2:
        raise ModelError("both onnxruntime and onnxruntime-gpu are installed and overwrite each other: "
                         "uninstall both, then install exactly one ('duetto[cpu]' or 'duetto[gpu]')")
    import onnxruntime

    return onnxruntime


def choose_providers(device: str, available: list[str]) -> list[str]:
    """CUDA first when asked for (or on auto) and offered; CPU always last as the fallback."""
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelError("--device cuda: this ONNX Runtime has no CUDA provider (install 'duetto[gpu]')")
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class StepModel:
    """A loaded model, stepped one token at a time with the state passed in and out."""

    def __init__(self, path: str | os.PathLike, device: str = "auto", threads: int = 1) -> None:
        self.path = Path(path)
        ort = onnxruntime_module()
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # a spinning thread pool would steal the scheduler thread's core
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        providers = choose_providers(device, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as error:  # ORT raises several private exception types for bad files
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelError(f"{self.path}: not a loadable ONNX model ({reason[:200]})") from None
        self.provider = self.session.get_providers()[0]
        if device == "cuda" and self.provider != "CUDAExecutionProvider":
            raise ModelError(f"{self.path}: --device cuda asked for, but CUDA could not be initialised")
        self.info = self._read_info()
        self._check_signature()

    def _read_info(self) -> ModelInfo:
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ModelError(f"{self.path}: not a Duetto model (no '{METADATA_KEY}' metadata; export it "
                             "with `duetto export`)")
        try:
            info = ModelInfo.from_json(props[METADATA_KEY])
        except (ValueError, TypeError, KeyError) as error:
            raise ModelError(f"{self.path}: unreadable Duetto metadata ({error})") from None
        speaks = spoken(info.encoding, info.encoding_version)
        if speaks is None:
            known = ", ".join(f"{encoding.name} v{encoding.version}" for encoding in ENCODINGS)
            raise ModelError(f"{self.path}: encoding {info.encoding} v{info.encoding_version} is not one this "
                             f"Duetto speaks ({known})")
        vocab_size = speaks.vocab_size
        if info.vocab_size != vocab_size:
            raise ModelError(f"{self.path}: vocabulary of {info.vocab_size} tokens, expected {vocab_size}")
        return info

    def _check_signature(self) -> None:
        inputs = {item.name: item for item in self.session.get_inputs()}
        outputs = {item.name: item for item in self.session.get_outputs()}
        expected_inputs = set(self.info.inputs) | {spec.input for spec in self.info.state}
        expected_outputs = set(self.info.outputs) | {spec.output for spec in self.info.state}
        if set(inputs) != expected_inputs or not expected_outputs <= set(outputs):
            raise ModelError(f"{self.path}: graph inputs {sorted(inputs)} / outputs {sorted(outputs)} do not "
                             f"match its metadata ({sorted(expected_inputs)} -> {sorted(expected_outputs)})")
        logits_shape = outputs[self.info.outputs[0]].shape if self.info.outputs[0] == "logits" else None
        if logits_shape and isinstance(logits_shape[-1], int) and logits_shape[-1] != self.info.vocab_size:
            raise ModelError(f"{self.path}: logits have {logits_shape[-1]} entries, metadata says "
                             f"{self.info.vocab_size}")
        self._output_names = list(self.info.outputs) + [spec.output for spec in self.info.state]

    def initial_state(self, batch_size: int = 1, slots: int | None = None) -> list[np.ndarray]:
        """A fresh state; `slots` makes a cache hold that many steps instead of `max_steps`."""
        states = []
        for spec in self.info.state:
            shape = list(spec.shape)
            shape[spec.batch_axis] = batch_size
            if slots is not None and spec.slot_axis is not None:
                shape[spec.slot_axis] = slots
            states.append(np.zeros(shape, dtype=spec.dtype))
        return states

    def step(self, token: int, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Advance one token: returns the next-token logits [vocab] and the new state."""
        logits, new_state = self.step_batch(np.array([token], dtype=np.int64), state)
        return logits[0], new_state

    def step_batch(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Advance several independent sequences one token each: logits [batch, vocab] and the new state."""
        (logits,), new_state = self.run({self.info.inputs[0]: tokens.astype(np.int64, copy=False)}, state)
        return logits, new_state

    def run(self, feeds: dict[str, np.ndarray], state: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """One step with named inputs, for families whose step takes more than a token: the outputs
        named in the metadata, in order, and the new state (cache parts of `state` change in place)."""
        feeds = dict(feeds)
        for spec, value in zip(self.info.state, state):
            feeds[spec.input] = value
        results = self.session.run(self._output_names, feeds)
        count = len(self.info.outputs)
        return results[:count], next_state(self.info.state, state, results[count:])

    def feed(self, tokens, state: list[np.ndarray]) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """Advance through several tokens; returns the logits after the last one."""
        logits = None
        for token in tokens:
            logits, state = self.step(token, state)
        return logits, state

    def describe(self) -> str:
        training = self.info.training
        nll = training.get("valid_nll")
        unit = training.get("nll_unit", "nats/token")
        nll_text = f", valid NLL {nll:.3f} {unit}" if isinstance(nll, (int, float)) else ""
        return f"{self.path.name}: {self.info.family} model{nll_text}, running on {self.provider}"
