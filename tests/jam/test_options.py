"""The live options, checked once each: in range or one line naming the option, and the settings made of
them; what the model settles (its styles, its sampling)."""

from __future__ import annotations

import argparse

import pytest

from duetto.cli import build_parser
from duetto.errors import UsageError, usage
from duetto.jam.controls import CONTROLS, PhraseEnd, set_control, stepped
from duetto.jam.options import bot_channel, check_style, fit_to_model, jam_option_types, live_settings
from duetto.model.step_model import StepModel
from duetto.models import DEFAULT_MODEL
from duetto.music.key import parse_key

FAMILIES = DEFAULT_MODEL.parent / "families"


def jam_args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["jam", *options])


@pytest.mark.parametrize("options, message", [
    (["--quantize", "2"], "--quantize 2: use a value from 0 to 1"),
    (["--max-polyphony", "0"], "--max-polyphony 0: use a value from 1 to 32"),
    (["--lowest", "90", "--highest", "80"], "--lowest 90 / --highest 80: need 0 <= lowest <= highest <= 127"),
    (["--key", "H:major"], "key 'H:major': the tonic must be a note name like C, F#, Bb"),
    (["--phrase-end", "knee"], "--phrase-end 'knee': use silence, pedal, cc:N or key:N"),
    (["--panic-keys", "21"], "--panic-keys '21': give two or more MIDI note numbers, like 21,108"),
    (["--channel", "17"], "--channel 17: use a value from 1 to 16"),
    (["--split", "C4"], "--split steers a band: use it with --mode band"),
    (["--mode", "band", "--split", "H2"], "--split 'H2': give a note like C4 (middle C), F#3, Bb2, or a MIDI number"),
    (["--band", "bass,drums"], "--band 'bass,drums': name each part once, from bass, chords, line"),
    (["--band", "bass,bass"], "--band 'bass,bass': name each part once"),
    (["--band-channels", "2,2,3"], "--band-channels 2,2,3: one channel each, and not the drums' (10)"),
    (["--band-channels", "2,10,3"], "--band-channels 2,10,3: one channel each, and not the drums' (10)"),
    (["--band-channels", "2,3"], "--band names 3 parts: give as many channels and programs"),
    (["--band-programs", "1,200,3"], "--band-programs '1,200,3': give numbers from 1 to 128"),
])
def test_an_option_out_of_range_is_a_usage_error_naming_it(options, message):
    with pytest.raises(UsageError) as refused:
        live_settings(jam_args(*options))
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("name", [name for name, control in CONTROLS.items() if control.type in (int, float)])
def test_an_option_a_control_moves_has_the_controls_range_and_a_key_press_keeps_its_value(name):
    """One range per control: the command line takes each end of it, a key press away from an end and back
    lands on it again (`--density 10` is not clamped by the view), and a step beyond either end is refused."""
    control, option = CONTROLS[name], f"--{name.replace('_', '-')}"
    register = ("--lowest", "0", "--highest", "127")  # room for --lowest and --highest at either end
    for end, away in ((control.highest, -1), (control.lowest, 1)):
        settings = live_settings(jam_args(*register, option, f"{end:g}"))
        set_control(settings, name, end)  # as the option sets it (the sampling's are the model's to set)
        set_control(settings, name, stepped(settings, name, away))
        assert stepped(settings, name, -away) == pytest.approx(end)
        beyond = end * control.step ** -away if control.ratio else end - away * control.step
        with pytest.raises(UsageError, match=f"^{option} .*: use a value from {control.lowest:g} to "):
            live_settings(jam_args(*register, option, f"{beyond:g}"))


