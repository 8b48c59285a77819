"""Training and export for real, on a small folder of MIDI files: data build -> train -> ONNX -> generate.

The model is tiny so the suite stays quick, but every stage is the real one: the dataset builder, the
training loop with checkpoints and resume, the dynamo ONNX export with its closed-loop parity check, and
the torch-free runtime that plays the result.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import mido
import onnx
import pytest
import torch

from duetto.encodings import events as encoding
from duetto.export.onnx import PARITY_TOLERANCE, export
from duetto.midi.files import read_midi, write_midi
from duetto.model.step_model import METADATA_KEY, ModelInfo, StepModel
from duetto.music.notes import Note
from duetto.train.loop import TrainSettings, learning_rate_at, load_checkpoint, train

TINY = {"embed_dim": 16, "hidden_size": 32, "num_layers": 2, "dropout": 0.1}


@pytest.fixture(scope="module")
def dataset(tiny_dataset):
    return tiny_dataset


def settings_for(data, out, **overrides) -> TrainSettings:
    base = dict(data=str(data), out=str(out), epochs=2, steps_per_epoch=3, batch_size=4, seq_len=32,
                warmup_steps=2, seed=5, model=TINY, command="pytest")
    base.update(overrides)
    return TrainSettings(**base)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    data, _ = dataset
    out = tmp_path_factory.mktemp("run")
    summary = train(settings_for(data, out, epochs=4))
    return out, summary


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    run, _ = trained
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    report = export(str(run / "best.pt"), str(path))
    return path, report


def test_broken_file_is_skipped_and_reported(dataset):
    _, manifest = dataset
    assert [item["name"] for item in manifest["skipped"]] == ["broken.mid"]
    assert sum(split["pieces"] for split in manifest["splits"].values()) == 24


def test_training_writes_best_checkpoint_metrics_and_test_nll(trained):
    run, summary = trained
    best = load_checkpoint(run / "best.pt")  # weights_only=True: no pickle
    assert best["family"] == "events" and best["config"]["hidden_size"] == 32
    assert summary["test_nll"] == best["test_nll"] and summary["test_nll"] > 0
    assert (run / "loss.png").read_bytes().startswith(b"\x89PNG")
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(row["step"]) for row in rows] == [3, 6, 9, 12]
    assert float(rows[-1]["train_loss"]) < math.log(encoding.VOCAB_SIZE)  # below a uniform guess: it learned


def test_resumed_training_ends_with_the_same_weights(dataset, tmp_path):
    data, _ = dataset
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    train(settings_for(data, whole))
    train(settings_for(data, halves, epochs=1))
    train(settings_for(data, halves, resume=True))
    first, second = load_checkpoint(whole / "last.pt"), load_checkpoint(halves / "last.pt")
    assert first["step"] == second["step"] == 6
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name


def test_a_time_budget_anneals_the_learning_rate_by_the_clock_and_ends_training(dataset, tmp_path):
    settings = settings_for(tmp_path, tmp_path, learning_rate=1e-3, warmup_steps=10, anneal_minutes=1.0)
    assert learning_rate_at(5, settings, 1000) == pytest.approx(6e-4)  # warm-up goes by steps
    assert learning_rate_at(20, settings, 1000, time_spent=0.5) == pytest.approx(5.5e-4)  # half way in time
    assert learning_rate_at(20, settings, 1000, time_spent=1.0) == pytest.approx(1e-4)  # annealed to a tenth
    assert learning_rate_at(1000, settings, 1000, time_spent=0.1) == pytest.approx(1e-4)  # out of steps first

    data, _ = dataset
    summary = train(settings_for(data, tmp_path / "budget", epochs=10_000, anneal_minutes=0.05))
    best = load_checkpoint(tmp_path / "budget" / "last.pt")
    assert 0 < best["step"] < 30_000, "the time budget did not end training"
    assert best["elapsed_seconds"] < 30, "training ran far past its 3-second budget"
    assert summary["test_nll"] > 0


def test_export_matches_pytorch_and_describes_itself(exported):
    path, report = exported
    assert report["max_abs_diff"] < PARITY_TOLERANCE and report["parity_steps"] == 500
    proto = onnx.load(str(path))
    info = ModelInfo.from_json({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])
    assert info.family == "events" and info.training["command"] == "pytest"
    assert (info.encoding_version, info.vocab_size) == (encoding.ENCODING_VERSION, encoding.VOCAB_SIZE)
    assert not path.with_name(path.name + ".data").exists(), "export must be a single file"
    model = StepModel(path, device="cpu")
    assert model.provider == "CPUExecutionProvider"


def test_generate_continues_a_prompt(exported, tmp_path):
    path, _ = exported
    prompt = tmp_path / "prompt.mid"
    write_midi(prompt, {"p": [Note(0.0, 0.5, 60, 80), Note(0.5, 1.0, 64, 80), Note(1.0, 1.5, 67, 80)]})
    out = tmp_path / "continued.mid"
    result = subprocess.run([sys.executable, "-m", "duetto", "generate", "--model", str(path), "--prompt",
                             str(prompt), "--seconds", "5", "--seed", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    tracks = mido.MidiFile(out).tracks
    assert [track.name for track in tracks[1:]] == ["Prompt", "Duetto"]
    notes = read_midi(out)
    continuation = [note for note in notes if note.start >= 1.5 - 1e-6]
    assert continuation, "nothing was generated after the prompt"
    assert max(note.end for note in notes) <= 1.5 + 5.0 + 0.02


def test_int8_variant_loads_describes_itself_and_costs_little(exported, dataset, tmp_path):
    from duetto.export.quantize import heldout_nll, quantize_int8

    path, _ = exported
    data, _ = dataset
    int8_path = tmp_path / "tiny-int8.onnx"
    quantize_int8(str(path), str(int8_path))
    full, small = StepModel(path, device="cpu"), StepModel(int8_path, device="cpu")
    assert "int8" in small.info.training["variant"]
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert "MatMulInteger" in ops and "MatMul" not in ops, "the LSTMs' matrix products were not quantized"
    full_nll, small_nll = heldout_nll(full, str(data), "valid"), heldout_nll(small, str(data), "valid")
    assert abs(small_nll - full_nll) < 0.05 * full_nll


def test_export_writes_an_fp16_variant_in_half_precision_and_reports_what_it_costs(trained, dataset, tmp_path):
    run, _ = trained
    data, _ = dataset
    full, half = tmp_path / "tiny.onnx", tmp_path / "tiny-fp16.onnx"
    result = subprocess.run([sys.executable, "-m", "duetto", "export", str(run / "best.pt"), "--out", str(full),
                             "--fp16", str(half), "--data", str(data)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    model = StepModel(half, device="cpu")
    assert "fp16" in model.info.training["variant"]
    weights = [tensor for tensor in onnx.load(str(half)).graph.initializer if len(tensor.dims) == 2]
    assert weights and all(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in weights)
    # the runtime drives it as any model: state in and out in fp32
    logits, state = model.step(1, model.initial_state())
    assert logits.dtype == "float32" and all(value.dtype == "float32" for value in state)
    nll = {line.split(":")[0]: float(line.split("test NLL ")[1].split()[0])
           for line in result.stdout.splitlines() if "test NLL" in line}
    assert set(nll) == {str(full), str(half)}
    assert abs(nll[str(half)] - nll[str(full)]) < 0.01 * nll[str(full)]


def test_export_checks_its_data_folder_before_writing_anything(trained, tmp_path):
    run, _ = trained
    out = tmp_path / "never.onnx"
    result = subprocess.run([sys.executable, "-m", "duetto", "export", str(run / "best.pt"), "--out", str(out),
                             "--data", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--data" in result.stderr and "no dataset" in result.stderr
    assert "Errno" not in result.stderr and not out.exists()
