"""`--style` and `--texture` live, over real ports: the model hears the style and texture asked for, a
line is answered with a line, and a CC moves the texture while playing."""

from __future__ import annotations


import pytest

from duetto.encodings import events as encoding
from duetto.export.onnx import export
from duetto.jam.settings import JamSettings
from duetto.model.step_model import StepModel
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from duetto.train.loop import TrainSettings, train
from support.processes import wait_until

TINY = {"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64, "max_context": 128}
CHORDS = [Note(0.3 * i, 0.3 * i + 0.25, pitch, 85) for i in range(4) for pitch in (60, 64, 67)]


@pytest.fixture(scope="module")
def styled_model(tiny_dataset, tmp_path_factory):
    """A small transformer really trained on the styled, conditioned dataset, and exported."""
    data, _ = tiny_dataset
    run = tmp_path_factory.mktemp("styled")
    train(TrainSettings(data=str(data), out=str(run), family="transformer", epochs=2, steps_per_epoch=4,
                        batch_size=4, seq_len=64, warmup_steps=2, seed=5, model=TINY))
    export(str(run / "best.pt"), str(run / "styled.onnx"))
    model = StepModel(run / "styled.onnx", device="cpu")
    assert model.info.styles, "a model trained on a styled dataset lists its styles"
    return model


def max_sounding(events) -> int:
    sounding, most = set(), 0
    for event in sorted(events, key=lambda e: (e.seconds, e.velocity > 0)):
        if event.velocity > 0:
            sounding.add(event.pitch)
            most = max(most, len(sounding))
        else:
            sounding.discard(event.pitch)
    return most


def test_the_model_hears_the_style_and_texture_asked_for_and_a_line_answers(jack, styled_model, fast_switching):
    style = styled_model.info.styles[-1]
    settings = JamSettings(phrase_gap=0.2, response_seconds=2.0, seed=7, style=style, texture="line")
    rig = DuetRig(jack, styled_model, settings, name="Kind")
    fed: list[int] = []
    improviser = rig.engine.voice.improviser
    step = improviser.model.step
    improviser.model = type("Spy", (), {"step": lambda self, token, state: (fed.append(token), step(token, state))[1],
                                        "__getattr__": lambda self, name: getattr(rig.engine.model, name)})()
    try:
        released = rig.player.play(CHORDS)
        assert rig.wait_until_answered(released, 10), "no answer"
    finally:
        rig.close()
    index = styled_model.info.styles.index(style)
    assert fed[:2] == [encoding.style_token(index), encoding.texture_token("line")]
    answer = [event for event in rig.recorder.key_events(since=released)]
    assert answer and max_sounding(answer) == 1  # chords called, but a line asked for: one note at a time


def test_a_cc_moves_the_texture_while_playing(jack, styled_model, fast_switching):
    settings = JamSettings(phrase_gap=0.2, response_seconds=1.0, seed=7, cc_map={21: "texture"})
    rig = DuetRig(jack, styled_model, settings, name="KindCC")
    try:
        rig.player_port.send([0xB0, 21, 127])
        assert wait_until(lambda: rig.engine.settings.texture == "chords", 3)
        rig.player_port.send([0xB0, 21, 60])
        assert wait_until(lambda: rig.engine.settings.texture == "line", 3)
    finally:
        rig.close()
