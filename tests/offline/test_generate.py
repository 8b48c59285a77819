"""`duetto generate` on prompts as users bring them: long ones, drums, tempo maps, programs, bad options."""

from __future__ import annotations

import re
import subprocess
import sys
import wave

import mido
import pytest
from PIL import Image

from duetto.jam.band import DEFAULT_PARTS, make_band
from duetto.midi.files import read_score, write_midi
from duetto.models import DEFAULT_MODEL
from duetto.music.notes import Note
from support.cli import refusal
from support.material import break_key_signature


def generate(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "duetto", "generate", "--model", str(DEFAULT_MODEL), "--seed", "3",
                           *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def line(seconds: float, start: float = 0.0) -> list[Note]:
    """A single-line tune: eighth notes at 120 BPM, up and down a scale."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    return [Note(start + 0.25 * i, start + 0.25 * i + 0.22, scale[i % len(scale)], 80) for i in range(int(seconds * 4))]


def continuation_seconds(summary: str) -> float:
    return float(re.search(r"continuation \d+ notes \(([\d.]+) s\)", summary).group(1))


@pytest.mark.slow  # 30 s of music composed
def test_a_long_prompt_is_continued_as_long_as_asked_and_the_summary_says_what_was_written(tmp_path):
    write_midi(tmp_path / "tune.mid", {"tune": line(27.0)})
    result = generate("--prompt", str(tmp_path / "tune.mid"), "--seconds", "30", "--out", str(tmp_path / "out.mid"))
    assert result.returncode == 0, result.stderr
    written = continuation_seconds(result.stdout)
    assert written >= 24.0, result.stdout  # the old cap on the transformer's cache left 2.7 s of 30
    continuation = read_score(tmp_path / "out.mid").notes
    duetto = [note for note in continuation if note.start >= 27.0 - 0.01]
    assert max(note.end for note in duetto) - 27.0 == pytest.approx(written, abs=0.1)


def test_a_band_accompanies_the_melody_of_a_file_on_its_beat_each_part_in_its_track_register_and_program(tmp_path):
    write_midi(tmp_path / "tune.mid", {"tune": line(12.0)})  # 24 beats at 120 BPM
    result = generate("--prompt", str(tmp_path / "tune.mid"), "--band", "--out", str(tmp_path / "band.mid"),
                      "--plot", str(tmp_path / "band.png"))
    assert result.returncode == 0, result.stderr
    assert "the melody (48 notes) and its band (bass" in result.stdout
    midi = mido.MidiFile(tmp_path / "band.mid")
    names = [track.name for track in midi.tracks[1:]]
    assert names == ["Melody", "Bass", "Chords", "Line"]
    band = make_band(DEFAULT_PARTS, None, None, 0, None)
    written = read_score(tmp_path / "band.mid")
    assert written.programs[0] == 0 and all(written.programs.get(part.channel) == part.program - 1
                                            for part in band.parts if any(n.channel == part.channel for n in written.notes))
    played = [note for note in written.notes if note.channel != 0]
    assert len(played) >= 8
    for part in band.parts:
        low, high = part.register
        assert all(low <= note.pitch <= high for note in played if note.channel == part.channel)
    assert min(note.start for note in played) >= 2.0 - 0.01, "the band comes in after a bar of the melody"
    on_sixteenths = [abs(note.start / 0.125 - round(note.start / 0.125)) < 0.02 for note in played]
    assert all(on_sixteenths), "the band's notes lie on the file's grid"
    assert Image.open(tmp_path / "band.png").size[0] > 400
    events = generate("--prompt", str(tmp_path / "tune.mid"), "--band", "--out", str(tmp_path / "no.mid"),
                      "--model", str(DEFAULT_MODEL.parent / "families" / "transformer.onnx"))
    assert events.returncode != 0 and events.stderr.strip().splitlines()[-1].startswith(
        "duetto: error: --band needs a model that plays parts (a metrical one): transformer.onnx is a ")


def test_a_prompt_with_a_malformed_key_signature_is_continued_and_the_skip_said_in_one_line(tmp_path):
    write_midi(tmp_path / "soundtrack.mid", {"tune": line(4.0)})
    break_key_signature(tmp_path / "soundtrack.mid")
    result = generate("--prompt", str(tmp_path / "soundtrack.mid"), "--seconds", "2",
                      "--out", str(tmp_path / "out.mid"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    [said] = [text for text in result.stderr.splitlines() if "malformed" in text]
    assert said.endswith("soundtrack.mid: 1 malformed event skipped (meta or SysEx events out of range); "
                         "the rest is read"), said
    assert "prompt 16 notes" in result.stdout


@pytest.mark.slow
def test_an_hour_long_prompt_is_heard_by_its_tail_and_shown_by_its_end(tmp_path):
    write_midi(tmp_path / "long.mid", {"tune": line(20 * 60.0)})
    out, roll, audio = tmp_path / "out.mid", tmp_path / "roll.png", tmp_path / "out.wav"
    result = generate("--prompt", str(tmp_path / "long.mid"), "--seconds", "8", "--out", str(out),
                      "--plot", str(roll), "--wav", str(audio), "--show-seconds", "10")
    assert result.returncode == 0, result.stderr
    heard = float(re.search(r"its last ([\d.]+) s heard", result.stdout).group(1))
    assert 5 < heard < 120
    assert len(read_score(out).notes) > 20 * 60 * 4  # the file keeps the whole prompt
    with Image.open(roll) as picture:  # 10 s of prompt and 8 s of answer, not 20 minutes, and it says so
        assert picture.text["Title"] == "long.mid: the last 10 s of the 1200 s prompt and Duetto's continuation"
    with wave.open(str(audio)) as wav:
        assert wav.getnframes() / wav.getframerate() < 40


def drum_track(seconds: float) -> list[Note]:
    return [Note(0.5 * i, 0.5 * i + 0.1, 36 if i % 2 == 0 else 38, 100, channel=9) for i in range(int(seconds * 2))]


def test_a_drum_part_is_kept_in_the_prompt_track_but_never_continued(tmp_path):
    write_midi(tmp_path / "band.mid", {"tune": line(6.0), "drums": drum_track(6.0)})
    result = generate("--prompt", str(tmp_path / "band.mid"), "--seconds", "4", "--out", str(tmp_path / "out.mid"))
    assert result.returncode == 0, result.stderr
    assert "12 drum notes kept but not heard" in result.stdout
    assert len(read_score(tmp_path / "out.mid").drums) == 12  # the prompt's drums, and none of Duetto's
    write_midi(tmp_path / "drums.mid", {"drums": drum_track(6.0)})
    only = generate("--prompt", str(tmp_path / "drums.mid"), "--out", str(tmp_path / "none.mid"))
    assert only.returncode == 1 and "only drums (12 notes on channel 10" in only.stderr
    assert not (tmp_path / "none.mid").exists()


def test_the_prompts_tempo_map_channels_and_programs_are_kept(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0),
                                mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150), time=480 * 8)])
    part = mido.MidiTrack([mido.Message("program_change", channel=2, program=33, time=0)])
    for index in range(24):
        part.append(mido.Message("note_on", channel=2, note=48 + index % 12, velocity=90, time=0 if index == 0 else 240))
        part.append(mido.Message("note_off", channel=2, note=48 + index % 12, velocity=0, time=240))
    midi.tracks += [conductor, part]
    midi.save(str(tmp_path / "bass.mid"))
    result = generate("--prompt", str(tmp_path / "bass.mid"), "--seconds", "3", "--out", str(tmp_path / "out.mid"))
    assert result.returncode == 0, result.stderr
    original, written = read_score(tmp_path / "bass.mid"), read_score(tmp_path / "out.mid")
    assert [round(bpm) for _, bpm in written.tempos] == [90, 150]
    assert written.tempos[1][0] == pytest.approx(original.tempos[1][0], abs=0.01)
    assert written.programs[2] == 33
    prompt = [note for note in written.notes if note.channel == 2]
    assert [(round(n.start, 2), n.pitch) for n in prompt] == [(round(n.start, 2), n.pitch) for n in original.notes]


@pytest.mark.parametrize("options, message", [
    (["--seconds", "0"], "--seconds 0: use a value from 0.1 to 3600"),
    (["--seconds", "-3"], "--seconds -3: use a value from 0.1 to 3600"),
    (["--max-polyphony", "0"], "--max-polyphony 0: use a value from 1 to 32"),
    (["--plot", "roll.jpg"], "--plot roll.jpg: name it .png or .svg or .pdf"),
    (["--plot", "/proc/nowhere/roll.png"], "--plot /proc/nowhere/roll.png: cannot write in /proc"),
    (["--out", "out.txt"], "--out out.txt: name it .mid or .midi"),
    (["--prompt", "missing.mid"], "--prompt missing.mid: no such file"),
])
def test_bad_options_are_refused_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, options, message):
    write_midi(tmp_path / "tune.mid", {"tune": line(2.0)})
    monkeypatch.chdir(tmp_path)
    given = {"--prompt": "tune.mid", "--out": "out.mid", **dict(zip(options[::2], options[1::2]))}
    # a model that is not there: were it loaded first, the error would be about it
    assert refusal(capsys, "generate", "--model", "missing.onnx", *[item for pair in given.items() for item in pair]) \
        == f"duetto: error: {message}"
    assert not (tmp_path / "out.mid").exists() and not (tmp_path / "out.txt").exists()
