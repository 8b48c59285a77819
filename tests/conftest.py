"""Shared fixtures: a private JACK server with the dummy driver, and the shipped model.

The JACK server gets its own name, so tests never touch a musician's running server; every test that
opens real MIDI ports asks for `jack_server`, which sets JACK_DEFAULT_SERVER for this process and for the
`duetto` subprocesses the tests start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "default.onnx"


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    if shutil.which("jackd") is None:
        pytest.fail("jackd is not installed; `make test` installs Debian's jackd2")
    name = f"duetto-test-{os.getpid()}"
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    with open(log, "w") as handle:
        server = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "64"],
            stdout=handle, stderr=subprocess.STDOUT)
    ready = subprocess.run(["jack_wait", "-s", name, "-w", "-t", "10"], capture_output=True, text=True)
    if ready.returncode != 0 or server.poll() is not None:
        server.kill()
        pytest.fail(f"the private JACK server did not start: {log.read_text()[-500:]}")
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    yield name
    if previous is None:
        os.environ.pop("JACK_DEFAULT_SERVER", None)
    else:
        os.environ["JACK_DEFAULT_SERVER"] = previous
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="session")
def jack(jack_server):
    """The rtmidi JACK backend on the private server."""
    from live.ports import open_backend

    return open_backend("jack")


@pytest.fixture(scope="session")
def shipped_model():
    if not SHIPPED_MODEL.is_file():
        pytest.fail(f"{SHIPPED_MODEL} is missing: it is the shipped, trained model")
    from live.model import StepModel

    return StepModel(SHIPPED_MODEL, device="cpu")


def wait_until(condition, timeout: float, interval: float = 0.01) -> bool:
    """Poll `condition` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
