"""`duetto demo` leaves something to hear and to see: the duet as MIDI, as audio rendered by the real
FluidSynth, and as a piano roll drawn by the real matplotlib; without either, the MIDI still, and one
line for each saying how to get it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import wave

import numpy as np
import pytest
from PIL import Image

from duetto.jam.settings import JamSettings
from duetto.models import DEFAULT_MODEL
from duetto.tools.demo import duet_figure, play_duet

pytestmark = pytest.mark.slow  # each test plays the whole demo


def demo(tmp_path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "duetto", "demo", "--backend", "loopback", "--rounds", "1",
                           "--seed", "2", "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "demo.mid")],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_demo_writes_the_duet_as_midi_audio_and_a_picture_and_names_each(tmp_path):
    result = demo(tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("demo.mid", "demo.wav", "demo.png"):
        assert f"wrote {tmp_path / name}: " in result.stdout
    with wave.open(str(tmp_path / "demo.wav")) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16).astype(float)
    assert seconds > 3.0  # the 3 s call and its answer
    assert np.sqrt(np.mean(samples ** 2)) > 100, "the WAV is silent or too quiet to hear"
    with Image.open(tmp_path / "demo.png") as picture:
        assert picture.format == "PNG"
        assert picture.text["Title"] == "duetto demo: the player's calls and Duetto's answers"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["demo.mid", "demo.png", "demo.wav"]


def test_without_fluidsynth_or_matplotlib_the_demo_still_writes_the_midi_and_says_what_to_install(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["matplotlib"] = None  # `import matplotlib` now fails, as without the plot extra
        import duetto.cli
        sys.exit(duetto.cli.main(["demo", "--backend", "loopback", "--rounds", "1", "--seed", "2",
                                  "--out", {str(tmp_path / "demo.mid")!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PATH=str(tmp_path)))  # no fluidsynth on this PATH
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'demo.mid'}: " in result.stdout
    missing = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("no ")]
    assert missing == [
        f"no {tmp_path / 'demo.wav'}: FluidSynth is not installed, so no WAV (Debian/Ubuntu: sudo apt install "
        "fluidsynth fluid-soundfont-gm; macOS: brew install fluidsynth)",
        f"no {tmp_path / 'demo.png'}: drawing pictures needs matplotlib: pip install 'duetto[plot]'"]
    assert [item.name for item in tmp_path.iterdir()] == ["demo.mid"]


def test_the_demo_picture_shows_who_played_and_where_each_call_and_answer_begins(shipped_model, fast_switching):
    duet = play_duet(shipped_model, JamSettings(seed=2), "loopback", rounds=2)
    axes = duet_figure(duet).axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["Player", "Duetto"]
    labels = [text.get_text() for text in axes.texts]
    assert labels == ["call 1", "answer 1", "call 2", "answer 2"]  # in the order they happened
    starts = [line.get_xdata()[0] for line in axes.get_lines() if line.get_gid() == "mark"]
    assert starts == sorted(starts) and starts[0] < 0.05
    player, duetto = axes.collections
    assert len(player.get_paths()) == len(duet.parts["Player"]) > 0
    assert len(duetto.get_paths()) == len(duet.parts["Duetto"]) > 0
    assert min(note.start for note in duet.parts["Duetto"]) == starts[1]  # "answer 1" is where Duetto begins
