"""Band music rendered by MMA: charts from progressions and from folk tunes, every note with the part its
MMA track plays, and the build report by style and part. Renders with the real `mma` (Debian's package,
which `make test` installs)."""

from __future__ import annotations

import json
from statistics import median

import pytest

from duetto.cli import main
from duetto.music.chords import chord_of_keys
from duetto.music.notes import Note
from duetto.music.parts import BASS, INNER, MELODY
from duetto.music.timeline import Timeline
from duetto.train.data import accompaniment
from duetto.train.data.accompaniment import GROOVES, chart_line, chord_name, progression_songs, tune_chart
from duetto.train.data.corpus import check_sources
from duetto.train.data.pieces import BAND_STYLES, STYLES, Piece


def test_roman_numerals_name_the_chords_mma_reads():
    assert chord_name("ii7", 0) == "Dm7"
    assert chord_name("bVII", 9) == "G"
    assert chord_name("V7", 3) == "Bb7"
    assert chord_name("vii7b5", 0) == "Bm7b5"
    with pytest.raises(ValueError, match="not a Roman numeral"):
        chord_name("X7", 0)


def test_a_chart_bar_puts_a_chord_on_every_beat():
    assert chart_line(3, ["C", "G7"], 4) == "3 C / G7 /"
    assert chart_line(1, ["Am"], 3) == "1 Am / /"


def test_every_band_style_has_grooves_that_exist_and_a_place_in_the_style_list():
    assert set(GROOVES) == set(BAND_STYLES) and STYLES[-len(BAND_STYLES):] == BAND_STYLES
    for style, band in GROOVES.items():
        for groove_file in band.grooves:
            assert accompaniment.body_grooves(groove_file), (style, groove_file)


def test_an_unknown_band_style_is_refused_in_one_line():
    with pytest.raises(ValueError, match="unknown source 'mma:polka': no such band style"):
        check_sources(["mma:polka"])


def test_a_rendered_progression_labels_bass_and_chords_from_mma_tracks(tmp_path):
    song = progression_songs("swing")[0]
    piece = accompaniment._piece(song, tmp_path)
    assert isinstance(piece, Piece) and len(piece.parts) == len(piece.notes)
    bass = [note.pitch for note, part in zip(piece.notes, piece.parts) if part == BASS]
    chords = [note.pitch for note, part in zip(piece.notes, piece.parts) if part == INNER]
    assert len(bass) > 20 and len(chords) > 20 and median(bass) < median(chords)
    tempo = int(song.chart.split()[1])
    assert piece.timeline.bpm_at(1.0) == pytest.approx(tempo, abs=0.5)
    # the chords struck together on the first beat spell the chart's first chord
    first_chord = song.chart.splitlines()[2].split()[1]
    struck = [note.pitch for note, part in zip(piece.notes, piece.parts) if part == INNER and note.start < 0.02]
    assert str(chord_of_keys(struck)) == first_chord


def test_a_folk_tune_is_the_melody_over_its_band_on_the_same_bar_lines(tmp_path):
    # a 3/4 tune with a pickup of one beat: C major arpeggios, then the dominant
    timeline = Timeline.steady(100.0, (3, 4), origin=-0.6 * 2)  # the bar line two beats before the pickup
    beats = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    pitches = [67, 72, 76, 79, 72, 76, 79, 71, 74, 79, 74, 71, 72]
    tune = Piece("t", "folk/tune", [Note(0.6 * b, 0.6 * b + 0.5, p, 80) for b, p in zip(beats, pitches)], "folk",
                 timeline=timeline)
    chart = tune_chart(tune)
    assert chart["beats"] == 3
    assert chart["melody"][0][0] == pytest.approx(2.0)  # the pickup on the last beat of the first bar
    assert chart["bars"][1] == ["C"] * 3 and chart["bars"][3] == ["G"] * 3
    song = accompaniment.tune_songs("waltz", [tune], 1)[0]
    piece = accompaniment._piece(song, tmp_path)
    melody = [note for note, part in zip(piece.notes, piece.parts) if part == MELODY]
    assert [note.pitch for note in melody] == pitches
    # the tune's downbeats land on the band's bar lines
    downbeat = melody[1]
    position, meter = piece.timeline.bar_position(piece.timeline.beats(downbeat.start))
    assert meter == (3, 4) and position == pytest.approx(0.0, abs=1e-6)


def test_a_build_reports_band_styles_by_part(tmp_path, capsys):
    out = tmp_path / "band"
    assert main(["data", "build", "mma:bossa", "--limit", "2", "--augment", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "melody" in printed.splitlines()[0] or any("bass  inner" in line for line in printed.splitlines())
    manifest = json.loads((out / "manifest.json").read_text())
    counts = [manifest["style_counts"]["bossa"][split]["part_notes"] for split in ("train", "valid", "test")]
    assert sum(c["bass"] for c in counts) > 0 and sum(c["inner"] for c in counts) > 0
