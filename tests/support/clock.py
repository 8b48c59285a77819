"""A DAW's transport for the tests of time: MIDI Clock sent at a tempo, and the tempo read back from ticks."""

from __future__ import annotations

import threading
import time

import numpy as np

from duetto.midi import messages
from duetto.midi.ports.base import OutputPort
from duetto.tools.duet_rig import sleep_until


def fit_clock(stamps: list[float]) -> tuple[float, float]:
    """(seconds per tick, stamp of the first tick): a least-squares line through MIDI Clock ticks as heard."""
    slope, intercept = np.polyfit(np.arange(len(stamps)), np.array(stamps), 1)
    return float(slope), float(intercept)


class ClockSender:
    """A DAW's transport: MIDI Start, then Clock (MIDI Clock) at 24 per beat from its own thread until stopped."""

    def __init__(self, port: OutputPort, bpm: float) -> None:
        self.port = port
        self.tick_seconds = 60.0 / bpm / 24
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-sender", daemon=True)

    def start(self) -> "ClockSender":
        self._thread.start()
        return self

    def _run(self) -> None:
        self.port.send([messages.START])
        first = time.perf_counter() + 0.01
        tick = 0
        while not self._stop.is_set():
            sleep_until(first + tick * self.tick_seconds)
            self.port.send([messages.CLOCK])
            tick += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
