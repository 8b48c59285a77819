"""A DAW's transport for the tests of time: MIDI Clock sent at a tempo (duetto.tools.duet_rig's
`ClockSender`), and the tempo read back from ticks."""

from __future__ import annotations

import numpy as np

from duetto.tools.duet_rig import ClockSender  # noqa: F401 - the tests import the sender from here


def fit_clock(stamps: list[float]) -> tuple[float, float]:
    """(seconds per tick, stamp of the first tick): a least-squares line through MIDI Clock ticks as heard."""
    slope, intercept = np.polyfit(np.arange(len(stamps)), np.array(stamps), 1)
    return float(slope), float(intercept)
