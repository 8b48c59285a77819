"""The biaxial family's parts: the roll on a beat grid, the beat recorded at dataset build, the per-key
features, training and the exported step agreeing, and the live voice's timing and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from duetto.encodings.roll import ARTICULATE, PLAY, note_frames, piano_roll
from duetto.export.onnx import build_step_graph, model_info, to_onnx_bytes
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.notes import Note, notes_from_events
from duetto.train.data.corpus import Piece
from duetto.train.data.dataset import versions
from duetto.train.families import biaxial, biaxial_quarter
from duetto.train.families.roll_data import Grid, RollWindows, load_rolls
from duetto.voices.limits import Limits
from duetto.voices.roll import CONTEXT_FRAMES, RollVoice

TINY = {"time_hidden": 16, "time_layers": 1, "note_hidden": 8, "note_layers": 1, "dropout": 0.0}
CHORALE = [Note(0.0, 0.6, 60, 80), Note(0.6, 0.9, 62, 80), Note(0.9, 1.2, 64, 80), Note(1.2, 2.4, 65, 80),
           Note(0.0, 1.2, 48, 80), Note(1.2, 2.4, 53, 80), Note(2.4, 3.6, 60, 80), Note(2.4, 3.6, 48, 80)]


# -- the roll -------------------------------------------------------------------------------------------
def test_notes_snap_to_the_nearest_grid_point():
    roll = piano_roll([Note(0.02, 0.29, 60, 80), Note(0.31, 0.44, 60, 80), Note(0.14, 0.6, 64, 80)],
                      seconds_per_frame=0.15, lowest=48, num_keys=24)
    assert roll.shape == (4, 24, 2)
    assert roll[:, 12, PLAY].tolist() == [1, 1, 1, 0]  # 60: frames 0-1, struck again at frame 2
    assert roll[:, 12, ARTICULATE].tolist() == [1, 0, 1, 0]
    assert roll[:, 16, PLAY].tolist() == [0, 1, 1, 1] and roll[:, 16, ARTICULATE].tolist() == [0, 1, 0, 0]


def test_short_notes_keep_their_frame_only_when_asked():
    assert note_frames(0.5, 0.9, 1.0, keep_short=True) == (1, 2)
    assert note_frames(0.5, 0.9, 1.0, keep_short=False) == (1, 1)  # a passing eighth between two beats
    roll = piano_roll([Note(0.5, 1.0, 62, 80), Note(0.0, 2.0, 60, 80)], 1.0, 21, 88, keep_short=False)
    assert roll[:, 62 - 21, PLAY].sum() == 0 and roll[:, 60 - 21, PLAY].tolist() == [1, 1]


def test_keys_outside_the_range_are_left_out():
    roll = piano_roll([Note(0.0, 1.0, 20, 80), Note(0.0, 1.0, 109, 80), Note(0.0, 1.0, 108, 80)], 0.5, 21, 88)
    assert roll[..., PLAY].sum() == 2 and roll[0, 87, PLAY] == 1


# -- the beat, recorded at build time -------------------------------------------------------------------
def test_every_version_of_a_chorale_knows_its_beat_and_lands_on_the_same_grid():
    piece = Piece("music21:bach/test", "test", CHORALE)
    made = versions(piece, "train", augment_copies=4, seed=0)
    assert made[0][1] == 0.6
    original = piano_roll(made[0][0], 0.6 / 4, 24, 72)
    for notes, beat in made[1:]:
        assert 0.6 * 0.8 <= beat <= 0.6 * 1.25 and beat != 0.6
        copy = piano_roll(notes, beat / 4, 24, 72)  # transposed, stretched and humanized, yet gridded alike
        assert np.array_equal(copy.any(axis=1), original.any(axis=1))
        assert copy[..., ARTICULATE].sum() == original[..., ARTICULATE].sum() == len(CHORALE)


def test_a_midi_files_beat_is_unknown():
    assert all(math.isnan(beat) for _, beat in versions(Piece("sha256:ab", "x.mid", CHORALE), "train", 2, 0))


# -- rolls from a dataset, cached -----------------------------------------------------------------------
def test_rolls_are_cached_and_rebuilt_when_the_shard_changes(tiny_dataset, tmp_path):
    data, _ = tiny_dataset
    grid = biaxial.Config().grid
    first = load_rolls(data, "train", grid)
    cache = data / "rolls" / grid.cache_name("train")
    stamp = cache.stat().st_mtime_ns
    again = load_rolls(data, "train", grid)
    assert cache.stat().st_mtime_ns == stamp and np.array_equal(first.frames, again.frames)
    assert first.frames[..., PLAY].sum() > 0 and len(first.offsets) > 2
    # a rebuilt dataset does not reuse the rolls of the old shard, though the cache file is there
    rebuilt = tmp_path / "data"
    (rebuilt / "rolls").mkdir(parents=True)
    (rebuilt / "manifest.json").write_text((data / "manifest.json").read_text())
    with np.load(data / "train.npz") as shard:
        kept = len(shard["offsets"]) // 2  # the first half of the sequences
        np.savez(rebuilt / "train.npz", tokens=shard["tokens"][:shard["offsets"][kept]],
                 offsets=shard["offsets"][:kept + 1], seconds_per_beat=shard["seconds_per_beat"][:kept])
    (rebuilt / "rolls" / grid.cache_name("train")).write_bytes(cache.read_bytes())
    assert len(load_rolls(rebuilt, "train", grid).offsets) < len(first.offsets)


def test_a_dataset_without_beats_is_refused_with_one_line(tmp_path, tiny_dataset):
    data, _ = tiny_dataset
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text((data / "manifest.json").read_text())
    with np.load(data / "train.npz") as shard:
        np.savez(old / "train.npz", tokens=shard["tokens"], offsets=shard["offsets"])
    with pytest.raises(ValueError, match="records no beat"):
        load_rolls(old, "train", biaxial.Config().grid)


def test_evaluation_windows_cover_every_frame_once_with_beats_from_the_sequence_start(tiny_dataset):
    data, _ = tiny_dataset
    windows = RollWindows(data, "train", seq_len=7, grid=biaxial.Config().grid)
    batches = list(windows.eval_batches(5))
    assert sum(int(batch.mask.sum()) for batch in batches) == windows.num_tokens
    first = batches[0]
    assert not first.frames[0, 0].any()  # before a sequence's first frame: silence
    assert first.beats[0].tolist() == list(range(7)) and first.beats[1].tolist() == list(range(7, 14))
    # the second window's context frame is the first window's last target
    assert np.array_equal(first.frames[1, 0], first.frames[0, 7])


def test_training_windows_are_transposed_as_a_whole(tiny_dataset):
    data, _ = tiny_dataset
    plain = RollWindows(data, "train", 16, biaxial.Config().grid)
    moved = RollWindows(data, "train", 16, biaxial.Config().grid, transpose=True)
    a, b = plain.sample_batch(np.random.default_rng(5), 8), moved.sample_batch(np.random.default_rng(5), 8)
    assert np.array_equal(a.frames.sum(axis=2), b.frames.sum(axis=2))  # same notes per frame
    assert not np.array_equal(a.frames, b.frames)


# -- the network -----------------------------------------------------------------------------------------
def test_features_describe_each_key_relative_to_itself():
    config = biaxial.Config(**TINY)
    features = biaxial.NoteFeatures(config)
    previous = torch.zeros(config.num_keys, 2)
    previous[60 - config.lowest] = torch.tensor([1.0, 1.0])  # C4 struck
    previous[64 - config.lowest, PLAY] = 1.0  # E4 held
    x = features(previous, torch.tensor(5))
    assert x.shape == (config.num_keys, config.features)
    g = 62 - config.lowest  # D4 sees C4 two below (offset -2) and E4 two above
    around = x[g, :50].view(25, 2)
    assert around[12 - 2].tolist() == [1.0, 1.0] and around[12 + 2].tolist() == [1.0, 0.0]
    assert around.sum() == 3
    assert x[g, 51:63].argmax() == 2  # pitch class D
    bits = x[g, 63:63 + config.beat_bits]
    assert bits.tolist() == [1.0, -1.0, 1.0, -1.0]  # 5 = 0b0101, least significant first
    relative = x[g, 63 + config.beat_bits:]
    assert relative[10] == 1 and relative[2] == 1 and relative.sum() == 2  # C is D-2, E is D+2


def test_the_grid_is_fixed_per_family():
    with pytest.raises(ValueError, match="grid of this family is fixed"):
        biaxial.build({"steps_per_beat": 2})
    assert biaxial_quarter.build(TINY).config.grid == Grid(1, 21, 88, keep_short=False)


def test_the_step_graph_computes_what_training_computes():
    """Key by key and frame by frame, teacher-forced, the single step gives the training forward's logits."""
    torch.manual_seed(0)
    model = biaxial.build({**TINY, "time_layers": 2, "note_layers": 2}).eval()
    frames = (torch.rand(1, 4, model.config.num_keys, 2) < 0.1).float()
    frames[..., ARTICULATE] *= frames[..., PLAY]
    beats = torch.arange(3).view(1, 3) + 6
    with torch.inference_mode():
        expected = model(frames, beats)[0]
        graph = biaxial.StepGraph(model)
        inputs = list(graph.example_inputs(batch_size=1))
        key, time_h, time_c, note_h, note_c = inputs[3:]
        for t in range(3):
            for k in range(model.config.num_keys):
                lower = frames[:, t + 1, k - 1] if k else torch.zeros(1, 2)
                logits, key, h, c, note_h, note_c = graph(frames[:, t], beats[:, t], lower, key, time_h, time_c,
                                                          note_h, note_c)
                time_h[:, :, k], time_c[:, :, k] = h[:, :, 0], c[:, :, 0]
                assert torch.allclose(logits[0], expected[t, k], atol=1e-5)


