"""A private JACK server with the dummy driver: real MIDI transport with no sound card.

The benchmarks and the tests run on their own server name, so they never disturb a JACK server a
musician has running. Clients find it through JACK_DEFAULT_SERVER, which `PrivateJackServer` sets while it runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from duetto.midi.ports.base import PortError


def may_use_realtime() -> bool:
    """Whether this user may run threads with real-time (SCHED_FIFO) priority."""
    if shutil.which("chrt") is None:
        return False
    return subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0


class PrivateJackServer:
    """`with PrivateJackServer(period=64) as server:` starts jackd, waits until it answers, stops it after."""

    def __init__(self, name: str | None = None, rate: int = 48_000, period: int = 64,
                 realtime: bool | None = None) -> None:
        self.name = name or f"duetto-private-{os.getpid()}"
        # Without real-time scheduling a busy machine makes JACK clients miss cycles, and MIDI events
        # are then lost or late in transport; so use it whenever this user may (None: find out).
        self.realtime = may_use_realtime() if realtime is None else realtime
        self.rate = rate
        self.period = period
        self._process: subprocess.Popen | None = None
        self._previous: str | None = None
        self._log = tempfile.TemporaryFile(mode="w+")
        self.killed = False

    @property
    def period_seconds(self) -> float:
        return self.period / self.rate

    def __enter__(self) -> "PrivateJackServer":
        if shutil.which("jackd") is None:
            raise PortError("jackd is not installed (Debian/Ubuntu: apt-get install jackd2)")
        self._process = subprocess.Popen(
            ["jackd", *(["--realtime", "-P", "70"] if self.realtime else ["--no-realtime"]), "-n", self.name,
             "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=self._log, stderr=subprocess.STDOUT)
        ready = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], capture_output=True)
        if ready.returncode != 0 or self._process.poll() is not None:
            self._log.seek(0)
            said = self._log.read()[-300:].strip()  # before stopping it closes the log
            self._stop()
            raise PortError(f"the private JACK server did not start: {said}")
        self._previous = os.environ.get("JACK_DEFAULT_SERVER")
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = self._previous
        self._stop()

    def kill(self) -> None:
        """Stop the server at once, as a crash would (SIGKILL); JACK_DEFAULT_SERVER still names it, so a
        server started again under its name is found by the same clients.

        A killed server keeps its slot in JACK's registry of servers (8 on a machine) until a server of
        the same name starts: whoever kills one must start it again (and stop it) in the end, or
        `reclaim()`."""
        self._process.kill()
        self._process.wait()
        self.killed = True

    def reclaim(self) -> None:
        """Start and stop a server under a killed one's name, which frees its slot in JACK's registry."""
        with PrivateJackServer(self.name, self.rate, self.period, self.realtime):
            pass

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
