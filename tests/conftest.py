"""Shared fixtures: a private JACK server with the dummy driver, and the shipped model.

The JACK server gets its own name, so tests never touch a musician's running server; every test that
opens real MIDI ports asks for `jack_server`, which sets JACK_DEFAULT_SERVER for this process and for the
`duetto` subprocesses the tests start.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "default.onnx"
JACK_RATE, JACK_PERIOD_FRAMES = 48_000, 256  # a 5.3 ms period leaves a loaded 2-core CI machine headroom
JACK_PERIOD_SECONDS = JACK_PERIOD_FRAMES / JACK_RATE


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
    from duetto.testing.jack_server import PrivateJackServer

    try:
        # latency is the benchmark's job
        with PrivateJackServer(name=f"duetto-test-{os.getpid()}", rate=JACK_RATE, period=JACK_PERIOD_FRAMES) as server:
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
    if not SHIPPED_MODEL.is_file():
        pytest.fail(f"{SHIPPED_MODEL} is missing: it is the shipped, trained model")
    from duetto.model.step_model import StepModel

    return StepModel(SHIPPED_MODEL, device="cpu")


def fit_clock(stamps: list[float]) -> tuple[float, float]:
    """(seconds per tick, stamp of the first tick): a least-squares line through MIDI Clock ticks as heard."""
    import numpy as np

    slope, intercept = np.polyfit(np.arange(len(stamps)), np.array(stamps), 1)
    return float(slope), float(intercept)


_jam_numbers = itertools.count()


class JamProcess:
    """A `duetto` command (by default `jam`) running as its own process on the private JACK server.

    Its ports get a name of their own ("Jam <pid>-<n> In"/"... Out"), so no test ever talks to a bot some
    other test left behind; what it prints is collected line by line as it runs.
    """

    def __init__(self, *args: str, command: str = "jam") -> None:
        self.name = f"Jam {os.getpid()}-{next(_jam_numbers)}"
        self.in_port, self.out_port = f"{self.name} In", f"{self.name} Out"
        model = ["--model", str(SHIPPED_MODEL)] if command == "jam" and "--model" not in args else []
        self.process = subprocess.Popen([sys.executable, "-m", "duetto", command, "--backend", "jack", "--name",
                                         self.name, *model, *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out_lines: list[str] = []
        self.lines: list[str] = []  # stderr
        streams = ((self.process.stdout, self.out_lines), (self.process.stderr, self.lines))
        self._readers = [threading.Thread(target=lambda s=stream, to=lines: to.extend(s), daemon=True)
                         for stream, lines in streams]
        for reader in self._readers:
            reader.start()

    @property
    def out(self) -> str:
        return "".join(self.out_lines)

    @property
    def errors(self) -> str:
        return "".join(self.lines)

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def wait_for_ports(self, jack, timeout: float = 30.0) -> None:
        """Until the process has opened its input port (and its output, where it makes one)."""
        assert wait_until(lambda: any(self.in_port in name for name in jack.output_names())
                          or self.process.poll() is not None, timeout), self.errors
        assert self.process.poll() is None, self.errors

    def stop(self, stop_signal: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Ask it to stop (killing it if it will not) and collect everything it printed; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(stop_signal)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        for reader in self._readers:
            reader.join(timeout=2)
        return code


def wait_until(condition, timeout: float, interval: float = 0.01) -> bool:
    """Poll `condition` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class FailingModel:
    """A real model, made to raise after a number of steps: a model failing in the middle of an answer."""

    def __init__(self, model, fail_after: int) -> None:
        self._model = model
        self.remaining = fail_after
        self.info = model.info

    def initial_state(self):
        return self._model.initial_state()

    def step(self, token, state):
        self._count_down()
        return self._model.step(token, state)

    def run(self, feeds, state):
        self._count_down()
        return self._model.run(feeds, state)

    def _count_down(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise RuntimeError("injected failure")


def write_tunes(folder: Path, count: int = 24) -> None:
    """Short tunes in different keys: arpeggios with a held bass, enough variety for a split."""
    from duetto.midi.files import write_midi
    from duetto.music.notes import Note

    for index in range(count):
        root = 48 + index
        notes = [Note(0.0, 2.0, root - 12, 70)]
        for step, interval in enumerate([0, 4, 7, 12, 7, 4, 0, 7] * 2):
            notes.append(Note(step * 0.25, step * 0.25 + 0.2, root + interval, 60 + (step * 7) % 40))
        write_midi(folder / f"tune{index:02d}.mid", {"tune": notes})


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A dataset built for real from 24 small tunes and one broken file: (folder, manifest)."""
    from duetto.train.data.dataset import build_dataset

    folder = tmp_path_factory.mktemp("midi")
    write_tunes(folder)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    out = tmp_path_factory.mktemp("data")
    manifest = build_dataset([str(folder)], out, augment_copies=2, seed=0)
    return out, manifest
