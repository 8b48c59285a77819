"""The in-kind figures of `duetto bench quality`: how far an answer is of a kind with its call."""

from __future__ import annotations

import math

import pytest

from duetto.music.notes import Note
from duetto.tools.quality import in_kind, summarize_kind

C_MAJOR_LINE = [Note(0.5 * i, 0.5 * i + 0.45, pitch, 80) for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 2)]


def chords(pitches, start=0.0, count=8) -> list[Note]:
    return [Note(start + i, start + i + 0.9, pitch, 80) for i in range(count) for pitch in pitches]


def test_an_answer_in_kind_scores_full_and_one_unlike_it_does_not():
    alike = in_kind(C_MAJOR_LINE, C_MAJOR_LINE, 8.0, 8.0)
    assert (alike["texture_gap"], alike["in_key"], alike["in_register"], alike["pace"]) == (0.0, 1.0, 1.0, 1.0)
    assert alike["call_is_line"]
    unlike = in_kind(C_MAJOR_LINE, chords((37, 42, 46, 49)), 8.0, 8.0)  # F# major chords, low, twice as many notes
    assert unlike["texture_gap"] == pytest.approx(3.0)
    assert unlike["in_key"] < 0.5 and unlike["in_register"] == 0.0 and unlike["pace"] == pytest.approx(0.5)
    sparse = in_kind(C_MAJOR_LINE, C_MAJOR_LINE[:4], 8.0, 8.0)
    assert sparse["pace"] == pytest.approx(0.25)


def test_the_summary_takes_the_median_gap_and_the_voices_answering_lines():
    rows = [in_kind(C_MAJOR_LINE, answer, 8.0, 8.0) for answer in (C_MAJOR_LINE, chords((60, 64, 67)), [])]
    summary = summarize_kind(rows)
    assert summary["calls"] == 3 and summary["line_calls"] == 3
    assert summary["texture_gap_median"] == pytest.approx(1.0)  # gaps 0 and 2; the silent answer has none
    assert summary["line_answer_voices"] == pytest.approx(2.0)  # 1 and 3 voices; the silent answer has none
    assert math.isnan(rows[2]["in_key"])
