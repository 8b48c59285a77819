"""Hearing a MIDI file without a synth: render it to WAV with FluidSynth and a General MIDI soundfont.

Optional by design: Duetto never needs audio to work, so when FluidSynth or a soundfont is missing the
error says which, and how to get it (Debian: fluidsynth, fluid-soundfont-gm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

GAIN = 0.8  # FluidSynth's own default, 0.2, renders a solo piano some 26 dB below full scale: too quiet to hear
SOUNDFONT_PLACES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                    "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")


class AudioError(Exception):
    """Rendering cannot happen here; the message is one line saying what is missing."""


def find_soundfont(explicit: str | None = None) -> Path:
    """The soundfont to use: the one named (or in DUETTO_SOUNDFONT), else a General MIDI one from the
    usual system places."""
    named = explicit or os.environ.get("DUETTO_SOUNDFONT")
    if named:
        if not Path(named).is_file():
            raise AudioError(f"soundfont {named}: no such file")
        return Path(named)
    for place in SOUNDFONT_PLACES:
        if Path(place).is_file():
            return Path(place)
    raise AudioError("no General MIDI soundfont found (Debian: apt install fluid-soundfont-gm, or name one "
                     "with --soundfont / DUETTO_SOUNDFONT)")


def find_renderer(soundfont: str | None = None) -> tuple[str, Path]:
    """The FluidSynth program and the soundfont it will use, or one line saying which is missing."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise AudioError("FluidSynth is not installed, so no WAV (Debian: apt install fluidsynth "
                         "fluid-soundfont-gm; macOS: brew install fluidsynth)")
    return program, find_soundfont(soundfont)


def render_wav(midi_path: str | os.PathLike, wav_path: str | os.PathLike, soundfont: str | None = None,
               sample_rate: int = 44100) -> None:
    """Render `midi_path` to `wav_path` faster than real time; the WAV appears whole or not at all."""
    program, font = find_renderer(soundfont)
    target = Path(wav_path)
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as folder:
        partial = Path(folder) / "render.wav"
        result = subprocess.run([program, "-ni", "-q", "-g", str(GAIN), "-F", str(partial), "-r", str(sample_rate),
                                 "-T", "wav", str(font), str(midi_path)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not partial.is_file():
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise AudioError(f"FluidSynth could not render {midi_path}: {reason[-1] if reason else 'no output'}")
        os.replace(partial, target)
