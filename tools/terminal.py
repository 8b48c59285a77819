"""`duetto jam --view` in a terminal nobody looks at: a tmux session on a server of its own.

The live view's test plays it as a person would, and the soak runs an hour with the view on; both start
the jam here, send keys with send-keys and read the screen with capture-pane. The tmux server is never the
user's (a socket of its own), and the pane stays after the command exits, its exit status written under
what it printed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from duetto.models import DEFAULT_MODEL
from duetto.tools.duet_rig import wait_until


class Tmux:
    """`duetto jam --backend jack --name NAME --view ARGS...` in a tmux session sized like a terminal, on
    the JACK server JACK_DEFAULT_SERVER names."""

    def __init__(self, name: str, *args: str, width: int = 150, height: int = 44) -> None:
        self.socket = f"duetto-{os.getpid()}-{name.replace(' ', '-')}"
        self.target = name.replace(" ", "-")
        command = shlex.join([sys.executable, "-m", "duetto", "jam", "--backend", "jack", "--name", name,
                              "--model", str(DEFAULT_MODEL), "--view", *args]) + '; echo "exit status $?"'
        self.tmux("new-session", "-d", "-s", self.target, "-x", str(width), "-y", str(height),
                  "-e", f"JACK_DEFAULT_SERVER={os.environ['JACK_DEFAULT_SERVER']}", command)
        self.tmux("set-option", "-t", self.target, "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        # the size is the terminal's, not what a test runner put in COLUMNS and LINES (Textual would believe those)
        environment = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              env=environment).stdout

    def screen(self, colours: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def shows(self, text: str, timeout: float = 10.0) -> bool:
        return wait_until(lambda: text in self.screen(), timeout, interval=0.1)

    def jam_pid(self) -> int | None:
        """The process id of the `duetto jam` the pane's shell runs (None once it has exited)."""
        shell = int(self.tmux("display-message", "-p", "-t", self.target, "#{pane_pid}").strip())
        children = Path(f"/proc/{shell}/task/{shell}/children")
        try:
            found = children.read_text().split()
        except OSError:
            return None
        return int(found[0]) if found else None

    def exit_status(self) -> int | None:
        """The command's exit status once it has exited (and the shell after it), else None."""
        if self.tmux("display-message", "-p", "-t", self.target, "#{pane_dead}").strip() != "1":
            return None
        said = [line for line in self.screen().splitlines() if line.startswith("exit status ")]
        return int(said[-1].split()[-1]) if said else None

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
