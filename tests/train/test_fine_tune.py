"""Training at the edges: fine-tuning from a checkpoint, a dataset too small to validate, exporting last.pt."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from duetto.encodings import events as encoding
from duetto.export.onnx import export
from duetto.model.step_model import StepModel
from support.material import write_tunes
from duetto.train.data.dataset import build_dataset
from duetto.train.families import load_family
from duetto.train.loop import TrainSettings, fine_tuned, load_checkpoint, save_checkpoint, train

TINY = {"embed_dim": 16, "hidden_size": 32, "num_layers": 1}


def settings(data, out, **changes) -> TrainSettings:
    return TrainSettings(**{"data": str(data), "out": str(out), "family": "events", "epochs": 2,
                            "steps_per_epoch": 3, "batch_size": 4, "seq_len": 32, "warmup_steps": 1, "seed": 1,
                            "model": TINY, **changes})


@pytest.fixture(scope="module")
def first_run(tiny_dataset, tmp_path_factory):
    data, _ = tiny_dataset
    out = tmp_path_factory.mktemp("first")
    train(settings(data, out, epochs=4))
    return data, out


def test_a_run_started_from_a_checkpoint_begins_where_that_one_ended(first_run, tmp_path):
    data, first = first_run
    fresh, tuned = tmp_path / "fresh", tmp_path / "tuned"
    train(settings(data, fresh, epochs=1))
    train(settings(data, tuned, epochs=1, init=str(first / "best.pt")))
    loss = {run: load_checkpoint(run / "last.pt")["history"][0]["train_loss"] for run in (fresh, tuned)}
    assert loss[tuned] < loss[fresh] - 0.05, loss
    assert load_checkpoint(tuned / "best.pt")["settings"]["init"] == str(first / "best.pt")


def test_a_grown_vocabulary_keeps_the_old_rows_and_learns_the_new(first_run, tmp_path):
    """A model of the first encoding (390 tokens) fine-tuned into the second (with conditioning tokens)."""
    _, first = first_run
    old = load_checkpoint(first / "best.pt")
    old["config"]["vocab_size"] = encoding.V1_VOCAB_SIZE
    old["model"] = {name: value[:encoding.V1_VOCAB_SIZE] if value.shape[:1] == (encoding.VOCAB_SIZE,) else value
                    for name, value in old["model"].items()}
    save_checkpoint(tmp_path / "v1.pt", old)
    model = fine_tuned(load_family("events"), settings("unused", tmp_path, init=str(tmp_path / "v1.pt")))
    assert model.config.vocab_size == encoding.VOCAB_SIZE
    assert torch.equal(model.embed.weight[:encoding.V1_VOCAB_SIZE], old["model"]["embed.weight"])
    assert not torch.equal(model.embed.weight[encoding.V1_VOCAB_SIZE:], torch.zeros_like(
        model.embed.weight[encoding.V1_VOCAB_SIZE:]))  # the new rows start as fresh weights, not zeros


def test_another_familys_checkpoint_cannot_start_a_run(first_run, tmp_path):
    data, first = first_run
    with pytest.raises(ValueError, match="it is .events., and cannot start a transformer model"):
        train(settings(data, tmp_path, family="transformer", model={}, init=str(first / "best.pt")))


def test_last_pt_exports_as_best_pt_does(first_run, tmp_path):
    _, first = first_run
    report = export(str(first / "last.pt"), str(tmp_path / "last.onnx"))
    assert report["parity_steps"] == 500
    assert StepModel(tmp_path / "last.onnx", device="cpu").info.family == "events"


def test_a_dataset_too_small_to_validate_trains_without_and_never_says_nan(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_tunes(folder, count=1)
    data = tmp_path / "data"
    manifest = build_dataset([str(folder)], data, augment_copies=1)
    assert manifest["splits"]["valid"]["pieces"] == 0
    result = subprocess.run([sys.executable, "-m", "duetto", "train", "--data", str(data), "--out", str(tmp_path / "run"),
                             "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--seq-len", "16",
                             "--model-config", json.dumps(TINY)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "trains without validation" in result.stderr
    assert "nan" not in (result.stdout + result.stderr).lower()
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["valid_nll"] is None and summary["test_nll"] is None
    assert (tmp_path / "run" / "best.pt").is_file()


def test_a_deeper_transformer_grown_from_a_checkpoint_first_plays_as_that_one(tiny_dataset, tmp_path):
    data, _ = tiny_dataset
    small = {"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64, "max_context": 64}
    train(settings(data, tmp_path / "small", family="transformer", model=small, epochs=1))
    grown = fine_tuned(load_family("transformer"), settings(data, tmp_path, family="transformer",
                                                             model={"num_layers": 4},
                                                             init=str(tmp_path / "small" / "best.pt")))
    original = load_family("transformer").build(small)
    original.load_state_dict(load_checkpoint(tmp_path / "small" / "best.pt")["model"])
    tokens = torch.randint(2, 300, (2, 40))
    grown.eval(), original.eval()
    with torch.no_grad():
        assert len(grown.blocks) == 4
        assert torch.allclose(grown(tokens)[0], original(tokens)[0], atol=1e-5)
