"""A private JACK server with the dummy driver: real MIDI transport with no sound card.

Tests and benchmarks run on their own server name, so they never disturb a JACK server a musician has
running. Clients find it through JACK_DEFAULT_SERVER, which `PrivateJackServer` sets while it runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from live.ports import PortError


class PrivateJackServer:
    """`with PrivateJackServer(period=64) as server:` starts jackd, waits until it answers, stops it after."""

    def __init__(self, name: str | None = None, rate: int = 48_000, period: int = 64) -> None:
        self.name = name or f"duetto-private-{os.getpid()}"
        self.rate = rate
        self.period = period
        self._process: subprocess.Popen | None = None
        self._previous: str | None = None
        self._log = tempfile.TemporaryFile(mode="w+")

    @property
    def period_seconds(self) -> float:
        return self.period / self.rate

    def __enter__(self) -> "PrivateJackServer":
        if shutil.which("jackd") is None:
            raise PortError("jackd is not installed (Debian/Ubuntu: apt-get install jackd2)")
        self._process = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", str(self.rate),
             "-p", str(self.period)], stdout=self._log, stderr=subprocess.STDOUT)
        ready = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], capture_output=True)
        if ready.returncode != 0 or self._process.poll() is not None:
            self._stop()
            self._log.seek(0)
            raise PortError(f"the private JACK server did not start: {self._log.read()[-300:].strip()}")
        self._previous = os.environ.get("JACK_DEFAULT_SERVER")
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = self._previous
        self._stop()

    def _stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
