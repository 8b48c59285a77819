"""Where FluidSynth and a General MIDI soundfont are on this machine, and the one line saying how to get
what is missing.

Two parts of Duetto play through FluidSynth: `duetto jam --synth` runs it live (duetto.jam.synth), and
`--wav` and the demo render files with it (duetto.offline.audio). Both find it here, so both look in the
same places and say the same thing when it is not there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from duetto.errors import DuettoError

INSTALL = "Debian/Ubuntu: sudo apt install fluidsynth fluid-soundfont-gm; macOS: brew install fluidsynth"
SOUNDFONT_PLACES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                    "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
SOUNDFONT_VARIABLE = "DUETTO_SOUNDFONT"


class FluidSynthError(DuettoError):
    """FluidSynth or a soundfont is missing, or FluidSynth failed; the message says which, in one line."""


def find_fluidsynth(without: str) -> str:
    """The FluidSynth program; without it, a FluidSynthError saying what cannot happen (`without`, like
    "no WAV") and how to install it."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise FluidSynthError(f"FluidSynth is not installed, so {without} ({INSTALL})")
    return program


def find_soundfont(named: str | None, option: str) -> Path:
    """The soundfont to use: the one named (by `option`, or in DUETTO_SOUNDFONT), else a General MIDI one
    from the usual system places."""
    named = named or os.environ.get(SOUNDFONT_VARIABLE)
    if named:
        if not Path(named).is_file():
            raise FluidSynthError(f"soundfont {named}: no such file")
        return Path(named)
    for place in SOUNDFONT_PLACES:
        if Path(place).is_file():
            return Path(place)
    raise FluidSynthError(f"no General MIDI soundfont found ({INSTALL}; or name one with {option} or "
                          f"{SOUNDFONT_VARIABLE})")
