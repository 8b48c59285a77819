"""Sources of training music: MIDI folders and files (what counts as one, how each is named), copies found
by their notes, music21's collections with their styles, and the split rules built on top."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from duetto.midi.files import write_midi
from duetto.music.notes import Note
from duetto.train.data import music21_corpus
from duetto.train.data.corpus import read_sources
from duetto.train.data.dataset import build_dataset
from duetto.train.data.dedup import opening_groups
from duetto.train.data.pieces import STYLES, Piece
from duetto.train.data.shards import SPLITS, read_shard
from duetto.train.data.splits import assign_splits, split_of


def melody(seed: int, count: int = 40) -> list[Note]:
    """A tune of its own for every seed: a random walk in pitch and rhythm, with a varied touch."""
    rng = np.random.default_rng(seed)
    notes, time, pitch = [], 0.0, 64
    for _ in range(count):
        length = float(rng.choice([0.25, 0.5, 0.75]))
        pitch = int(np.clip(pitch + rng.integers(-4, 5), 50, 84))
        notes.append(Note(time, time + length * 0.9, pitch, int(rng.integers(50, 100))))
        time += length
    return notes


def write(path: Path, notes: list[Note], bpm: float = 120.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_midi(path, {"tune": notes}, bpm=bpm)
    return path


def identity(path: Path) -> str:
    [piece] = read_sources([str(path)]).pieces
    return piece.id


# --- what a source is ---------------------------------------------------------------------------------


def test_a_single_midi_file_and_a_kar_file_are_sources(tmp_path):
    write(tmp_path / "one.mid", melody(1))
    write(tmp_path / "folder" / "karaoke.kar", melody(2))
    [single] = read_sources([str(tmp_path / "one.mid")]).pieces
    assert single.name == "one.mid" and len(single.notes) == 40
    [karaoke] = read_sources([str(tmp_path / "folder")]).pieces
    assert karaoke.name == "karaoke.kar" and len(karaoke.notes) == 40


@pytest.mark.parametrize("source, message", [
    ("missing", "source {path} does not exist: expected a folder of MIDI files, one MIDI file"),
    ("notes.txt", "source {path} is not named as a MIDI file: expected a folder"),
    ("music21:nosuch", "unknown source 'music21:nosuch': music21 has no such collection"),
])
def test_a_source_that_cannot_be_read_is_refused_in_one_line(tmp_path, source, message):
    (tmp_path / "notes.txt").write_text("a README\n")
    path = str(tmp_path / source) if not source.startswith("music21:") else source
    with pytest.raises(ValueError) as refused:
        read_sources([path, "music21:bach"], cache_dir=tmp_path / "cache")
    assert str(refused.value).startswith(message.format(path=path)) and "\n" not in str(refused.value)
    assert not (tmp_path / "cache").exists(), "a source was read before every source was checked"


def test_a_text_file_named_mid_is_not_a_midi_file(tmp_path):
    (tmp_path / "README.mid").write_text("This folder holds my tunes.\n")
    [skipped] = read_sources([str(tmp_path)]).skipped
    assert skipped.reason == "not a MIDI file (it does not begin with MThd)"


def test_other_files_are_counted_by_extension_not_listed(tmp_path):
    write(tmp_path / "tune.mid", melody(3))
    for name in ("README.txt", "notes.TXT", "sub/score.pdf", "LICENSE"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("not music\n")
    found = read_sources([str(tmp_path)])
    assert found.skipped == [] and len(found.pieces) == 1
    assert found.not_midi == {".txt": 2, ".pdf": 1, "(no extension)": 1}


def test_with_two_sources_every_report_names_the_folder(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        write(folder / "music000.mid", melody(4))
        (folder / "broken.mid").write_bytes(b"MThd\x00\x00")
    found = read_sources([str(first), str(second)])
    assert [piece.name for piece in found.pieces] == [f"{first}/music000.mid"]
    reasons = {item.name: item.reason for item in found.skipped}
    assert reasons[f"{second}/music000.mid"] == f"duplicate of {first}/music000.mid"
    assert set(reasons) == {f"{first}/broken.mid", f"{second}/broken.mid", f"{second}/music000.mid"}


# --- copies found by their notes ----------------------------------------------------------------------


def test_a_copy_saved_at_another_tempo_and_touch_is_dropped_naming_both(tmp_path):
    tune = melody(5)
    write(tmp_path / "a" / "tune.mid", tune)
    resaved = [Note(n.start * 1.5 + 2.0, n.end * 1.5 + 2.0, n.pitch, 127 - n.velocity) for n in tune]
    write(tmp_path / "b" / "tune (copy).mid", resaved, bpm=90.0)
    write(tmp_path / "b" / "other.mid", melody(6))
    found = read_sources([str(tmp_path / "a"), str(tmp_path / "b")])
    assert sorted(p.name for p in found.pieces) == sorted([f"{tmp_path}/a/tune.mid", f"{tmp_path}/b/other.mid"])
    [copy] = found.skipped
    assert (copy.name, copy.reason) == (f"{tmp_path}/b/tune (copy).mid", f"same music as {tmp_path}/a/tune.mid")


def test_the_same_tune_in_another_key_is_a_copy_naming_the_interval(tmp_path):
    tune = melody(7)
    write(tmp_path / "in C.mid", tune)
    write(tmp_path / "in D.mid", [Note(n.start, n.end, n.pitch + 2, n.velocity) for n in tune])
    write(tmp_path / "other.mid", melody(9))
    found = read_sources([str(tmp_path)])
    assert sorted(p.name for p in found.pieces) == ["in C.mid", "other.mid"]
    [copy] = found.skipped
    assert (copy.name, copy.reason) == ("in D.mid", "same music as in C.mid, +2 semitones")


def test_an_excerpt_lands_in_the_split_of_its_whole_piece(tmp_path):
    folder = tmp_path / "midi"
    whole = melody(8, count=60)
    whole_split = split_of(identity(write(folder / "whole.mid", whole)))
    for count in range(24, 59):  # an excerpt whose own hash would put it in another split than its piece's
        # and in another key: a transposed excerpt is still the same music
        excerpt = write(tmp_path / "excerpt.mid", [Note(n.start, n.end, n.pitch - 5, n.velocity) for n in whole[:count]])
        if split_of(identity(excerpt)) != whole_split:
            break
    else:
        pytest.fail("no excerpt hashes into another split than its piece")
    excerpt.rename(folder / "excerpt.mid")
    for seed in range(10):
        write(folder / f"other{seed}.mid", melody(100 + seed, count=61 + seed))
    manifest = build_dataset([str(folder)], tmp_path / "data", augment_copies=0)
    assert [sorted(group) for group in manifest["shared_openings"]] == [["excerpt.mid", "whole.mid"]]
    lengths = {split: [len(notes) for notes in read_shard(tmp_path / "data", split).notes()] for split in SPLITS}
    [excerpt_split] = [split for split in SPLITS if count in lengths[split]]
    assert 60 in lengths[excerpt_split], lengths


# --- splits -------------------------------------------------------------------------------------------


def pieces_hashing_into(split: str, count: int, style: str, prefix: str) -> list[Piece]:
    """Pieces of one style whose identities all hash into `split`, each a tune of its own."""
    ids = (f"{prefix}{index}" for index in range(10_000))
    chosen = [piece_id for piece_id in ids if split_of(piece_id) == split][:count]
    return [Piece(piece_id, piece_id, melody(sum(map(ord, piece_id)) * 100 + index), style)
            for index, piece_id in enumerate(chosen)]


def test_every_style_of_three_pieces_reaches_valid_and_test():
    folk = pieces_hashing_into("train", 3, "folk", "folk-")
    chorale = pieces_hashing_into("train", 8, "chorale", "chorale-") + pieces_hashing_into("test", 1, "chorale", "c-")
    pair = pieces_hashing_into("test", 2, "renaissance", "pair-")
    by_split = assign_splits([[piece] for piece in folk + chorale + pair])
    styles = {split: [piece.style for piece in members] for split, members in by_split.items()}
    for split in SPLITS:
        assert styles[split].count("folk") == 1, styles
        assert "chorale" in styles[split]
    assert styles["test"].count("chorale") == 1  # the piece that hashed into test stayed there, alone
    assert styles["train"].count("renaissance") == 2  # too few to hold any out: both train


def test_the_pieces_that_move_are_the_same_on_every_build():
    folk = pieces_hashing_into("train", 6, "folk", "tune-")
    first = assign_splits([[piece] for piece in folk])
    again = assign_splits([[piece] for piece in reversed(folk)])
    assert {split: {p.id for p in members} for split, members in first.items()} == \
        {split: {p.id for p in members} for split, members in again.items()}


def test_a_group_goes_where_its_most_held_out_member_hashes():
    [held] = pieces_hashing_into("test", 1, "folk", "held-")
    [trained, alone] = pieces_hashing_into("train", 2, "folk", "trained-")
    [valid] = pieces_hashing_into("valid", 1, "folk", "valid-")
    by_split = assign_splits([[trained, held], [alone], [valid]])
    assert {split: [p.id for p in members] for split, members in by_split.items()} == {
        "train": [alone.id], "valid": [valid.id], "test": [trained.id, held.id]}


def test_pieces_that_open_alike_form_one_group():
    tune = melody(9, count=40)
    whole = Piece("a", "whole", tune)
    excerpt = Piece("b", "excerpt", tune[:25])
    short = Piece("c", "too short to tell", tune[:12])
    other = Piece("d", "another tune", melody(10))
    assert [[p.name for p in group] for group in opening_groups([whole, other, excerpt, short])] == [
        ["whole", "excerpt"], ["another tune"], ["too short to tell"]]


# --- music21's collections ----------------------------------------------------------------------------


def test_every_collection_of_music21_is_read_or_left_out_on_purpose():
    on_disk = {folder.name for folder in music21_corpus.corpus_root().iterdir()
               if folder.is_dir() and not folder.name.startswith("_")}
    assert on_disk == set(music21_corpus.COLLECTIONS) | set(music21_corpus.LEFT_OUT)
    assert set(music21_corpus.COLLECTIONS.values()) <= set(STYLES)
    assert music21_corpus.collection_of("music21:all") == list(music21_corpus.COLLECTIONS)
    counts = {name: len(music21_corpus.collection_items(name)) for name in music21_corpus.COLLECTIONS}
    assert all(counts.values()), counts
    assert counts["bach"] == 350 and counts["essenFolksong"] > 8000 and counts["palestrina"] > 1000


def test_collections_become_pieces_with_their_style_and_are_cached(tmp_path):
    sources = ["music21:essenFolksong", "music21:josquin", "music21:palestrina"]
    found = read_sources(sources, cache_dir=tmp_path, limit=2)
    assert [(p.name, p.style) for p in found.pieces] == [
        ("essenFolksong/altdeu10/1", "folk"), ("essenFolksong/altdeu10/2", "folk"),
        ("josquin/4vPerIlludAveProlatum", "renaissance"), ("josquin/adieuMesAmours", "renaissance"),
        ("palestrina/Agnus", "renaissance"), ("palestrina/Agnus_00", "renaissance")]
    assert all(p.id == f"music21:{p.name}" and len(p.notes) > 20 for p in found.pieces)
    josquin = found.pieces[2]
    sounding = [sum(other.start <= n.start < other.end for other in josquin.notes) for n in josquin.notes]
    assert max(sounding) >= 2, "the voices of a Josquin file (one under each X: line) were not merged"
    caches = sorted(path.name for path in tmp_path.rglob("*.json"))
    assert caches == ["essenFolksong.json", "josquin.json", "palestrina.json"]
    cache = next(tmp_path.rglob("essenFolksong.json"))
    assert len(json.loads(cache.read_text())["items"]) == 2
    more = read_sources(["music21:essenFolksong"], cache_dir=tmp_path, limit=3)  # parses one more tune only
    assert more.pieces[:2] == found.pieces[:2] and len(json.loads(cache.read_text())["items"]) == 3
    written = cache.stat().st_mtime_ns
    assert read_sources(["music21:essenFolksong"], cache_dir=tmp_path, limit=3) == more
    assert cache.stat().st_mtime_ns == written  # all of it came from the cache


def test_an_unreadable_score_becomes_a_one_line_reason():
    broken = music21_corpus.Item("essenFolksong", "broken/1", "broken.abc", "X:1\nM:4/4\nK:G\n|: [[[ ((( :|\n")
    result = music21_corpus.parse_item(broken)
    assert set(result) == {"error"} and "\n" not in result["error"]
    empty = music21_corpus.Item("essenFolksong", "empty/1", "empty.abc", "X:1\nT:Nothing\nK:C\n")
    assert music21_corpus.parse_item(empty) == {"error": "no notes"}


def test_a_score_that_takes_too_long_to_parse_is_given_up_and_said_so():
    tune = music21_corpus.Item("essenFolksong", "slow/1", "slow.abc",
                               "X:1\nM:4/4\nL:1/8\nK:G\n" + "|: GABc dedB | dBGB A2 D2 :|\n" * 40)
    result = music21_corpus.parse_item(tune, seconds=0.001)  # no real tune parses in a millisecond
    assert result == {"error": "music21 took longer than 0.001 s to read it", "timed_out": True}
    assert "notes" in music21_corpus.parse_item(tune)  # the same tune, given the usual time


def test_a_score_plays_at_its_tempo_marks_and_else_at_the_default():
    from music21 import note, stream, tempo

    def score(*marks: tuple[float, float]):
        part = stream.Part()
        for offset, bpm in marks:
            part.insert(offset, tempo.MetronomeMark(number=bpm))
        for index in range(8):
            part.insert(index, note.Note(60 + index, quarterLength=1))
        return stream.Score([part])

    plain = music21_corpus.score_notes(score())
    assert [n.start for n in plain] == pytest.approx([i * music21_corpus.SECONDS_PER_QUARTER for i in range(8)])
    assert music21_corpus.TempoMap.of(score()).opening_seconds_per_quarter == music21_corpus.SECONDS_PER_QUARTER
    changing = music21_corpus.score_notes(score((0, 120), (4, 60)))
    assert [n.start for n in changing] == pytest.approx([0, 0.5, 1, 1.5, 2, 3, 4, 5])
    assert changing[-1].end == pytest.approx(6)
    assert music21_corpus.TempoMap.of(score((0, 120), (4, 60))).opening_seconds_per_quarter == 0.5


# --- styles -------------------------------------------------------------------------------------------


def test_a_new_style_is_added_after_the_built_in_ones_and_labels_each_sequence(tmp_path):
    folder = tmp_path / "midi"
    for seed in range(4):
        write(folder / f"tune{seed}.mid", melody(seed))
    manifest = build_dataset([str(folder), "music21:bach"], tmp_path / "data", augment_copies=1, limit=3,
                             cache_dir=tmp_path / "cache", style="jazz")
    assert manifest["styles"] == [*STYLES, "jazz"]
    counts = manifest["style_counts"]
    assert sum(c["pieces"] for c in counts["jazz"].values()) == 3
    assert sum(c["pieces"] for c in counts["chorale"].values()) == 3
    assert all(counts[style][split]["pieces"] >= 1 for style in ("jazz", "chorale") for split in SPLITS)
    for split in SPLITS:
        shard = read_shard(tmp_path / "data", split)
        expected = counts["jazz"][split]["sequences"] * [len(STYLES)] + counts["chorale"][split]["sequences"] * [0]
        assert sorted(shard.styles.tolist(), reverse=True) == expected


@pytest.mark.parametrize("style", ["Jazz", "film music", "", "jazz2"])
def test_a_style_name_is_lowercase_words(tmp_path, style):
    write(tmp_path / "tune.mid", melody(1))
    with pytest.raises(ValueError, match="--style .*lowercase letters"):
        read_sources([str(tmp_path)], style=style)