def test_loss_counts_articulation_only_where_a_key_plays(tiny_dataset):
    data, _ = tiny_dataset
    batch = RollWindows(data, "train", 8, biaxial.Config().grid).sample_batch(np.random.default_rng(0), 2)
    torch.manual_seed(0)
    with torch.inference_mode():
        full, frames, notes = biaxial.loss(biaxial.build(TINY), batch)
        torch.manual_seed(0)
        play_only, _, _ = biaxial.loss(biaxial.build({**TINY, "articulation": False}), batch)
    assert frames == int(batch.mask.sum()) and notes == int(batch.frames[:, 1:, :, ARTICULATE].sum())
    assert full > play_only > 0


# -- the live voice ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def roll_model(tmp_path_factory) -> StepModel:
    """A tiny untrained biaxial model, exported for real: timing and limits do not need a trained one."""
    torch.manual_seed(1)
    model = biaxial.build(TINY)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([-1.0, 0.0]))  # play about a quarter of the keys
    checkpoint = {"family": "biaxial", "config": model.config.to_dict(), "model": model.state_dict()}
    graph = build_step_graph(checkpoint)
    path = tmp_path_factory.mktemp("roll") / "tiny.onnx"
    path.write_bytes(to_onnx_bytes(graph, model_info(checkpoint, graph)))
    return StepModel(path, device="cpu")


