"""The jam's modes, equals on one stage (duetto.jam.modes.base): call and response, duet, practice, band."""

from __future__ import annotations

from duetto.jam.modes.band import BandMode
from duetto.jam.modes.base import Mode
from duetto.jam.modes.call import CallAndResponse
from duetto.jam.modes.duet import DuetMode
from duetto.jam.modes.practice import PracticeMode

MODES: dict[str, type[Mode]] = {"call": CallAndResponse, "duet": DuetMode, "practice": PracticeMode, "band": BandMode}


def make_mode(name: str) -> Mode:
    """The mode for `--mode NAME`, ready to `begin` on a stage."""
    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}: use {', '.join(MODES)}")
    return MODES[name]()
