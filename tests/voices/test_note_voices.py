"""The note-level voices on real exported (tiny, untrained) models: what they feed the model and when, and
the timing, register, polyphony and completeness of their answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from duetto.export.onnx import export
from duetto.families import make_voice
from duetto.model.rolling_state import RollingState
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.key import Key
from duetto.music.notes import KeyEvent
from duetto.train.families import load_family
from duetto.train.loop import save_checkpoint
from duetto.voices.base import AnswerKind
from duetto.voices.common import Phrase
from duetto.voices.limits import Limits
from duetto.voices.melody import MelodyVoice
from duetto.voices.notes import NotesVoice

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "families"
CONFIGS = {
    "melody": ("melody", {"embed_dim": 8, "hidden_size": 16, "num_layers": 2, "dense_size": 16}),
    "notes": ("notes", {"pitch_embed_dim": 8, "hidden_size": 16, "timing_bins": 16}),
    "notes-mse": ("notes", {"pitch_embed_dim": 8, "hidden_size": 16, "timing": "mse"}),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("note-voices")
    paths = {}
    for name, (family, config) in CONFIGS.items():
        torch.manual_seed(0)
        model = load_family(family).build(config)
        save_checkpoint(folder / f"{name}.pt", {"family": family, "config": model.config.to_dict(),
                                                "model": model.state_dict()})
        paths[name] = folder / f"{name}.onnx"
        export(str(folder / f"{name}.pt"), str(paths[name]), parity_steps=50)
    return {name: StepModel(path, device="cpu") for name, path in paths.items()}


def play(voice, notes: list[tuple[float, float, int]]) -> None:
    """Notes (start, end, pitch) as key events in time order, releases first at equal times."""
    events = sorted([(start, 1, pitch, 80) for start, _, pitch in notes]
                    + [(end, 0, pitch, 0) for _, end, pitch in notes])
    for seconds, _, pitch, velocity in events:
        voice.hear(seconds, pitch, velocity)


def check_answer(events: list[KeyEvent], limits: Limits, seconds: float) -> list[tuple[float, float, int]]:
    """Assert the answer is well formed; return its notes (start, end, pitch)."""
    assert [e.seconds for e in events] == sorted(e.seconds for e in events), "events out of time order"
    sounding: dict[int, float] = {}
    notes = []
    for event in events:
        if event.velocity > 0:
            assert event.pitch not in sounding and limits.lowest <= event.pitch <= limits.highest
            sounding[event.pitch] = event.seconds
            assert len(sounding) <= limits.max_polyphony
        else:
            start = sounding.pop(event.pitch)
            assert limits.min_note_seconds - 1e-9 <= event.seconds - start <= limits.max_note_seconds + 1e-9
            notes.append((start, event.seconds, event.pitch))
    assert not sounding, "a key-down without its key-up"
    assert notes and all(0 <= start and end <= seconds + 1e-9 for start, end, _ in notes)
    return notes


def test_make_voice_picks_each_familys_voice(models):
    assert isinstance(make_voice(models["melody"], Sampler(seed=0)), MelodyVoice)
    assert isinstance(make_voice(models["notes"], Sampler(seed=0)), NotesVoice)


def test_melody_voice_feeds_one_step_per_melody_note_at_its_onset(models):
    voice = MelodyVoice(models["melody"], Sampler(seed=0), Limits(), window_tokens=64)
    play(voice, [(0.0, 0.4, 60), (0.01, 0.4, 64), (0.02, 0.4, 67), (0.5, 0.9, 65)])
    voice.hear(1.0, 64, 80)
    # the chord's top is fed once its window passed; the last note's window is still open
    assert [feeds["pitch"][0] for feeds in voice.rolling.window] == [67, 65]
    voice.answer(1.0)
    assert [feeds["pitch"][0] for feeds in voice.rolling.window] == [67, 65, 64]


def test_melody_voice_answers_one_note_per_heard_interval_in_the_register(models):
    limits = Limits(lowest=60, highest=64, max_note_seconds=3.0)
    voice = MelodyVoice(models["melody"], Sampler(seed=1), limits, window_tokens=64)
    play(voice, [(0.3 * i, 0.3 * i + 0.2, 60 + i % 5) for i in range(8)] + [(9.0, 9.2, 62)])  # a rest
    notes = check_answer(list(voice.answer(3.0)), limits, 3.0)
    starts = [start for start, _, _ in notes]
    np.testing.assert_allclose(starts, np.arange(len(starts)) * 0.3, atol=1e-9)
    assert len(notes) == 10  # 0.0 .. 2.7 s: the rest before 9.0 s is not taken for the tempo
    assert all(end <= next_start + 1e-9 for (_, end, _), next_start in zip(notes, starts[1:]))


def test_notes_voice_feeds_notes_at_release_in_onset_order(models):
    voice = NotesVoice(models["notes"], Sampler(seed=0), Limits(), window_tokens=64)
    voice.hear(0.0, 48, 80)  # a long bass note
    voice.hear(0.5, 60, 80)
    voice.hear(0.75, 60, 0)
    assert len(voice.rolling.window) == 0  # 60 is complete, but the bass was struck first
    voice.hear(1.0, 48, 0)
    fed = [(int(f["pitch"][0]), float(f["step"][0]), float(f["duration"][0])) for f in voice.rolling.window]
    assert fed == [(48, 0.0, 1.0), (60, 0.5, 0.25)]


@pytest.mark.parametrize("name", ["notes", "notes-mse"])
def test_notes_voice_answers_within_limits_and_stops_when_told(models, name):
    limits = Limits(lowest=48, highest=72, max_polyphony=3, max_note_seconds=1.0)
    voice = NotesVoice(models[name], Sampler(seed=2), limits, window_tokens=64)
    play(voice, [(0.0, 1.0, 48), (0.0, 0.5, 60), (0.5, 1.0, 64), (1.0, 1.5, 67)])
    voice.hear(1.6, 55, 80)  # still held when the answer is asked for: heard as far as it has sounded
    check_answer(list(voice.answer(4.0)), limits, 4.0)
    calls = []
    stopped = list(voice.answer(4.0, should_stop=lambda: calls.append(1) or len(calls) > 2))
    assert sum(e.velocity > 0 for e in stopped) <= 2


def test_phrase_releases_a_restruck_key_first_and_keeps_to_the_polyphony():
    phrase = Phrase(Limits(max_polyphony=2, max_note_seconds=2.0), seconds=3.0)
    events = phrase.strike(0.0, 60, 80, 1.0) + phrase.strike(0.0, 64, 80, 5.0) + phrase.strike(0.5, 60, 80, 1.0)
    events += phrase.strike(0.6, 67, 80, 0.1) + phrase.release_all()
    assert events == [KeyEvent(0.0, 60, 80), KeyEvent(0.0, 64, 80), KeyEvent(0.5, 60, 0), KeyEvent(0.5, 60, 80),
                      KeyEvent(0.6, 60, 0), KeyEvent(0.6, 67, 80), KeyEvent(0.7, 67, 0), KeyEvent(2.0, 64, 0)]


def test_a_fresh_state_primed_from_the_window_matches_one_fed_only_the_window(models):
    model = models["melody"]
    start = {"pitch": np.array([128])}
    rolling = RollingState(model, start, window=8)
    inputs = [{"pitch": np.array([60 + i % 12])} for i in range(15)]
    for feeds in inputs:
        rolling.step(feeds)
    assert rolling.refreshing  # 16 steps (START and 15 notes): twice the window
    rolling.wait_for_primer()
    assert rolling.priming and rolling.steps_in_state == 16  # primed, and the old state still in use
    rolling.prime_some(3)
    assert not rolling.priming  # nothing heard since priming began: the fresh state takes over at once
    reference = RollingState(model, start, window=8)
    for feeds in inputs[-8:]:
        reference.step(feeds)
    np.testing.assert_allclose(rolling.outputs[0], reference.outputs[0], atol=1e-6)
    assert rolling.steps_in_state == 9


@pytest.mark.parametrize("name", ["melody", "notes", "notes-mse"])
def test_the_shipped_models_answer_a_phrase(name):
    model = StepModel(SHIPPED / f"{name}.onnx", device="cpu")
    limits = Limits()
    voice = make_voice(model, Sampler(seed=0), limits)
    play(voice, [(0.5 * i, 0.5 * i + 0.45, pitch) for i, pitch in enumerate([67, 69, 71, 72, 74, 72, 71, 69])]
         + [(0.0, 2.0, 48), (2.0, 4.0, 43)])
    assert len(check_answer(list(voice.answer(4.0)), limits, 4.0)) >= 4


@pytest.mark.parametrize("name", ["melody", "notes", "notes-mse", "biaxial"])
def test_the_note_level_and_roll_voices_answer_in_kind(name):
    """Register and texture bound every answer; the key is a lean, so it must move the share in key."""
    model = StepModel(SHIPPED / f"{name}.onnx", device="cpu")
    call = [(0.5 * i, 0.5 * i + 0.45, pitch) for i, pitch in enumerate([66, 68, 70, 71, 73, 71, 70, 68] * 2)]
    # the call is in E major; the answers are asked to lean to C major
    in_key, notes_total = {}, {}
    for lean in (None, Key(0, "major")):
        in_key[lean], notes_total[lean] = 0, 0
        for seed in range(6):
            limits = Limits()
            voice = make_voice(model, Sampler(seed=seed), limits)
            play(voice, call)
            kind = AnswerKind(texture="line", register=(60, 76), key=lean)
            notes = check_answer(list(voice.answer(4.0, kind=kind)), limits, 4.0)
            assert all(60 <= pitch <= 76 for _, _, pitch in notes), (name, notes)
            for (_, end, _), (start, _, _) in zip(notes, notes[1:]):
                assert start >= end - 1e-9, f"{name}: a line sounds one note at a time: {notes}"
            in_key[lean] += sum(pitch % 12 in Key(0, "major").pitch_classes for _, _, pitch in notes)
            notes_total[lean] += len(notes)
    assert notes_total[None] > 0 and notes_total[Key(0, "major")] > 0
    c_major = Key(0, "major")
    assert in_key[c_major] / notes_total[c_major] > in_key[None] / notes_total[None], (in_key, notes_total)