def test_heard_notes_settle_on_the_grid_and_are_fed_in_slices(roll_model):
    voice = RollVoice(roll_model, Sampler(seed=0), Limits())
    assert voice.seconds_per_beat == 0.6 and voice.seconds_per_frame == pytest.approx(0.15)
    voice.hear(0.01, 60, 90)
    voice.hear(0.28, 60, 0)  # snaps to frame 2: frames 0-1
    voice.hear(0.46, 64, 80)  # frame 3
    assert voice.final == 3 and voice.priming
    assert voice.heard_frame(0)[60 - 24].tolist() == [1, 1] and voice.heard_frame(1)[60 - 24].tolist() == [1, 0]
    assert voice.heard_frame(3)[64 - 24].tolist() == [1, 1] and voice.heard_frame(5)[64 - 24].tolist() == [1, 0]
    voice.prime_some(100)  # one frame of 72 keys and 28 of the next
    assert (voice.main.fed, voice.main.key) == (1, 28)
    voice.prime_some(1000)
    assert (voice.main.fed, voice.main.key) == (3, 0) and not voice.priming
    assert voice.main.previous[60 - 24].tolist() == [0, 0]  # frame 2: released
    assert voice.velocity == 80


def test_a_long_session_restarts_its_state_from_the_recent_frames(roll_model):
    """After 2 x CONTEXT_FRAMES frames a fresh state hears the last CONTEXT_FRAMES and takes over; fed in
    the engine's small slices or all at once, the outcome is the same."""
    voices = [RollVoice(roll_model, Sampler(seed=0), Limits()) for _ in range(2)]
    for index in range(2 * CONTEXT_FRAMES + 20):
        for voice in voices:
            voice.hear(index * 0.15, 48 + index % 17, 80)
            voice.hear(index * 0.15 + 0.1, 48 + index % 17, 0)
        for _ in range(12):
            voices[0].prime_some(8)
    while voices[0].priming:
        voices[0].prime_some(8)
    voices[1].prime_some(10 ** 6)
    for voice in voices:
        assert not voice.priming and voice.main.fed == voice.final == 2 * CONTEXT_FRAMES + 20
        assert voice.main.started == CONTEXT_FRAMES and len(voice.recent) <= CONTEXT_FRAMES + 2
    for sliced, whole in zip(voices[0].main.state, voices[1].main.state):
        assert np.allclose(sliced, whole, atol=1e-6)


