"""`duetto generate --plot/--wav`: a real picture and real audio, and a clear line when either cannot be made."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import wave

import numpy as np
import pytest
from PIL import Image

from duetto.midi.files import write_midi
from duetto.music.notes import Note

PROMPT = [Note(0.0, 0.4, 60, 80), Note(0.5, 0.9, 64, 80), Note(1.0, 1.4, 67, 80)]


def run_generate(tmp_path, *extra, env=None):
    prompt = tmp_path / "prompt.mid"
    write_midi(prompt, {"p": PROMPT})
    return subprocess.run([sys.executable, "-m", "duetto", "generate", "--prompt", str(prompt), "--seconds",
                           "4", "--seed", "3", "--out", str(tmp_path / "out.mid"), *extra],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow  # renders with FluidSynth, which only make test installs
def test_generate_writes_a_piano_roll_and_a_wav(tmp_path):
    result = run_generate(tmp_path, "--plot", str(tmp_path / "roll.png"), "--wav", str(tmp_path / "out.wav"))
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "roll.png") as image:
        assert image.format == "PNG"
        assert image.text["Title"] == "prompt.mid: the prompt and Duetto's continuation"
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    duetto_orange = np.array([0xe8, 0x59, 0x0c])
    assert (np.abs(pixels - duetto_orange).sum(axis=1) < 30).sum() > 200, "the continuation is not drawn"
    with wave.open(str(tmp_path / "out.wav")) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    assert seconds >= 1.4 + 4.0 - 0.5  # the prompt and the continuation (FluidSynth adds a release tail)
    # silence is 0 or 1; at FluidSynth's own gain these notes peaked near 1000 (-30 dBFS), too quiet to hear
    assert np.abs(samples).max() > 3000, "the WAV is silent or too quiet"


@pytest.mark.parametrize("suffix, signature", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_writes_the_format_its_name_asks_for(tmp_path, suffix, signature):
    result = run_generate(tmp_path, "--plot", str(tmp_path / f"roll{suffix}"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"roll{suffix}").read_bytes().startswith(signature)


def test_without_matplotlib_plot_says_what_to_install_in_one_line_before_any_work(tmp_path):
    prompt = tmp_path / "prompt.mid"
    write_midi(prompt, {"p": PROMPT})
    code = textwrap.dedent(f"""
        import sys
        sys.modules["matplotlib"] = None  # `import matplotlib` now fails, as without the plot extra
        import duetto.cli
        sys.exit(duetto.cli.main(["generate", "--prompt", {str(prompt)!r}, "--out", {str(tmp_path / "out.mid")!r},
                                  "--plot", {str(tmp_path / "roll.png")!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "duetto: error: drawing pictures needs matplotlib: pip install 'duetto[plot]'"]
    assert not (tmp_path / "out.mid").exists()


def test_missing_fluidsynth_is_one_clear_line_before_any_work(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no fluidsynth on this PATH
    result = run_generate(tmp_path, "--wav", str(tmp_path / "out.wav"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("duetto: error: FluidSynth is not installed")
    assert not (tmp_path / "out.wav").exists() and not (tmp_path / "out.mid").exists()
