"""`duetto generate --plot/--wav`: a real PNG and real audio, and a clear line when audio cannot be made."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
import zlib

import numpy as np

from duetto.midi.files import write_midi
from duetto.music.notes import Note
from duetto.offline.plots import line_chart, piano_roll, png_bytes

PROMPT = [Note(0.0, 0.4, 60, 80), Note(0.5, 0.9, 64, 80), Note(1.0, 1.4, 67, 80)]


def run_generate(tmp_path, *extra, env=None):
    prompt = tmp_path / "prompt.mid"
    write_midi(prompt, {"p": PROMPT})
    return subprocess.run([sys.executable, "-m", "duetto", "generate", "--prompt", str(prompt), "--seconds",
                           "4", "--seed", "3", "--out", str(tmp_path / "out.mid"), *extra],
                          capture_output=True, text=True, timeout=120, env=env)


def decode_png(data: bytes) -> np.ndarray:
    """Read back our own PNGs (8-bit RGB, filter 0 on every row) to check what was drawn."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8:start - 4], "big")
    rows = np.frombuffer(zlib.decompress(data[start:start + length]), dtype=np.uint8).reshape(height, -1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def test_piano_roll_draws_each_track_in_its_colour_at_its_place():
    image = decode_png(png_bytes(piano_roll({"a": [Note(1.0, 2.0, 60, 80)], "b": [Note(0.0, 0.5, 62, 80)]},
                                            pixels_per_second=10, pixels_per_pitch=2)))
    blue, red = (52, 101, 164), (204, 0, 0)
    assert image.shape == (2 * (64 - 58 + 1), 21, 3)  # pitches 58..64, 2 s at 10 px/s plus one column
    row_60, row_62 = (64 - 60) * 2, (64 - 62) * 2
    assert tuple(image[row_60, 15]) == blue and tuple(image[row_60, 5]) != blue
    assert tuple(image[row_62, 2]) == red and tuple(image[row_62, 15]) != red


def test_line_chart_falls_where_the_values_fall():
    image = decode_png(png_bytes(line_chart({"loss": [(0, 4.0), (10, 1.0)]}, width=100, height=50)))
    drawn = np.argwhere((image == (52, 101, 164)).all(axis=2))
    left, right = drawn[drawn[:, 1] < 5], drawn[drawn[:, 1] > 94]
    assert left[:, 0].mean() < 5 and right[:, 0].mean() > 44  # high on the left, low on the right


def test_generate_writes_a_piano_roll_and_a_wav(tmp_path):
    result = run_generate(tmp_path, "--plot", str(tmp_path / "roll.png"), "--wav", str(tmp_path / "out.wav"))
    assert result.returncode == 0, result.stderr
    image = decode_png((tmp_path / "roll.png").read_bytes())
    assert (image == (204, 0, 0)).all(axis=2).any(), "the continuation is not drawn"
    with wave.open(str(tmp_path / "out.wav")) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    assert seconds >= 1.4 + 4.0 - 0.5  # the prompt and the continuation (FluidSynth adds a release tail)
    assert np.abs(samples).max() > 200, "the WAV is silent"  # silence is 0 or 1; these notes peak near 1000


def test_missing_fluidsynth_is_one_clear_line_before_any_work(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no fluidsynth on this PATH
    result = run_generate(tmp_path, "--wav", str(tmp_path / "out.wav"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("duetto: error: FluidSynth is not installed")
    assert not (tmp_path / "out.wav").exists() and not (tmp_path / "out.mid").exists()
