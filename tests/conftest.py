"""Shared fixtures: a private JACK server with the dummy driver, the shipped model, a tiny dataset.

The rigs the tests share with the benchmarks and the demo live in `duetto.testing`.

The JACK server gets its own name, so tests never touch a musician's running server; every test that
opens real MIDI ports asks for `jack_server`, which sets JACK_DEFAULT_SERVER for this process and for the
`duetto` subprocesses the tests start.
"""

from __future__ import annotations

import os
import sys

import pytest


def pytest_addoption(parser) -> None:
    parser.addoption("--long", action="store_true",
                     help="run the fuzz and kill suites at full length (docs/reliability.md); DUETTO_LONG=1 too")


@pytest.fixture(scope="session")
def long_form(request) -> bool:
    """Whether the reliability suites run their long form: hundreds of kills, a 30 s message flood."""
    return bool(request.config.getoption("--long")) or os.environ.get("DUETTO_LONG") == "1"


@pytest.fixture(scope="session")
def jack_server():
    from duetto.midi.ports.base import PortError
    from duetto.testing.jack_server import TEST_PERIOD_FRAMES, TEST_RATE, PrivateJackServer

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
def tiny_dataset(tmp_path_factory):
    """A dataset built for real from 24 small tunes and one broken file: (folder, manifest)."""
    from duetto.testing.material import write_tunes
    from duetto.train.data.dataset import build_dataset

    folder = tmp_path_factory.mktemp("midi")
    write_tunes(folder)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    out = tmp_path_factory.mktemp("data")
    manifest = build_dataset([str(folder)], out, augment_copies=2, seed=0)
    return out, manifest
