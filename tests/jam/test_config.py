"""The config file and `duetto learn`: strict keys, presets and precedence, and a knob learnt over JACK that
then steers a running `duetto jam`."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from duetto.cli import build_parser, config_for
from duetto.jam.options import jam_option_types
from duetto.jam.config import Config, ConfigError, format_config, read_config, write_config
from duetto.tools.duet_rig import Recorder
from support.cli import refusal
from support.processes import JamProcess, wait_until

GOOD = """
[jam]
temperature = 0.8
quantize = 1
key = "A:minor"
scale_lock = true

[cc]
temperature = 21
reroll = 64

[presets.mellow]
temperature = 0.6
density = 0.7
"""


def duetto(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "duetto", *args], capture_output=True, text=True, timeout=timeout)


def test_a_written_config_reads_back_the_same(tmp_path):
    config = Config(jam={"temperature": 0.8, "key": 'F#:"odd"', "passthrough": True, "grid": 3},
                    cc={"density": 7, "undo": 65}, presets={"two words": {"bpm": 96.5}})
    write_config(tmp_path / "duetto.toml", config)
    assert read_config(tmp_path / "duetto.toml", jam_option_types()) == config
    assert "[presets.\"two words\"]" in format_config(config)


def test_preset_over_jam_table_under_the_command_line(tmp_path):
    path = tmp_path / "duetto.toml"
    path.write_text(GOOD)
    config, preset = config_for(["--config", str(path), "--preset", "mellow"])
    args = build_parser(config.options(preset)).parse_args(["jam", "--density", "1.5"])
    assert (args.temperature, args.density, args.quantize, args.key, args.scale_lock) == (0.6, 1.5, 1, "A:minor", True)
    assert config.cc_map() == {21: "temperature", 64: "reroll"}


@pytest.mark.parametrize("text, message", [
    ("[jamm]\n", "unknown key 'jamm' (tables: jam, cc, presets)"),
    ("[jam]\ntemprature = 1.0\n", "unknown key 'temprature' in [jam]"),
    ("[jam]\ntemperature = \"hot\"\n", "temperature in [jam] must be float, not 'hot'"),
    ("[jam]\nscale_lock = 1\n", "scale_lock in [jam] must be bool, not 1"),
    ("[cc]\nwildness = 3\n", "[cc] unknown control 'wildness'"),
    ("[cc]\ntemperature = 200\n", "[cc] temperature must be a CC number from 0 to 127, not 200"),
    ("[cc]\ntemperature = 3\ndensity = 3\n", "[cc] CC 3 is mapped twice (temperature, density)"),
    ("[presets.x]\nbogus = 1\n", "unknown key 'bogus' in [presets.x]"),
    ("[jam\n", "not valid TOML"),
])
def test_a_bad_config_is_one_line_naming_the_key_and_nonzero(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_config(path, jam_option_types())
    assert message in str(raised.value)
    assert refusal(capsys, "jam", "--config", str(path)) == f"duetto: error: {raised.value}"


def test_an_unknown_preset_or_a_preset_without_config_is_refused(tmp_path, capsys):
    path = tmp_path / "duetto.toml"
    path.write_text(GOOD)
    assert refusal(capsys, "jam", "--config", str(path), "--preset", "loud") == \
        "duetto: error: no preset 'loud' in the config (presets: mellow)"
    assert refusal(capsys, "jam", "--preset", "mellow") == "duetto: error: --preset needs --config FILE"


def test_learning_an_unknown_control_is_refused(capsys):
    assert refusal(capsys, "learn", "wildness").startswith(
        "duetto: error: unknown control 'wildness' (controls: temperature")


def test_learn_maps_the_knob_moved_and_jam_then_follows_it(jack, tmp_path):
    path = tmp_path / "duetto.toml"
    path.write_text(GOOD)
    learn = JamProcess("passthrough", "--config", str(path), command="learn")
    try:
        learn.wait_for_ports(jack)
        knob = jack.open_output(learn.in_port)
        time.sleep(0.2)
        knob.send([0xB0, 123, 0])  # All Notes Off, which controllers send by themselves: not a knob
        knob.send([0xB3, 21, 90])  # CC 21, until now temperature's
        assert wait_until(lambda: learn.process.poll() is not None, 20), "learn did not hear the knob"
        knob.close()
    finally:
        code = learn.stop()
    assert code == 0, learn.errors
    assert "passthrough is now CC 21 (it was mapped to temperature)" in learn.out
    config = read_config(path, jam_option_types())
    assert config.cc == {"reroll": 64, "passthrough": 21}
    assert config.jam["temperature"] == 0.8  # the rest of the file is kept

    # the learnt knob turns pass-through on in a running jam
    jam = JamProcess("--config", str(path), "--phrase-gap", "5000")
    try:
        jam.wait_for_ports(jack)
        heard = Recorder()
        listener = jack.open_input(jam.out_port, heard)
        keyboard = jack.open_output(jam.in_port)
        time.sleep(0.3)
        # keys stay down until the end: a key-up would end the phrase, and the engine reads controls only
        # after composing the answer, which a loaded machine may take longer over than this test waits
        keyboard.send([0x90, 60, 80])
        time.sleep(0.3)
        before = heard.count(0x90, 60)
        keyboard.send([0xB0, 21, 127])
        time.sleep(0.2)
        keyboard.send([0x90, 62, 80])
        assert wait_until(lambda: heard.count(0x90, 62) == 1, 2), "the learnt CC did not turn pass-through on"
        keyboard.send([0x80, 60, 0])
        keyboard.send([0x80, 62, 0])
        code = jam.stop()
        listener.close()
        keyboard.close()
    finally:
        jam.stop()
    assert before == 0, "pass-through was on before the knob moved"
    assert code == 0, jam.errors


def test_learn_gives_up_in_one_line_when_nothing_moves(jack, tmp_path):
    result = duetto("learn", "density", "--config", str(tmp_path / "duetto.toml"), "--backend", "jack",
                    "--timeout", "0.5")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        "duetto: error: no control change arrived in 0.5 s; nothing was mapped"
    assert not (tmp_path / "duetto.toml").exists()
