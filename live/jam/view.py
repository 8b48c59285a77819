"""`duetto jam --view`: a few lines of plain ANSI that redraw in place while you play.

The view only reads the `Status` the engine thread publishes (an immutable snapshot, swapped in whole),
so it never touches the engine's state; it redraws four times a second from its own thread.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, TextIO

from duetto.jam.status import Status

REDRAW_SECONDS = 0.25
CLEAR_LINE = "\x1b[2K"


def _pair(values: tuple[float, float] | None) -> str:
    return "-" if values is None else f"{values[0]:.2f} / {values[1]:.2f} ms"


def render(status: Status) -> list[str]:
    """The view's lines for one status. How late each answer's first note left is shown in call mode only,
    where an answer is due the moment the phrase gap ends; elsewhere it means nothing (duet streams a beat
    at a time, each queued a beat ahead, so its "first note" is a note of the beat before)."""
    if status.bpm is None:
        tempo = "no tempo (silence ends phrases in ms)"
    else:
        transport = ", transport running" if status.tempo_source == "midi clock" and status.transport_running else ""
        tempo = f"{status.bpm:.1f} BPM from {status.tempo_source}{transport}"
    key = status.key or "not heard yet"
    if status.key_locked:
        key += " (locked)"
    lateness = ""
    if status.mode == "call":
        lateness = f"   answer's first note after due p50/p99 {_pair(status.answer_late_ms)}"
    return [
        f"duetto  mode {status.mode}   tempo {tempo}   key {key}",
        f"notes in {status.notes_in}   notes out {status.notes_out}   answers {status.answers}   "
        f"barge-ins {status.barge_ins}",
        f"model step p50/p99 {_pair(status.step_ms)} on {status.provider}{lateness}",
        f"temperature {status.temperature:.2f}   quantize {status.quantize:.2f}   "
        f"dropped {status.dropped}   errors {status.errors}",
    ]


class TerminalView:
    """Redraws `render(status())` in place on `stream` until stopped."""

    def __init__(self, status: Callable[[], Status | None], stream: TextIO = sys.stdout) -> None:
        self._status = status
        self._stream = stream
        self._drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="duetto-view", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._draw()  # the final figures stay on screen

    def _run(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self._draw()

    def _draw(self) -> None:
        status = self._status()
        if status is None:
            return
        lines = render(status)
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._stream.write(up + "".join(f"{CLEAR_LINE}{line}\n" for line in lines))
        self._stream.flush()
        self._drawn = len(lines)
