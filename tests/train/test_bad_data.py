"""Files: bad training data is skipped and counted, bad checkpoints are refused, a crash mid-write leaves
the old file whole, and training killed with SIGKILL mid-run resumes to the very weights of a run never
interrupted. (Bad model files: tests/test_model_files.py.)"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mido
import pytest
import torch

from support.material import break_key_signature, write_tunes
from support.processes import wait_until

REPO = Path(__file__).resolve().parents[2]

from duetto.midi.files import write_midi
from duetto.music.notes import Note
from duetto.train.data.dataset import build_dataset
from duetto.train.loop import CheckpointError, load_checkpoint, save_checkpoint


def duetto(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "duetto", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


# --- training data ------------------------------------------------------------------------------------

def bad_folder(folder: Path) -> dict[str, str]:
    """Three good files and one of every kind of bad one; returns bad name -> a word of its reason (a MIDI
    file under the wrong extension, tune.txt, is no MIDI file to a build: it is counted with the READMEs)."""
    for index in range(3):
        write_midi(folder / f"good{index}.mid", {"t": [Note(0.5 * i, 0.5 * i + 0.4, 60 + i * (index + 1) % 12, 80)
                                                       for i in range(8)]})  # three tunes, not one in three keys
    whole = (folder / "good0.mid").read_bytes()
    (folder / "truncated.mid").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.mid").write_bytes(b"")
    zero = mido.MidiFile(type=0)
    zero.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80),
                                       mido.Message("note_off", note=60, time=0)]))
    zero.save(folder / "zero-length.mid")
    with open(folder / "huge.mid", "wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: costs no disk, and is never read past its size
    two = mido.MidiFile(type=2)
    two.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=64),
                                      mido.Message("note_off", note=60, time=480)]))
    two.save(folder / "format2.mid")
    (folder / "tune.txt").write_bytes(whole)  # a MIDI file under the wrong extension
    (folder / "photo.mid").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))  # a JPEG in disguise
    (folder / "gone.mid").symlink_to(folder / "nowhere.mid")  # unreadable: a dangling link
    return {"truncated.mid": "", "empty.mid": "empty", "zero-length.mid": "no notes", "huge.mid": "limit",
            "format2.mid": "format 2", "photo.mid": "not a MIDI file", "gone.mid": "cannot read"}


def data_build(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """`duetto data build` as a user runs it, with music21's parsed scores cached in `cache`."""
    return subprocess.run([sys.executable, "-m", "duetto", "data", "build", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, "DUETTO_CACHE": str(cache)})


