"""Model files Duetto must refuse: each gets one line naming the file and the problem, and exit code 1."""

from __future__ import annotations

import json

import onnx
import pytest

from duetto.model.step_model import METADATA_KEY, ModelError, StepModel
from duetto.models import DEFAULT_MODEL
from duetto.tools.demo import CALL
from support.cli import refusal


@pytest.fixture
def refuse(capsys, tmp_path):
    """`duetto generate` on a model: a clean refusal, one line naming the file, which it returns."""
    def refused(path) -> str:
        line = refusal(capsys, "generate", "--model", str(path), "--prompt", str(CALL), "--out",
                       str(tmp_path / "unused.mid"))
        assert str(path) in line
        return line

    return refused


def with_metadata(tmp_path, change) -> str:
    proto = onnx.load(str(DEFAULT_MODEL))
    props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    info = json.loads(props[METADATA_KEY])
    change(info)
    if info is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(info)
    path = tmp_path / "changed.onnx"
    onnx.save(proto, str(path))
    return path


def test_truncated_model_is_refused(tmp_path, refuse):
    data = DEFAULT_MODEL.read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert "not a loadable ONNX model" in refuse(path)


def test_a_file_that_is_not_onnx_is_refused(tmp_path, refuse):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for")
    assert "not a loadable ONNX model" in refuse(path)


def test_missing_model_is_refused(tmp_path, refuse):
    assert "no such model file" in refuse(tmp_path / "absent.onnx")


def test_onnx_without_duetto_metadata_is_refused(tmp_path, refuse):
    proto = onnx.load(str(DEFAULT_MODEL))
    del proto.metadata_props[:]
    path = tmp_path / "plain.onnx"
    onnx.save(proto, str(path))
    assert "not a Duetto model" in refuse(path)


def test_other_encoding_version_is_refused(tmp_path, refuse):
    path = with_metadata(tmp_path, lambda info: info.update(encoding_version=99))
    assert "v99 is not one this Duetto speaks" in refuse(path)


def test_vocabulary_mismatch_is_refused(tmp_path, refuse):
    path = with_metadata(tmp_path, lambda info: info.update(vocab_size=500))
    assert "vocabulary of 500 tokens" in refuse(path)


def test_inputs_that_do_not_match_the_metadata_are_refused(tmp_path, refuse):
    def rename_state(info):
        info["state"][0]["input"] = "hidden"

    path = with_metadata(tmp_path, rename_state)
    assert "do not match its metadata" in refuse(path)


def test_garbled_metadata_is_refused(tmp_path):
    path = with_metadata(tmp_path, lambda info: info.pop("state"))
    with pytest.raises(ModelError, match="unreadable Duetto metadata"):
        StepModel(path, device="cpu")


@pytest.mark.parametrize("installed, message", [
    ((), "ONNX Runtime is not installed"),
    (("onnxruntime", "onnxruntime-gpu"), "both onnxruntime and onnxruntime-gpu are installed"),
])
def test_onnxruntime_builds_neither_or_both_are_explained(monkeypatch, installed, message):
    from importlib import metadata

    import duetto.model.step_model

    def version(distribution: str) -> str:
        if distribution in installed:
            return "1.0"
        raise metadata.PackageNotFoundError(distribution)

    monkeypatch.setattr(duetto.model.step_model.metadata, "version", version)
    with pytest.raises(ModelError, match=message):
        duetto.model.step_model.onnxruntime_module()


CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


@pytest.mark.parametrize("device, available, chosen", [
    ("auto", [CUDA, CPU], [CUDA, CPU]),  # the GPU first, the CPU behind it as the fallback
    ("cuda", [CUDA, CPU], [CUDA, CPU]),
    ("auto", [CPU], [CPU]),
    ("cpu", [CUDA, CPU], [CPU]),
])
def test_cuda_is_chosen_when_offered_and_the_cpu_is_always_the_fallback(device, available, chosen):
    from duetto.model.step_model import choose_providers

    assert choose_providers(device, available) == chosen


def test_asking_for_cuda_on_a_runtime_without_it_is_one_line_and_auto_falls_back_to_the_cpu(capsys, tmp_path):
    assert "--device cuda" in refusal(capsys, "generate", "--device", "cuda", "--prompt", str(CALL), "--out",
                                      str(tmp_path / "unused.mid"))
    assert StepModel(DEFAULT_MODEL, device="auto").provider == CPU
