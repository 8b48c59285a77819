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
READY = "Ctrl-C to stop"  # the end of the line a jam says once its ports are open


class JamProcess:
    """A `duetto` command (by default `jam`) running as its own process on the private JACK server.

    Its ports get a name of their own ("Jam <pid>-<n> In"/"... Out"), so no test ever talks to a bot some
    other test left behind; what it prints is collected line by line as it runs. `within` prefixes the
    command (say, `ip netns exec NAME`: a network of its own).
    """

    def __init__(self, *args: str, command: str = "jam", within: tuple[str, ...] = ()) -> None:
        self.name = f"Jam {os.getpid()}-{next(_jam_numbers)}"
        self.command = command
        self.in_port, self.out_port = f"{self.name} In", f"{self.name} Out"
        model = ["--model", str(DEFAULT_MODEL)] if command == "jam" and "--model" not in args else []
        # a native crash prints every thread's Python stack on stderr, so a red run says where it died
        environment = dict(os.environ, PYTHONFAULTHANDLER="1")
        self.process = subprocess.Popen([*within, sys.executable, "-m", "duetto", command, "--backend", "jack",
                                         "--name", self.name, *model, *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
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

    @property
    def state(self) -> str:
        """Whether it still runs (or how it ended), then what it printed on stderr: a failing test's message."""
        code = self.process.poll()
        if code is not None:
            self._read_to_the_end()
        how = "running" if code is None else f"exited with status {code}"
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        return f"the jam is {how}; it said: {self.errors}"

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def wait_for_ports(self, jack, timeout: float = 30.0) -> None:
        """Until the process has opened its input port and, a jam, said it is listening: every port of its
        own open and tried by then, and so the short-lived clients it tries them with gone. A client the
        test opened as a jam closed one could be given the departed client's number and, by a libjack race
        (duetto.midi.ports.libjack), never hear the jam: a listener opened the moment the port appeared
        missed the whole answer, five runs in twenty of the synth test under load (none in twenty waiting
        for the line)."""
        ready = (lambda: self.said(READY)) if self.command == "jam" else (lambda: True)
        assert wait_until(lambda: (any(self.in_port in name for name in jack.output_names()) and ready())
                          or self.process.poll() is not None, timeout), self.state
        assert self.process.poll() is None, self.state

    def stop(self, stop_signal: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Ask it to stop (killing it if it will not) and collect everything it printed; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(stop_signal)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._read_to_the_end()
        return code

    def _read_to_the_end(self) -> None:
        """Once the process has ended, until its last lines are collected (its readers lag behind it)."""
        for reader in self._readers:
            reader.join(timeout=2)