def test_every_bad_training_file_is_skipped_with_a_reason_and_counted(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    bad = bad_folder(folder)
    for name in ("README.txt", "LICENSE.txt", "score.pdf"):
        (folder / name).write_text("not music\n")
    result = duetto("data", "build", str(folder), "--out", str(tmp_path / "data"), "--augment", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = lines.index(f"skipped {len(bad)} unreadable, empty or duplicate items:")
    listed = [line for line in lines[first + 1:first + 1 + len(bad)] if line.startswith("  ")]
    reasons = {line.strip().split(":", 1)[0]: line.split(":", 1)[1] for line in listed}
    assert set(reasons) == set(bad)
    for name, word in bad.items():
        assert word in reasons[name] and reasons[name].strip(), (name, reasons[name])
    # the files that are not MIDI files at all: one line, whatever their number
    assert "skipped 4 files that are not MIDI files (.txt 3, .pdf 1)" in lines
    assert not any("README" in line or "score.pdf" in line for line in lines)
    assert (tmp_path / "data" / "manifest.json").is_file()


def test_files_with_a_malformed_meta_event_are_built_from_and_the_events_counted(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_tunes(folder, count=5)
    for broken in ("tune01.mid", "tune03.mid"):
        break_key_signature(folder / broken)
    out = tmp_path / "data"
    result = duetto("data", "build", str(folder), "--out", str(out), "--augment", "0")
    assert result.returncode == 0, result.stderr
    assert "skipped nothing" in result.stdout.splitlines()
    assert (f"left out 2 malformed meta or SysEx events in 2 files read all the same (listed in "
            f"{out}/manifest.json)") in result.stdout.splitlines()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["malformed_events"] == {"tune01.mid": 1, "tune03.mid": 1}
    assert sum(counts["pieces"] for counts in manifest["splits"].values()) == 5


@pytest.mark.parametrize("option, message", [
    (["--augment", "-1"], "--augment must be a whole number of copies, 0 or more, not -1"),
    (["--seed", "-5"], "--seed must be a whole number, 0 or more, not -5"),
    (["--limit", "0"], "--limit must be a whole number of pieces, 1 or more, not 0"),
    (["--style", "Jazz"], "--style 'Jazz': a style is lowercase letters"),
    (["--out", "{tmp}/a-file"], "--out {tmp}/a-file is a file: expected a folder"),
    (["{tmp}/missing"], "source {tmp}/missing does not exist: expected a folder of MIDI files"),
    (["music21:bachh"], "unknown source 'music21:bachh': music21 has no such collection"),
])
def test_a_bad_build_option_is_refused_in_one_line_before_any_work(tmp_path, option, message):
    (tmp_path / "a-file").write_text("in the way\n")
    arguments = ["--out", str(tmp_path / "data"), *(word.format(tmp=tmp_path) for word in option), "music21:bach"]
    result = data_build(*arguments, cache=tmp_path / "cache")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"duetto: error: {message.format(tmp=tmp_path)}"), line
    assert not (tmp_path / "cache").exists(), "music21's corpus was parsed before the options were checked"
    assert not (tmp_path / "data").exists()


def test_a_folder_too_small_to_split_builds_with_a_warning(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_tunes(folder, count=2)
    result = data_build(str(folder), "--out", str(tmp_path / "data"), "--style", "jazz", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("duetto: warning:")]
    assert "valid and test are empty: every split needs at least 1 piece" in warning
    assert "at least 3 pieces" in warning and "(found 2 pieces)" in warning
    table = [line.split() for line in result.stdout.splitlines()]
    assert ["style", "split", "pieces", "notes", "hours", "sequences", "tokens", "melody", "bass", "inner",
            "other"] in table
    assert [row[:3] for row in table if row and row[0] in ("jazz", "all")] == [
        ["jazz", "train", "2"], ["jazz", "valid", "0"], ["jazz", "test", "0"],
        ["all", "train", "2"], ["all", "valid", "0"], ["all", "test", "0"]]
    assert (tmp_path / "data" / "manifest.json").is_file()


def test_the_help_of_data_build_says_what_every_option_does_its_default_and_choices():
    from duetto.train.data.music21_corpus import COLLECTIONS
    from duetto.train.data.pieces import STYLES

    result = duetto("data", "build", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    options = re.split(r" (?=--[a-z]+ [A-Z]+ )", text.split(" options: ", 1)[1])
    helps = {option.split()[0]: option for option in options if option.startswith("--")}
    assert set(helps) == {"--out", "--augment", "--seed", "--style", "--limit"}
    for name in ("--augment", "--seed", "--style", "--limit"):
        assert "(default: " in helps[name], helps[name]
    assert "0 or more" in helps["--augment"] and "1 or more" in helps["--limit"]
    assert all(style in helps["--style"] for style in STYLES)
    assert "music21:all" in text and all(name in text for name in COLLECTIONS)
    assert ".mid" in text and ".kar" in text


# --- checkpoints --------------------------------------------------------------------------------------

class Payload:
    """Unpickling this would create a file: proof that a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_holding_a_pickled_object_is_refused_and_never_run(tmp_path):
    marker, evil = tmp_path / "code-ran", tmp_path / "evil.pt"
    torch.save({"model": {"weight": torch.zeros(2)}, "extra": Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="holds Python objects"):
        load_checkpoint(evil)
    result = duetto("export", str(evil), "--out", str(tmp_path / "x.onnx"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"duetto: error: {evil}: refused: it holds Python objects, "
                                                  "which Duetto never unpickles"]
    assert not marker.exists(), "loading the checkpoint ran its code"
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("damage", ["truncated", "text", "missing"])
def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, damage):
    path = tmp_path / "best.pt"
    save_checkpoint(path, {"model": {"weight": torch.arange(1000.0)}})
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:700])
    elif damage == "text":
        path.write_text("not a checkpoint")
    else:
        path.unlink()
    result = duetto("export", str(path), "--out", str(tmp_path / "x.onnx"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in result.stderr, result.stderr


# --- atomic writes ------------------------------------------------------------------------------------

DIE_MID_WRITE = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    real_fdopen = os.fdopen

    class DyingFile:
        '''The temporary file of write_atomically, on a machine that dies halfway through a write.'''
        def __init__(self, handle):
            self.handle = handle
        def write(self, data):
            self.handle.write(data[: max(1, len(data) // 2)])
            self.handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name):
            return getattr(self.handle, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    os.fdopen = lambda fd, mode: DyingFile(real_fdopen(fd, mode))
    target = {target!r}
""")

WRITERS = {
    "recording (MIDI)": "from duetto.music.notes import Note; from duetto.midi.files import write_midi\n"
                        "write_midi(target, {'Duetto': [Note(0.0, 1.0, 62, 90)] * 50})",
    "checkpoint": "import torch; from duetto.train.loop import save_checkpoint\n"
                  "save_checkpoint(target, {'model': {'w': torch.ones(5000)}})",
    "dataset shard": "import numpy as np; from duetto.train.data.dataset import _write_npz\n"
                     "_write_npz(target, tokens=np.ones(5000, dtype=np.int16), offsets=np.arange(3))",
    "metrics": "from duetto.train.loop import write_metrics_csv\n"
               "write_metrics_csv(target, [dict(step=i, epoch=i, train_loss=1.0, valid_nll=2.0, seconds=3.0) "
               "for i in range(500)])",
    "model (ONNX bytes, as export writes them)": "from duetto.atomic import write_atomically\n"
                                                 "write_atomically(target, lambda handle: handle.write(b'x' * 100000))",
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_process_killed_mid_write_leaves_the_old_file_whole(tmp_path, kind):
    target = tmp_path / "file"
    target.write_bytes(b"the good old file\n" * 100)
    script = DIE_MID_WRITE.format(repo=str(REPO), target=str(target)) + WRITERS[kind]
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert target.read_bytes() == b"the good old file\n" * 100
    leftovers = [path for path in tmp_path.iterdir() if path.name.startswith(".file.")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0, "the kill did not land mid-write"


# --- training killed mid-run --------------------------------------------------------------------------

TRAIN_ARGS = ["--epochs", "12", "--steps-per-epoch", "8", "--batch-size", "4", "--seq-len", "32", "--seed", "3",
              "--threads", "1", "--model-config", '{"embed_dim": 16, "hidden_size": 32, "num_layers": 2, '
              '"dropout": 0.1}']
TOTAL_STEPS = 12 * 8


def train_command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "duetto", "train", "--data", str(data), "--out", str(out), *TRAIN_ARGS, *extra]


def test_training_killed_mid_run_resumes_to_the_same_weights(tmp_path):
    folder, data = tmp_path / "midi", tmp_path / "data"
    folder.mkdir()
    write_tunes(folder)
    build_dataset([str(folder)], data, augment_copies=2, seed=0)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(train_command(data, whole), check=True, capture_output=True, timeout=300, cwd=REPO)

    run = subprocess.Popen(train_command(data, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=REPO)
    assert wait_until(lambda: (killed / "last.pt").exists() or run.poll() is not None, 120)
    time.sleep(random.Random().uniform(0.0, 0.3))  # somewhere in a later epoch, or mid-checkpoint
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_at = load_checkpoint(killed / "last.pt")["step"]
    assert run.returncode == -signal.SIGKILL and killed_at < TOTAL_STEPS, "the run finished before the kill"

    resumed = subprocess.run(train_command(data, killed, "--resume"), capture_output=True, text=True,
                             timeout=300, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed / 'last.pt'} at step {killed_at}" in resumed.stderr
    first, second = load_checkpoint(whole / "last.pt"), load_checkpoint(killed / "last.pt")
    assert first["step"] == second["step"] == TOTAL_STEPS
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name
    assert [row["train_loss"] for row in first["history"]] == [row["train_loss"] for row in second["history"]]