def test_a_long_rest_is_heard_as_two_bars(roll_model):
    voice = RollVoice(roll_model, Sampler(seed=0), Limits())
    voice.hear(0.0, 60, 80)
    voice.hear(0.3, 60, 0)
    voice.hear(3600.0, 62, 80)
    assert voice.final - 2 <= 2 * 16 + 16
    assert voice.frame_seconds(voice.final) == pytest.approx(3600.0)


def answer_of(voice: RollVoice, seconds: float, trim: bool = False) -> list:
    return list(voice.answer(seconds, trim_leading_silence=trim))


def test_an_answer_is_on_the_grid_within_the_limits_and_releases_every_key(roll_model):
    limits = Limits(lowest=48, highest=84, max_polyphony=3, max_note_seconds=0.5)
    voice = RollVoice(roll_model, Sampler(seed=3), limits)
    voice.hear(0.0, 60, 80)
    voice.hear(0.5, 60, 0)  # the last event: the answer's frames start at the grid point 0.6
    events = answer_of(voice, 4.0)
    assert sum(e.velocity > 0 for e in events) == sum(e.velocity == 0 for e in events) > 5
    for event in events:
        offset = (event.seconds + 0.5 - 0.6) / 0.15
        assert event.seconds == 4.0 or abs(offset - round(offset)) < 1e-6  # on the grid
        assert 48 <= event.pitch <= 84
    notes = list(notes_from_events(events))
    assert all(note.duration <= 0.5 + 1e-9 for note in notes)
    sounding = 0
    for event in sorted(events, key=lambda e: (e.seconds, e.velocity > 0)):
        sounding += 1 if event.velocity else -1
        assert sounding <= 3
    assert max(e.seconds for e in events) <= 4.0


def test_the_tempo_can_be_set_while_playing(roll_model):
    voice = RollVoice(roll_model, Sampler(seed=4), Limits())
    voice.hear(0.0, 60, 80)
    voice.hear(0.3, 60, 0)
    voice.seconds_per_beat = 0.4  # 150 BPM: frames 0.1 s apart from the settled frame 2 (0.3 s) on
    assert voice.frame_seconds(5) == pytest.approx(0.6)
    events = answer_of(voice, 3.0)
    assert events and all(abs(e.seconds / 0.1 - round(e.seconds / 0.1)) < 1e-6 or e.seconds == 3.0 for e in events)
    with pytest.raises(ValueError):
        voice.seconds_per_beat = 0.0


def test_trimmed_answers_open_with_a_note_and_stop_when_asked(roll_model):
    voice = RollVoice(roll_model, Sampler(seed=5), Limits())
    voice.hear(0.0, 60, 80)
    voice.hear(0.3, 60, 0)
    events = answer_of(voice, 2.0, trim=True)
    assert events[0].seconds == 0.0 and events[0].velocity > 0
    calls = iter(range(100))
    stopped = list(voice.answer(2.0, should_stop=lambda: next(calls) >= 2))
    assert len({e.seconds for e in stopped}) <= 2  # two frames at most
