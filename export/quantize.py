"""Variants of an exported model in smaller numbers, and what they cost in held-out NLL.

int8, for the CPU: weights the dynamo exporter feeds through Slice/Concat nodes (an ONNX LSTM operator's,
in graphs exported before the LSTM step was written out as matrix products) are hidden from the
quantizer; ONNX Runtime's basic graph optimizations fold them into plain initializers first. Then the
matrix products become MatMulInteger (and any LSTM operator DynamicQuantizeLSTM): weights stored as int8,
activations quantized on the fly, no calibration data needed.

fp16, for a GPU: every weight and activation in half precision, the inputs and outputs (the state too)
kept in fp32 so the runtime drives it like any other model. Most CPUs have no fast fp16 arithmetic and
run it slower than fp32 (docs/benchmarks.md); on a GPU it halves the memory read per step.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

from duetto.atomic import write_atomically
from duetto.encodings import metrical
from duetto.model.scoring import metrical_nats, sequence_nats
from duetto.model.step_model import METADATA_KEY, ModelInfo, StepModel
from duetto.train.data.shards import read_shard


def quantize_int8(source: str, out: str) -> None:
    """Write an int8 copy of `source` to `out`, its metadata saying it is the int8 variant."""
    with tempfile.TemporaryDirectory() as folder:
        optimized = Path(folder) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized)
        ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        quantized = Path(folder) / "int8.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer advises pre-processing on the root logger; done above
        try:
            quantize_dynamic(str(optimized), str(quantized), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["LSTM", "MatMul", "Gemm"])
        finally:
            root.setLevel(level)
        proto = onnx.load(str(quantized))
    write_variant(proto, out, "int8 (dynamic quantization of LSTM and matrix weights)")


def half_precision(source: str, out: str) -> None:
    """Write an fp16 copy of `source` to `out` (inputs, outputs and state stay fp32), its metadata saying
    it is the fp16 variant."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns of values clipped to fp16's range; the NLL report tells
        proto = convert_float_to_float16(onnx.load(source), keep_io_types=True)
    write_variant(proto, out, "fp16 (weights and activations; inputs, outputs and state fp32)")


def write_variant(proto: onnx.ModelProto, out: str, variant: str) -> None:
    """Write a variant atomically, its Duetto metadata saying which variant it is."""
    props = {entry.key: entry.value for entry in proto.metadata_props}
    info = ModelInfo.from_json(props[METADATA_KEY])
    info.training["variant"] = variant
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    write_atomically(out, lambda handle: handle.write(proto.SerializeToString()))


def heldout_nll(model: StepModel, data_dir: str, split: str = "test") -> float:
    """Nats per token (per note for a metrical model) over a split, each sequence read from its START to
    its end, one step at a time, as it runs live (duetto.model.scoring)."""
    total = count = 0
    shard = read_shard(data_dir, split)
    if model.info.encoding == metrical.ENCODING_NAME:
        for notes, style in shard.metrical_pieces():
            nats, targets = metrical_nats(model, notes, 1 + style)
            total, count = total + nats, count + targets
        return total / max(count, 1)
    for sequence in shard.sequences():
        nats, targets, _ = sequence_nats(model, sequence)
        total, count = total + nats, count + targets
    return total / max(count, 1)