def test_the_settings_are_made_of_the_options():
    settings = live_settings(jam_args("--phrase-gap", "250", "--key", "A:minor", "--phrase-end", "cc:64",
                                      "--panic-keys", "21,108", "--in-channel", "3", "--density", "2"),
                             synth=True, mode="duet", cc_map={7: "temperature"})
    assert settings.phrase_gap == pytest.approx(0.25)
    assert settings.key == parse_key("A:minor")
    assert settings.phrase_end == PhraseEnd("cc", 64)
    assert settings.panic_keys == {21, 108}
    assert (settings.input_channel, settings.channel) == (2, 0)  # with --synth the bot keeps off the player's 3
    assert settings.passthrough and settings.mode == "duet" and settings.cc_map == {7: "temperature"}
    assert settings.limits.density == 2


def test_the_band_is_made_of_its_options_apart_from_the_players_channel():
    settings = live_settings(jam_args("--mode", "band", "--split", "C4", "--in-channel", "2"), mode="band")
    band = settings.band
    assert [(part.name, part.channel + 1) for part in band.parts] == [("bass", 1), ("chords", 3), ("line", 4)]
    assert band.split == 60 and settings.steers(59) and not settings.steers(60)
    chosen = live_settings(jam_args("--mode", "band", "--band", "line,bass", "--band-channels", "5,6",
                                    "--band-programs", "74,33"), mode="band").band
    assert [(p.name, p.channel + 1, p.program) for p in chosen.parts] == [("line", 5, 74), ("bass", 6, 33)]
    assert chosen.split is None and chosen.part_of_channel(5) == chosen.parts[1].part


def test_a_band_needs_a_model_that_plays_parts(shipped_model):
    events = StepModel(FAMILIES / "transformer.onnx")
    args = jam_args("--mode", "band")
    with pytest.raises(UsageError, match="--mode band needs a model that plays parts .*transformer.onnx is a "):
        fit_to_model(live_settings(args, mode="band"), args, events)
    fit_to_model(live_settings(args, mode="band"), args, shipped_model)


def test_the_bots_channel_keeps_apart_from_the_players_and_the_drums_with_a_synth():
    assert bot_channel(None, None, synth=False) == 1
    assert bot_channel(None, None, synth=True) == 2
    assert bot_channel(None, 2, synth=True) == 1
    assert bot_channel(None, 1, synth=True) == 2
    assert bot_channel(9, 1, synth=True) == 9  # asked for, even the player's
    assert [bot_channel(None, player, synth=True) for player in (10, 11)] == [1, 1]


def test_a_parse_error_becomes_a_usage_error_with_its_message():
    assert usage(int, "12") == 12
    with pytest.raises(UsageError, match="invalid literal"):
        usage(int, "twelve")


def test_a_style_must_be_one_the_model_knows():
    model = StepModel(DEFAULT_MODEL, device="cpu")
    check_style("auto", model)
    check_style(model.info.styles[0], model)
    with pytest.raises(UsageError) as refused:
        check_style("klezmer", model)
    assert str(refused.value) == f"--style 'klezmer': default.onnx knows {', '.join(model.info.styles)}"
    older = StepModel(FAMILIES / "events.onnx", device="cpu")
    with pytest.raises(UsageError, match="events.onnx knows none: it was trained before styles"):
        check_style("folk", older)


def test_the_model_settles_the_sampling_left_open_and_the_styles_a_knob_chooses_among():
    model = StepModel(DEFAULT_MODEL, device="cpu")
    settings = live_settings(jam_args("--temperature", "0.5"))
    fit_to_model(settings, jam_args("--temperature", "0.5"), model)
    assert (settings.temperature, settings.top_p) == (0.5, model.info.defaults["top_p"])
    assert settings.style_choices == ("auto", *model.info.styles)
    assert model.info.sampling(top_p=0.8) == (model.info.defaults["temperature"], 0.8)


def test_a_config_file_may_set_every_jam_option_by_its_type():
    types = jam_option_types()
    assert (types["quantize"], types["scale_lock"], types["synth"], types["program"]) == (float, bool, str, int)
    assert types["input"] is str and "config" not in types and "help" not in types
