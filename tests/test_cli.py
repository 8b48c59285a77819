"""The command line as a user meets it: clear one-line errors, and a runtime that needs no torch."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from duetto import cli
from duetto.models import DEFAULT_MODEL
from support.cli import refusal

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, **env})


BLOCK_TORCH = """
    import sys
    sys.modules["torch"] = None  # any `import torch` now raises ImportError, as on a runtime-only install
"""


@pytest.mark.slow
def test_runtime_imports_and_plays_without_torch(tmp_path):
    out = tmp_path / "demo.mid"
    result = run_python(BLOCK_TORCH + f"""
    import duetto.cli, duetto.jam.engine, duetto.model.step_model, duetto.voices.event_context, duetto.jam.scheduler, duetto.midi.ports.rtmidi
    code = duetto.cli.main(["demo", "--backend", "loopback", "--rounds", "1", "--seed", "2",
                          "--model", {str(DEFAULT_MODEL)!r}, "--out", {str(out)!r}])
    assert "torch" not in sys.modules or sys.modules["torch"] is None
    sys.exit(code)
    """)
    assert result.returncode == 0, result.stderr
    assert "on loopback ports: 1 phrases played, 1 answers" in result.stdout
    assert out.is_file()


def test_training_commands_without_torch_say_what_to_install():
    result = run_python(BLOCK_TORCH + """
    import duetto.cli
    sys.exit(duetto.cli.main(["train", "--data", "x", "--out", "y"]))
    """)
    assert result.returncode == 1
    assert result.stderr.strip() == ("duetto: error: `duetto train` needs the training extra (torch is "
                                     "missing): pip install 'duetto[train]'")


def test_no_midi_system_is_one_line_and_nonzero(capsys, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "duetto-no-such-server")
    assert refusal(capsys, "ports", "--backend", "jack") == (
        "duetto: error: no usable MIDI system: no JACK server is running (start one, e.g. `jackd -d dummy`, "
        "or use PipeWire's JACK)")


def test_unknown_backend_is_refused(capsys):
    assert "unknown MIDI backend 'midiman'" in refusal(capsys, "ports", "--backend", "midiman")


def test_a_bug_is_not_dressed_as_a_users_error(monkeypatch):
    """Only a DuettoError is the user's to fix; anything else (here a ValueError from deep inside) keeps
    its traceback."""
    def broken(args):
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "run_ports", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["ports", "--backend", "loopback"])


def test_styles_lists_what_the_model_knows(capsys):
    assert cli.main(["styles"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == ("styles: auto, chorale, folk, renaissance, classical, user, swing, blues, bossa, "
                                   "latin, rock, ballad, waltz, country, funk, march")
    assert "textures: auto, free, line, voices, chords" in out


@pytest.mark.slow  # a dataset built by a process of its own
def test_data_build_reports_skipped_files(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    from duetto.midi.files import write_midi
    from duetto.music.notes import Note

    write_midi(folder / "good.mid", {"t": [Note(0.0, 0.5, 60, 80), Note(0.5, 1.0, 62, 80)]})
    (folder / "empty.mid").write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "duetto", "data", "build", str(folder), "--out",
                             str(tmp_path / "data"), "--augment", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "skipped 1 unreadable, empty or duplicate item:" in result.stdout
    assert "empty.mid" in result.stdout


def every_option(parser: argparse.ArgumentParser, command: tuple[str, ...] = ()):
    """(command words, option) for every option of a parser and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_option(sub, command + (name,))
        elif action.dest != "help":
            yield command, action


def test_every_option_says_what_it_does():
    from duetto.cli import build_parser
    from duetto.families import FAMILIES
    from duetto.train.cli import export_parser, train_parser

    parsers = [build_parser(), train_parser(), export_parser()]
    silent = [(" ".join(command), action.option_strings or action.dest)
              for parser in parsers for command, action in every_option(parser) if not action.help]
    assert silent == []
    families = dict((action.dest, action) for _, action in every_option(train_parser()))["family"]
    assert set(families.choices) == set(FAMILIES)


def test_jam_refuses_a_bad_option_in_one_line_before_it_loads_the_model(capsys):
    for options, message in ((["--quantize", "2"], "--quantize 2: use a value from 0 to 1"),
                             (["--max-polyphony", "0"], "--max-polyphony 0: use a value from 1 to 32"),
                             (["--key", "H:major"], "key 'H:major'")):
        # a model that is not there: were it loaded first, the error would be about it
        assert message in refusal(capsys, "jam", "--backend", "loopback", "--model", "missing.onnx", *options)


def test_jam_connecting_to_a_port_that_is_not_there_says_so_in_one_line(jack, capsys):
    line = refusal(capsys, "jam", "--backend", "jack", "--in", "no such keyboard")
    assert "MIDI input 'no such keyboard' matches none" in line
