"""Pictures drawn with the real matplotlib: what a musician reads off the piano roll (pitch names, a
legend, the continuation's start, bars, a long prompt's end) and the files each format writes."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

from duetto.music.notes import Note
from duetto.offline.plots import Mark, PlotError, bar_starts, piano_roll_figure, pitch_name, save_figure

PROMPT = [Note(0.0, 0.5, 60, 40), Note(0.5, 1.0, 64, 120), Note(1.0, 2.0, 67, 80)]
ANSWER = [Note(2.2, 2.6, 72, 90), Note(2.6, 3.5, 71, 90)]


def roll(**options):
    return piano_roll_figure({"Prompt": PROMPT, "Duetto": ANSWER}, [Mark(2.2, "continuation", "Duetto")], **options)


def texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def test_pitch_names_count_octaves_from_middle_c():
    assert [pitch_name(p) for p in (60, 61, 69, 21, 108)] == ["C4", "C#4", "A4", "A0", "C8"]


def test_the_roll_names_pitches_and_parts_and_marks_where_the_continuation_starts():
    axes = roll(title="tune.mid").axes[0]
    assert texts(axes.get_legend().get_texts()) == ["Prompt", "Duetto"]
    names = texts(axes.get_yticklabels())
    assert {"C4", "E4", "G4", "C5"} <= set(names) and not any("#" in name for name in names)
    low, high = axes.get_ylim()
    assert low < 60 and high > 72  # every note in view
    marks = [line for line in axes.get_lines() if line.get_gid() == "mark"]
    assert [tuple(line.get_xdata()) for line in marks] == [(2.2, 2.2)]
    assert marks[0].get_color() == "#e8590c"  # in Duetto's colour
    assert "continuation" in texts(axes.texts)
    assert axes.get_xlabel() == "time (s)" and axes.get_title(loc="left") == "tune.mid"


def test_louder_notes_are_drawn_darker():
    prompt = roll().axes[0].collections[0]
    alphas = prompt.get_facecolors()[:, 3]
    assert alphas[1] > alphas[2] > alphas[0]  # velocities 120, 80, 40


def test_bars_follow_the_tempo_map():
    assert bar_starts([(0.0, 120.0), (4.0, 60.0)], 12.0) == pytest.approx([0.0, 2.0, 4.0, 8.0, 12.0])
    assert bar_starts([(0.0, 90.0)], 5.0) == pytest.approx([0.0, 8 / 3])  # the next is past 5 s


def test_with_a_tempo_the_bars_are_numbered_along_the_top():
    axes = roll(tempos=[(0.0, 120.0)]).axes[0]
    (top,) = axes.child_axes
    assert texts(top.get_xticklabels()) == ["1", "2"]  # 120 BPM: bars at 0 and 2 s
    assert top.get_xlabel() == "bar (4 beats)"
    assert not roll().axes[0].child_axes  # no tempo known, no bars claimed


def test_a_long_prompt_shows_its_end_and_reads_in_minutes():
    long_prompt = [Note(0.25 * i, 0.25 * i + 0.2, 60 + i % 12, 80) for i in range(2400)]  # 10 minutes
    figure = piano_roll_figure({"Prompt": long_prompt, "Duetto": [Note(600.2, 601.0, 50, 80)]}, since=590.0)
    axes = figure.axes[0]
    assert axes.get_xlim()[0] == 590.0
    assert len(axes.collections[0].get_paths()) == 40  # the last 10 s of the prompt, not all of it
    assert axes.get_ylim()[0] < 50 < 72 < axes.get_ylim()[1]
    assert axes.get_xlabel() == "time (m:ss)"
    figure.canvas.draw()
    assert "10:00" in texts(axes.get_xticklabels())
    width, _ = figure.get_size_inches()
    assert width <= 16


def test_drum_notes_are_not_drawn_as_pitches():
    axes = piano_roll_figure({"Prompt": PROMPT + [Note(0.0, 0.1, 36, 100, channel=9)]}).axes[0]
    assert len(axes.collections[0].get_paths()) == len(PROMPT)
    assert axes.get_ylim()[0] > 50


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_each_format_is_written_as_its_name_asks(tmp_path, suffix):
    path = tmp_path / f"roll{suffix}"
    save_figure(roll(title="a prompt and its continuation"), path)
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(path) as image:
            assert image.text["Title"] == "a prompt and its continuation"
            assert image.width > 600 and image.height > 300
    elif suffix == ".svg":
        assert ElementTree.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"
    else:
        assert data.startswith(b"%PDF")
    assert [item.name for item in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_a_name_of_another_format_is_refused(tmp_path):
    with pytest.raises(PlotError, match="roll.jpg: a picture is named .png, .svg, .pdf"):
        save_figure(roll(), tmp_path / "roll.jpg")
    assert not list(tmp_path.iterdir())
