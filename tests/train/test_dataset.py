"""Corpus reading and dataset building: bad files skipped, stable splits, deterministic augmentation,
and token windows that cover what they promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mido
import numpy as np
import pytest

from duetto.encodings import events as encoding
from duetto.midi.files import write_midi
from duetto.music.notes import Note
from duetto.train.data import corpus, music21_corpus
from duetto.train.data.corpus import read_sources
from duetto.train.data.dataset import (
    SPLITS,
    TokenWindows,
    augment,
    build_dataset,
    humanize_timing,
    humanize_velocity,
    transpose_windows,
)
from duetto.train.data.pieces import STYLES
from duetto.train.data.shards import read_shard
from duetto.train.data.splits import split_of


def scale(root: int, count: int = 24, step: float = 0.25) -> list[Note]:
    """A little melody with a chord every fourth note, distinct for each root (its interval pattern comes
    from the root too: the same tune in another key would be a copy)."""
    notes = []
    stride = 1 + (root % 12) % 11
    for i in range(count):
        start = i * step
        notes.append(Note(start, start + step * 0.9, root + (i * stride) % 12, 64 + i))
        if i % 4 == 0:
            notes.append(Note(start, start + step * 2, root - 12, 70))
    return notes


GOOD_FILES = {"a.mid": 60, "b.MIDI": 62, "sub/deeper/c.mid": 64, "d.midi": 66, "e.mid": 55, "f.mid": 57}


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("midi")
    for name, root in GOOD_FILES.items():
        write_midi(folder / name, {"piano": scale(root)})
    whole = (folder / "a.mid").read_bytes()
    (folder / "truncated.mid").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("this is not a MIDI file\n")
    (folder / "notes.txt").write_text("not a MIDI extension: never read\n")
    write_midi(folder / "silent.mid", {"piano": []})
    format_2 = mido.MidiFile(type=2)
    format_2.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=64),
                                           mido.Message("note_off", note=60, time=480)]))
    format_2.save(folder / "format2.mid")
    return folder


BAD_FILES = {"truncated.mid", "empty.mid", "text.mid", "silent.mid", "format2.mid"}  # notes.txt: not a MIDI file


@pytest.fixture(scope="module")
def built(midi_folder, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("data")
    return out, build_dataset([str(midi_folder)], out, augment_copies=2, seed=7)


# --- splits -------------------------------------------------------------------------------------------


def test_split_is_pinned_so_datasets_stay_comparable():
    # Changing split_of would silently move pieces between train and test; this pins its behaviour.
    pinned = ["train", "test", "train", "train", "train", "test", "train", "train", "test", "train"]
    assert [split_of(f"piece-{i}") for i in range(10)] == pinned


def test_split_is_the_same_in_another_process():
    ids = [f"music21:bach/bwv{i}" for i in range(50)]
    code = "import sys; from duetto.train.data.splits import split_of; print(' '.join(split_of(i) for i in sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert result.stdout.split() == [split_of(i) for i in ids]


def test_split_proportions_are_roughly_80_10_10():
    counts = Counter(split_of(f"sha256:{i:064x}") for i in range(2000))
    assert abs(counts["train"] - 1600) < 80
    assert abs(counts["valid"] - 200) < 60
    assert abs(counts["test"] - 200) < 60


# --- corpus -------------------------------------------------------------------------------------------


def test_folder_reads_good_files_and_reports_bad_ones(midi_folder):
    found = read_sources([str(midi_folder)])
    assert sorted(p.name for p in found.pieces) == sorted(GOOD_FILES)
    assert {s.name for s in found.skipped} == BAD_FILES
    for item in found.skipped:
        assert item.reason and "\n" not in item.reason and "()" not in item.reason
    assert all(p.id.startswith("sha256:") and p.notes and p.style == "user" for p in found.pieces)
    assert found.not_midi == {".txt": 1}


def test_identity_does_not_depend_on_the_folder(midi_folder, tmp_path):
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "renamed.mid").write_bytes((midi_folder / "a.mid").read_bytes())
    [moved] = read_sources([str(copy)]).pieces
    [original] = [p for p in read_sources([str(midi_folder)]).pieces if p.name == "a.mid"]
    assert moved.id == original.id


def test_duplicates_are_skipped(midi_folder):
    found = read_sources([str(midi_folder), str(midi_folder)])
    assert len(found.pieces) == len(GOOD_FILES)
    assert sum(s.reason.startswith("duplicate of") for s in found.skipped) == len(GOOD_FILES)


def test_huge_files_are_skipped_by_size(midi_folder, monkeypatch):
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 10)
    found = read_sources([str(midi_folder)])
    assert not found.pieces
    assert all("limit" in s.reason for s in found.skipped if s.name in GOOD_FILES)


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_sources([str(tmp_path / "missing")])
    with pytest.raises(ValueError, match="unknown source 'music21:mozartt'.*one of bach, .*mozart"):
        read_sources(["music21:mozartt"])


def test_bach_chorales_convert_and_cache(tmp_path):
    found = read_sources(["music21:bach"], cache_dir=tmp_path, limit=2)
    assert len(found.pieces) + len(found.skipped) == 2 and found.pieces
    # the chorales keep the names (and so the identities and splits) they always had
    assert [p.name for p in found.pieces] == ["bach/bwv269", "bach/bwv347"]
    for piece in found.pieces:
        assert piece.id == f"music21:{piece.name}" and piece.style == "chorale"
        assert len(piece.notes) > 50 and piece.seconds_per_beat == music21_corpus.SECONDS_PER_QUARTER
        assert all(0 <= n.pitch <= 127 and n.end > n.start >= 0 and n.velocity == 80 for n in piece.notes)
    [cache] = list(tmp_path.rglob("*.json"))
    written = cache.stat().st_mtime_ns
    assert read_sources(["music21:bach"], cache_dir=tmp_path, limit=2) == found
    assert cache.stat().st_mtime_ns == written  # the second read came from the cache


def test_score_notes_merge_ties_and_split_chords():
    from music21 import chord, note, stream, tie

    part = stream.Part()
    first, second = stream.Measure(number=1), stream.Measure(number=2)
    held = note.Note("C4", quarterLength=2)
    held.tie = tie.Tie("start")
    first.append([note.Rest(quarterLength=2), held])
    rest_of_it = note.Note("C4", quarterLength=1)
    rest_of_it.tie = tie.Tie("stop")
    second.append([rest_of_it, chord.Chord(["E4", "G4"], quarterLength=3)])
    part.append([first, second])
    notes = music21_corpus.score_notes(stream.Score([part]))
    q = music21_corpus.SECONDS_PER_QUARTER
    assert [(n.pitch, round(n.start / q, 6), round(n.end / q, 6)) for n in notes] == [
        (60, 2, 5), (64, 5, 8), (67, 5, 8)]


# --- building -----------------------------------------------------------------------------------------


def test_build_writes_shards_and_manifest_and_no_temporaries(built):
    out, manifest = built
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.npz", "train.npz", "valid.npz"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["encoding"] == {"name": encoding.ENCODING_NAME, "version": encoding.ENCODING_VERSION,
                                    "vocab_size": encoding.VOCAB_SIZE}
    assert {s["name"] for s in manifest["skipped"]} == BAD_FILES
    assert manifest["not_midi_files"] == {".txt": 1}
    splits = manifest["splits"]
    assert sum(splits[s]["pieces"] for s in SPLITS) == len(GOOD_FILES)
    assert manifest["empty_splits"] == [s for s in SPLITS if splits[s]["pieces"] == 0] == []
    assert manifest["styles"] == list(STYLES)
    assert manifest["style_counts"]["user"] == splits  # a folder without --style: every piece is "user"
    assert all(c["pieces"] == 0 for style in STYLES if style != "user" for c in manifest["style_counts"][style].values())
    for split in SPLITS:
        copies = 1 + 2 if split == "train" else 1
        assert splits[split]["sequences"] == splits[split]["pieces"] * copies
        with np.load(out / f"{split}.npz") as shard:
            tokens, offsets = shard["tokens"], shard["offsets"]
        assert len(tokens) == offsets[-1] == splits[split]["tokens"]
        assert (tokens[offsets[:-1]] == encoding.START).all()
        assert np.count_nonzero(tokens == encoding.START) == len(offsets) - 1
        assert (tokens != encoding.PAD).all()
        styles = read_shard(out, split).styles
        assert styles.dtype == np.int64 and styles.tolist() == [STYLES.index("user")] * (len(offsets) - 1)


def test_a_shard_built_before_styles_says_so(built, tmp_path):
    out, _ = built
    for name in ("manifest.json", "valid.npz", "test.npz"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    with np.load(out / "train.npz") as shard:
        np.savez(tmp_path / "train.npz", tokens=shard["tokens"], offsets=shard["offsets"])
    old = read_shard(tmp_path, "train")
    assert old.styles is None and old.seconds_per_beat is None and old.num_sequences > 0


def test_build_is_deterministic_per_seed(midi_folder, built, tmp_path):
    out, _ = built
    build_dataset([str(midi_folder)], tmp_path / "same", augment_copies=2, seed=7)
    build_dataset([str(midi_folder)], tmp_path / "other", augment_copies=2, seed=8)
    with np.load(out / "train.npz") as a, np.load(tmp_path / "same" / "train.npz") as b, \
            np.load(tmp_path / "other" / "train.npz") as c:
        assert np.array_equal(a["tokens"], b["tokens"])
        assert not np.array_equal(a["tokens"], c["tokens"])


def test_build_without_readable_pieces_fails_clearly(tmp_path):
    (tmp_path / "junk.mid").write_text("nope")
    with pytest.raises(ValueError, match="no readable pieces"):
        build_dataset([str(tmp_path)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_augmentation_is_deterministic_and_plausible():
    notes = scale(60, count=64, step=0.05)
    first = augment(notes, np.random.default_rng(3))
    assert first == augment(notes, np.random.default_rng(3))
    assert first != augment(notes, np.random.default_rng(4))
    shifts = {new.pitch - old.pitch for old, new in zip(notes, first)}
    assert len(shifts) == 1 and abs(shifts.pop()) <= 6
    assert all(n.start >= 0 and n.end - n.start >= 0.01 - 1e-9 and 1 <= n.velocity <= 127 for n in first)
    span = max(n.end for n in first) / max(n.end for n in notes)
    assert 0.75 < span < 1.35


def test_notes_in_unison_stay_one_strike_when_humanized():
    # four voices, two of them on the same key at the same time, as chorales often have
    chords = [Note(i * 0.5, i * 0.5 + 0.5, pitch, 80) for i in range(40) for pitch in (48, 60, 60, 67)]
    humanized = encoding.quantize(humanize_timing(chords, np.random.default_rng(1)))
    unison = [note for note in humanized if note.pitch == 60]
    assert len(unison) == 40, "a unison became two strikes"
    assert min(note.end - note.start for note in unison) > 0.4


def test_flat_velocities_are_humanized():
    flat = [Note(i * 0.1, i * 0.1 + 0.1, 60, 80) for i in range(200)]
    velocities = [n.velocity for n in humanize_velocity(flat, np.random.default_rng(0))]
    assert len(set(velocities)) > 10 and all(1 <= v <= 127 for v in velocities)


# --- windows ------------------------------------------------------------------------------------------


def test_eval_batches_cover_every_token_once(built):
    out, _ = built
    for seq_len in (1, 7, 64, 1000):
        windows = TokenWindows(out, "train", seq_len)
        batches = list(windows.eval_batches(batch_size=5))
        assert all(b.dtype == np.int64 and b.shape[1] == seq_len + 1 and len(b) <= 5 for b in batches)
        rows = np.concatenate(batches)
        for previous, following in zip(rows, rows[1:]):  # consecutive windows of one sequence share a token
            if following[0] != encoding.START:
                assert previous[-1] == following[0]
        targets = rows[:, 1:][rows[:, 1:] != encoding.PAD]
        expected = np.concatenate([windows.tokens[a + 1:b] for a, b in zip(windows.offsets, windows.offsets[1:])])
        assert np.array_equal(targets, expected)
        assert len(targets) == windows.num_tokens - windows.num_pieces


def test_sample_batch_shape_and_determinism(built):
    out, _ = built
    windows = TokenWindows(out, "train", seq_len=32)
    batch = windows.sample_batch(np.random.default_rng(1), 16)
    assert batch.shape == (16, 33) and batch.dtype == np.int64
    assert ((batch >= 0) & (batch < encoding.VOCAB_SIZE)).all()
    assert np.array_equal(batch, windows.sample_batch(np.random.default_rng(1), 16))
    long = TokenWindows(out, "train", seq_len=10_000).sample_batch(np.random.default_rng(1), 4)
    assert (long[:, 0] == encoding.START).all() and (long[:, -1] == encoding.PAD).all()


def test_sample_time_transposition_moves_only_notes(built):
    out, _ = built
    plain = TokenWindows(out, "train", 48).sample_batch(np.random.default_rng(5), 32)
    moved = TokenWindows(out, "train", 48, transpose=True).sample_batch(np.random.default_rng(5), 32)
    is_note = (plain >= encoding.NOTE_ON) & (plain < encoding.TIME_SHIFT)
    assert np.array_equal(plain[~is_note], moved[~is_note])
    assert not np.array_equal(plain, moved)
    for before, after, notes in zip(plain, moved, is_note):
        assert len(set((after - before)[notes])) <= 1
        assert ((after[notes] >= encoding.NOTE_ON) & (after[notes] < encoding.TIME_SHIFT)).all()
        ons = (before >= encoding.NOTE_ON) & (before < encoding.NOTE_OFF)
        assert ((after[ons] >= encoding.NOTE_ON) & (after[ons] < encoding.NOTE_OFF)).all()


def test_transposition_leaves_windows_that_would_leave_the_keyboard():
    top = np.array([[encoding.START, encoding.NOTE_ON + 127, encoding.NOTE_OFF + 0]])
    for seed in range(20):
        windows = top.copy()
        transpose_windows(windows, np.random.default_rng(seed))
        assert np.array_equal(windows, top)


def test_loading_rejects_another_encoding(built, tmp_path):
    out, manifest = built
    for name in ("train.npz", "valid.npz", "test.npz"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "encoding": {"name": "other", "version": 9}}))
    with pytest.raises(ValueError, match="rebuild"):
        TokenWindows(tmp_path, "train", 16)
    with pytest.raises(ValueError, match="no dataset"):
        TokenWindows(tmp_path / "nothing", "train", 16)


def test_empty_split_loads_and_yields_nothing(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    write_midi(folder / "only.mid", {"piano": scale(60)})
    manifest = build_dataset([str(folder)], tmp_path / "out", augment_copies=1)
    empty = manifest["empty_splits"]
    assert len(empty) == 2
    [warning] = manifest["warnings"]  # said at build time, and the dataset is still written
    assert " and ".join(empty) in warning and "at least 1 piece" in warning and "at least 3 pieces" in warning
    windows = TokenWindows(tmp_path / "out", empty[0], 16)
    assert windows.num_tokens == 0 and windows.num_pieces == 0
    assert list(windows.eval_batches(4)) == []
    with pytest.raises(ValueError, match="empty split"):
        windows.sample_batch(np.random.default_rng(0), 2)
