"""Hearing a MIDI file without a synth: render it to WAV with FluidSynth and a General MIDI soundfont.

Optional by design: Duetto never needs audio to work, so when FluidSynth or a soundfont is missing the
error says which, and how to get it (duetto.fluidsynth).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from duetto.fluidsynth import FluidSynthError, find_fluidsynth, find_soundfont

GAIN = 0.8  # FluidSynth's own default, 0.2, renders a solo piano some 26 dB below full scale: too quiet to hear


def find_renderer(soundfont: str | None = None) -> tuple[str, Path]:
    """The FluidSynth program and the soundfont it will use, or one line saying which is missing."""
    return find_fluidsynth(without="no WAV"), find_soundfont(soundfont, "--soundfont")


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
            raise FluidSynthError(f"FluidSynth could not render {midi_path}: {reason[-1] if reason else 'no output'}")
        os.replace(partial, target)
