"""`duetto score`: bits per note of real MIDI files through a model file, per file or per part, pooled,
with unreadable files skipped and counted, and the same figure the quality bench's scorer gives."""

from __future__ import annotations

import json
import math

import pytest

from duetto.cli import main
from duetto.encodings import events
from duetto.midi.files import write_midi
from duetto.model.scoring import sequence_nats
from duetto.music.notes import Note
from duetto.offline.score import score_paths


def two_parts() -> dict[str, list[Note]]:
    tune = [Note(0.5 * i, 0.5 * i + 0.45, 67 + (i % 4), 80, 0) for i in range(16)]
    bass = [Note(2.0 * i, 2.0 * i + 1.9, 43 + (i % 2) * 5, 70, 1) for i in range(4)]
    return {"tune": tune, "bass": bass}


def lines_of(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_each_file_then_all_and_parts_on_request(tmp_path, capsys, shipped_model):
    folder = tmp_path / "music"
    folder.mkdir()
    write_midi(folder / "a.mid", two_parts(), bpm=120)
    write_midi(folder / "b.mid", {"tune": two_parts()["tune"]}, bpm=120)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    assert main(["score", str(folder)]) == 0
    captured = capsys.readouterr()
    rows = lines_of(captured.out)
    assert [row[-1] for row in rows] == [str(folder / "a.mid"), str(folder / "b.mid"), "all"]
    assert [int(row[2]) for row in rows] == [20, 16, 36]
    assert all(0 < float(row[0]) for row in rows)
    assert "skipped 1 unreadable file" in captured.err
    assert main(["score", str(folder / "a.mid"), "--per-part", "--json", str(tmp_path / "s.json")]) == 0
    parts = lines_of(capsys.readouterr().out)
    assert [row[-1] for row in parts] == ["1", "2", "all"] and [int(row[2]) for row in parts] == [16, 4, 20]
    written = json.loads((tmp_path / "s.json").read_text())
    assert [line["notes"] for line in written["lines"]] == [16, 4, 20]


def test_an_event_model_scores_a_file_as_the_scorer_steps_its_tokens(tmp_path, shipped_event_model):
    notes = two_parts()["tune"]
    write_midi(tmp_path / "t.mid", {"t": notes}, bpm=120)
    (line, *_), _ = score_paths(shipped_event_model, [tmp_path / "t.mid"])
    tokens = [events.START, *events.encode_conditioned(notes, None)]
    nats, _, count = sequence_nats(shipped_event_model, tokens, conditioning_counts=False)
    assert line.notes == count == 16 and line.bits_per_note == pytest.approx(nats / count / math.log(2))


def test_a_metrical_model_pays_for_each_note_and_nothing_else(tmp_path, untrained_metrical):
    write_midi(tmp_path / "t.mid", two_parts(), bpm=100)
    (line, *_), _ = score_paths(untrained_metrical, [tmp_path / "t.mid"])
    assert line.notes == 20 and math.isfinite(line.bits_per_note)
    # an untrained model spreads its odds evenly-ish: each note costs about the bits of all five fields
    assert 15 < line.bits_per_note < 35


def test_missing_paths_and_empty_folders_are_one_line(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nowhere.mid")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["score", str(empty)]) == 1
    assert "no notes to score" in capsys.readouterr().err
