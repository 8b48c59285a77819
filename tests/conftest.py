"""Shared fixtures: a private JACK server with the dummy driver, the shipped model, a tiny dataset.

The rigs only tests use live in tests/support/ (importable as `support`); those the benchmarks and the demo
use too (the stand-in player and recorder, the private JACK server) live in `duetto.tools`.

The JACK server gets its own name, so tests never touch a musician's running server; every test that
opens real MIDI ports asks for `jack_server`, which sets JACK_DEFAULT_SERVER for this process and for the
`duetto` subprocesses the tests start.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TRAINING = ("torch", "duetto.train", "duetto.export")  # what a `torch` test imports
TRAINING_FOLDERS = (TESTS / "train", TESTS / "export")


def pytest_addoption(parser) -> None:
    parser.addoption("--long", action="store_true",
                     help="run the fuzz and kill suites at full length (docs/reliability.md); DUETTO_LONG=1 too")


def needs_training(item: pytest.Item) -> bool:
    """Whether a test trains or exports a model: it lies in tests/train or tests/export, asks for the tiny
    dataset or an exported metrical model, or its module imports torch or the training side."""
    if ({"tiny_dataset", "untrained_metrical"} & set(item.fixturenames)
            or any(folder in item.path.parents for folder in TRAINING_FOLDERS)):
        return True
    module = getattr(item, "module", None)
    for value in vars(module).values() if module is not None else ():
        source = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None) or ""
        if source.split(".")[0] == "torch" or source.startswith(TRAINING[1:]):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tiers (pyproject.toml): `jack` for a test on the private JACK server, `torch` for one that trains
    or exports, `slow` where marked by hand; every other test is a `unit` test (`make test-fast`)."""
    for item in items:
        if "jack_server" in item.fixturenames:
            item.add_marker(pytest.mark.jack)
        if needs_training(item):
            item.add_marker(pytest.mark.torch)
        if not any(item.get_closest_marker(tier) for tier in ("jack", "torch", "slow")):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def long_form(request) -> bool:
    """Whether the reliability suites run their long form: hundreds of kills, a 30 s message flood."""
    return bool(request.config.getoption("--long")) or os.environ.get("DUETTO_LONG") == "1"


@pytest.fixture(scope="session")
def jack_server():
    from duetto.midi.ports.base import PortError
    from duetto.tools.jack_server import PrivateJackServer
    from support.jack import TEST_PERIOD_FRAMES, TEST_RATE

    try:
        # latency is the benchmark's job
        with PrivateJackServer(name=f"duetto-test-{os.getpid()}", rate=TEST_RATE, period=TEST_PERIOD_FRAMES) as server:
            yield server.name
    except PortError as error:
        pytest.fail(f"{error}; `make test` installs Debian's jackd2")


@pytest.fixture(scope="session")
def jack(jack_server):
    """The rtmidi JACK backend on the private server."""
    from duetto.midi.ports import open_backend

    return open_backend("jack")


@pytest.fixture
def fast_switching():
    """Switch threads every 0.5 ms, as `duetto jam` does, so port callbacks keep up with JACK."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture(scope="session")
def shipped_model():
    from duetto.model.step_model import StepModel
    from duetto.models import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL} is missing: it is the shipped, trained model")

    return StepModel(DEFAULT_MODEL, device="cpu")


@pytest.fixture(scope="session")
def shipped_event_model():
    """The event transformer shipped beside the default, for what only a model over the event stream does
    (its token context, the improviser)."""
    from duetto.model.step_model import StepModel
    from duetto.models import EVENT_MODEL

    if not EVENT_MODEL.is_file():
        pytest.fail(f"{EVENT_MODEL} is missing: it is the shipped, trained event transformer")
    return StepModel(EVENT_MODEL, device="cpu")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A dataset built for real from 24 small tunes and one broken file: (folder, manifest)."""
    from support.material import write_tunes
    from duetto.train.data.dataset import build_dataset

    folder = tmp_path_factory.mktemp("midi")
    write_tunes(folder)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    out = tmp_path_factory.mktemp("data")
    manifest = build_dataset([str(folder)], out, augment_copies=2, seed=0)
    return out, manifest


@pytest.fixture(scope="session")
def untrained_metrical(tmp_path_factory):
    """A tiny metrical model, exported for real (with its parity check) but never trained: what it draws is
    noise, but where its notes fall (on the grid, in the limits) is the voice's doing."""
    import torch

    from duetto.export.onnx import export
    from duetto.model.step_model import StepModel
    from duetto.train.families import load_family
    from duetto.train.loop import save_checkpoint

    folder = tmp_path_factory.mktemp("metrical")
    torch.manual_seed(0)
    built = load_family("metrical").build({"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64,
                                           "head_dim": 32, "max_context": 64})
    save_checkpoint(folder / "m.pt", {"family": "metrical", "config": built.config.to_dict(), "model": built.state_dict()})
    export(str(folder / "m.pt"), str(folder / "metrical.onnx"), parity_steps=50)
    return StepModel(folder / "metrical.onnx", device="cpu")
