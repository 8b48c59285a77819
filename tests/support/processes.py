"""`duetto` commands run as processes of their own on the private JACK server, as a musician would run
them, and the patient polling that tests of real ports need.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading

from duetto.models import DEFAULT_MODEL
from duetto.tools.duet_rig import wait_until  # noqa: F401 - the tests' patient polling, imported from here

_jam_numbers = itertools.count()


class JamProcess:
    """A `duetto` command (by default `jam`) running as its own process on the private JACK server.

    Its ports get a name of their own ("Jam <pid>-<n> In"/"... Out"), so no test ever talks to a bot some
    other test left behind; what it prints is collected line by line as it runs. `within` prefixes the
    command (say, `ip netns exec NAME`: a network of its own).
    """

    def __init__(self, *args: str, command: str = "jam", within: tuple[str, ...] = ()) -> None:
        self.name = f"Jam {os.getpid()}-{next(_jam_numbers)}"
        self.in_port, self.out_port = f"{self.name} In", f"{self.name} Out"
        model = ["--model", str(DEFAULT_MODEL)] if command == "jam" and "--model" not in args else []
        self.process = subprocess.Popen([*within, sys.executable, "-m", "duetto", command, "--backend", "jack",
                                         "--name", self.name, *model, *args],
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
