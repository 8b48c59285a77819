"""Every model family, end to end on real parts: train a tiny one, export it (with its parity check),
load it in the torch-free runtime, continue a prompt offline and answer a phrase live on the loopback.

A family joins the registry (`duetto.families.FAMILIES`) only with a tiny configuration here, so none escapes this test.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from duetto.export.onnx import PARITY_TOLERANCE, export
from duetto.families import FAMILIES, make_voice
from duetto.midi.files import read_midi, write_midi
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import Note
from duetto.train.families import load_family
from duetto.train.loop import TrainSettings, load_checkpoint, train

TINY = {
    "events": {"embed_dim": 16, "hidden_size": 32, "num_layers": 2, "dropout": 0.1},
    "transformer": {"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64, "max_context": 64},
    "melody": {"embed_dim": 16, "hidden_size": 32, "num_layers": 3, "dense_size": 32, "dropout": 0.3},
    "notes": {"pitch_embed_dim": 8, "hidden_size": 32, "timing_bins": 16},
    "biaxial": {"time_hidden": 16, "time_layers": 1, "note_hidden": 8, "note_layers": 1, "dropout": 0.0},
    "biaxial_quarter": {"time_hidden": 16, "time_layers": 1, "note_hidden": 8, "note_layers": 1, "dropout": 0.0},
    "metrical": {"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64, "head_dim": 32,
                 "max_context": 64},
}
PROMPT = [Note(0.0, 0.4, 60, 80), Note(0.5, 0.9, 64, 80), Note(1.0, 1.4, 67, 80), Note(1.5, 2.0, 72, 90)]


def test_every_family_has_a_tiny_configuration_here():
    assert set(TINY) == set(FAMILIES)


@pytest.fixture(scope="module", params=FAMILIES)
def exported(request, tiny_dataset, tmp_path_factory):
    family = request.param
    data, _ = tiny_dataset
    run = tmp_path_factory.mktemp(f"run-{family}")
    summary = train(TrainSettings(data=str(data), out=str(run), family=family, epochs=2, steps_per_epoch=3,
                                  batch_size=4, seq_len=32, warmup_steps=2, seed=3, model=TINY[family],
                                  command="pytest"))
    path = run / f"{family}.onnx"
    report = export(str(run / "best.pt"), str(path))
    return family, run, summary, path, report


def test_training_reports_nats_per_unit_and_bits_per_note(exported):
    family, run, summary, _, _ = exported
    best = load_checkpoint(run / "best.pt")
    assert best["family"] == family
    nats, bits = summary["test_nll"], summary["test_bits_per_note"]
    assert 0 < nats < math.inf and 0 < bits < math.inf
    # two views of one total: per unit, and per note in bits
    unit = load_family(family).UNIT
    if unit == "note":
        assert bits * math.log(2) == pytest.approx(nats)
    elif unit == "token":  # a note takes a token at least (its note-on)
        assert bits * math.log(2) >= nats * (1 - 1e-9)


def test_export_matches_pytorch_and_loads_with_its_voice(exported):
    family, _, _, path, report = exported
    assert report["max_abs_diff"] < PARITY_TOLERANCE and report["parity_steps"] > 0
    model = StepModel(path, device="cpu")
    assert model.info.family == family
    make_voice(model, Sampler(seed=0))  # refuses a model whose encoding has no voice


def test_generate_continues_a_prompt(exported, tmp_path):
    _, _, _, path, _ = exported
    prompt, out = tmp_path / "prompt.mid", tmp_path / "out.mid"
    write_midi(prompt, {"p": PROMPT})
    result = subprocess.run([sys.executable, "-m", "duetto", "generate", "--model", str(path), "--prompt",
                             str(prompt), "--seconds", "6", "--seed", "2", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    continuation = [note for note in read_midi(out) if note.start >= 2.0 - 1e-6]
    assert continuation, "nothing was generated after the prompt"
    assert all(note.end <= 2.0 + 6.0 + 0.02 for note in continuation)


def test_the_live_engine_answers_with_it(exported, tmp_path):
    _, _, _, path, _ = exported
    out = tmp_path / "duet.mid"
    result = subprocess.run([sys.executable, "-m", "duetto", "demo", "--model", str(path), "--backend",
                             "loopback", "--rounds", "1", "--seed", "4", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "1 answers" in result.stdout and "unmatched bot note-ons: 0" in result.stdout, result.stdout


def test_a_long_session_never_overruns_the_models_state(exported):
    """Hours of playing in miniature: far more notes than a transformer's cache holds. The context
    re-primes in time, and answers still come (in the room the cache has left)."""
    _, _, _, path, _ = exported
    model = StepModel(path, device="cpu")
    voice = make_voice(model, Sampler(seed=1), window_tokens=48)
    capacity = model.info.max_steps
    now = 0.0
    for index in range(300):
        voice.hear(now, 48 + index % 24, 70)
        voice.hear(now + 0.1, 48 + index % 24, 0)
        now += 0.15
        if index % 3 == 0:
            voice.prime_some(8)
        if capacity is not None:
            rolling = voice.context if hasattr(voice, "context") else voice.rolling
            assert rolling.steps_in_state <= capacity
    events = list(voice.answer(3.0))
    assert any(event.velocity > 0 for event in events)
    assert sum(e.velocity > 0 for e in events) == sum(e.velocity == 0 for e in events)


@pytest.mark.parametrize("exported", ["transformer"], indirect=True)  # a family with a cache
def test_a_cache_may_hold_fewer_steps_than_trained_with_the_same_results(exported):
    _, _, _, path, _ = exported
    model = StepModel(path, device="cpu")
    assert model.info.max_steps is not None
    tokens = [1, 2 + 60, 258 + 20, 130 + 60, 2 + 64, 258 + 30, 130 + 64]
    full, _ = model.feed(tokens, model.initial_state())
    small_state = model.initial_state(slots=len(tokens))
    assert small_state[1].shape != model.initial_state()[1].shape
    small, _ = model.feed(tokens, small_state)
    assert np.allclose(full, small, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_familys_batch_follows_the_model_to_its_device(family, tiny_dataset):
    """Training on a GPU moves each batch to the model's device; the meta device stands in for CUDA here
    (its tensors have shapes but no values), so a batch left on the CPU fails as it would on a GPU."""
    from torch.fx.experimental import _config as fx_config

    data, _ = tiny_dataset
    module = load_family(family)
    torch.manual_seed(0)
    model = module.build(TINY[family]).to("meta")
    batch = module.windows(str(data), "train", 16, train=True).sample_batch(np.random.default_rng(0), 2)
    with fx_config.patch(meta_nonzero_assume_all_nonzero=True):  # boolean masks select on meta too
        nats, targets, notes = module.loss(model, batch)
    assert nats.device.type == "meta" and targets > 0 and notes >= 0
