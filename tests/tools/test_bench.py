"""A smoke run of `duetto bench latency`: it runs end to end and writes well-formed figures; and its report
prints when figures are missing.

The figures themselves are judged in docs/benchmarks.md, never by timed assertions here.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

from duetto.model.step_model import StepModel
from duetto.models import DEFAULT_MODEL, EVENT_MODEL
from duetto.tools.bench import BASELINES_ONCE
from duetto.tools.bench_report import (MISSING, Answers, Jack, LatencyReport, Machine, Response, StepFigures, Summary,
                                       Throughput, format_report, write_json)


def is_summary(stats: dict) -> bool:
    return (stats["n"] > 0 and all(math.isfinite(stats[key]) for key in ("median_ms", "p99_ms", "max_ms"))
            and stats["median_ms"] <= stats["p99_ms"] <= stats["max_ms"])


@pytest.mark.slow
def test_quick_latency_bench_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    families = DEFAULT_MODEL.parent / "families"
    # the event transformer (a cache of several sizes), an LSTM; families fed more than a token, one of them
    # with a per-key state written in place
    also = [str(EVENT_MODEL), str(families / "events.onnx"), str(families / "melody.onnx"),
            str(families / "biaxial.onnx")]
    result = subprocess.run([sys.executable, "-m", "duetto", "bench", "latency", "--quick", "--model",
                             str(DEFAULT_MODEL), "--also", *also, "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    cpu = [row for row in report["steps"] if row["provider"] == "CPUExecutionProvider"]
    note_step, *transformer_steps, events_step, melody_step, biaxial_step = cpu
    # the default steps once per note, closed loop at its live cache, set against Notochord's cost per event
    assert note_step["model"] == "default.onnx" and note_step["family"] == "metrical" and note_step["per_note"]
    assert note_step["context"] == StepModel(DEFAULT_MODEL).info.max_steps and is_summary(note_step["onnxruntime"])
    notochord = report["notochord"]
    assert notochord["unavailable"] is not None or notochord["per_note_over_per_event"]["default.onnx"] > 0
    assert [row["context"] for row in transformer_steps] == [128, 256, 512]  # the cache sizes it can hold
    for row in transformer_steps:
        assert row["model"] == "transformer.onnx" and row["family"] == "transformer"
        assert is_summary(row["onnxruntime"]) and is_summary(row["torch_eager"])
        assert row["window_tokens"] == row["context"]
    assert events_step["family"] == "events" and events_step["context"] is None
    assert is_summary(events_step["onnxruntime"]) and events_step["onnxruntime"]["n"] == 200
    assert is_summary(events_step["torch_eager"]) and is_summary(events_step["recompute_window"])
    assert events_step["recompute_window"]["median_ms"] > events_step["onnxruntime"]["median_ms"]
    for step, family, inputs in ((melody_step, "melody", ["pitch"]),
                                 (biaxial_step, "biaxial", ["beat", "lower", "prev_frame"])):
        assert step["family"] == family and step["inputs"] == inputs
        assert is_summary(step["onnxruntime"]) and is_summary(step["torch_eager"])
        assert step["recompute_window"] is None
    assert report["jack"]["period_frames"] == 64 and is_summary(report["jack"]["one_way_transport"])
    response = report["response"]
    assert response["phrases"] == 10
    # the bot is sent early by the private server's period (half of it each way), read from libjack
    assert math.isclose(response["compensation_ms"], report["jack"]["period_ms"], rel_tol=1e-9)
    assert response["uncompensated"]["compensation_ms"] == 0
    for answers in (response, response["uncompensated"]):
        assert answers["unanswered"] == 0
        for part in ("response_latency", "trip_in", "first_note_leaves_late", "trip_out"):
            assert answers[part]["n"] == 10 and all(math.isfinite(answers[part][key])
                                                    for key in ("median_ms", "p99_ms", "max_ms"))
    assert "response latency, no transport compensation (baseline)" in result.stdout
    assert is_summary(response["sender_lateness"]) and is_summary(response["arrival_lateness"])
    # the CPU always; the GPU beside it where CUDA is usable, else the report says why its figures are missing
    gpu = report["devices"] == ["cpu", "cuda"]
    assert gpu or (report["devices"] == ["cpu"] and "CUDA" in report["gpu_unavailable"])
    assert (report["gpu_unavailable"] is None) == gpu
    gpu_steps = [row for row in report["steps"] if row not in cpu]
    assert len(gpu_steps) == (len(cpu) if gpu else 0)  # each step again on the GPU, its baselines run once
    assert all(is_summary(row["onnxruntime"]) and row["torch_unavailable"] == BASELINES_ONCE for row in gpu_steps)
    assert [row["device"] for row in report["throughput"]] == \
        ["CPUExecutionProvider", "CUDAExecutionProvider"][:len(report["devices"])]
    assert report["throughput"][0]["unit"] == "notes" and report["throughput"][0]["batch_1_tokens_per_second"] > 0
    assert report["peak_rss_mb"] > 10
    # steadiness, following MIDI Clock: with no load, then with every core kept busy by another process
    idle, loaded = report["steadiness"]
    assert idle["busy_processes"] == 0 and loaded["busy_processes"] == os.cpu_count()
    for steady in (idle, loaded):
        assert steady["phrases"] == 10 and steady["answer_late"]["n"] + steady["unanswered"] == 10
        assert steady["unanswered"] < 10
        # a note the bot left sounding fails, unless the transport lost as many messages: JACK drops MIDI in
        # the cycles an overloaded machine makes a client miss (without real-time threads, as in CI, at once;
        # with them, here, under a second benchmark's load: 4 messages lost, 1 note left sounding)
        stuck, lost = steady["stuck_notes"], steady["messages_lost_in_transport"]
        assert stuck <= lost, (stuck, lost)
        assert is_summary(steady["note_timing"]) and is_summary(steady["note_spread"])
        assert steady["grid_offset"]["n"] > 0, "the bot never followed the clock"
        # the model falling behind is said when it happens, once and not once a note
        cut, said = steady["answers_cut_short"], steady["lines_about_it"]
        assert (said > 0) == (cut > 0) and said <= cut
    assert f"| under {os.cpu_count()} busy processes: answer's first note after it was due" in result.stdout
    hearing = report["hearing"]  # 40 notes, each a key-down and a key-up, heard as the engine would
    assert hearing["key_event"]["n"] == 80 and is_summary(hearing["key_event"]) and hearing["tokens"] >= 40
    assert "| hearing a key event, 8 notes/s" in result.stdout
    assert "| step default.onnx (metrical, context" in result.stdout
    assert "| step transformer.onnx (transformer, context 128), ONNX Runtime" in result.stdout
    assert "| step events.onnx (events), ONNX Runtime" in result.stdout


def test_the_report_prints_missing_figures_as_missing():
    """A run where the PyTorch baselines measured nothing, no phrase was answered and `duetto jam` never
    opened its ports: empty summaries, ratios of nothing, no p99 to compare, no memory figure."""
    measured, nothing = Summary.of([0.0002, 0.0003]), Summary()
    step = StepFigures("events", "events.onnx", None, "CPUExecutionProvider", measured, torch_eager=nothing,
                       recompute_window=nothing, window_tokens=256)
    answers = Answers(1.33, *[nothing] * 6, unanswered=10)
    response = Response(**vars(answers), phrases=10, phrase_gap_ms=100.0,
                        uncompensated=Answers(0.0, *[nothing] * 6, unanswered=10), transport_median_ms=0.85)
    report = LatencyReport("duetto bench latency --quick", "2025-01-01 12:00",
                           Machine("test cpu", None, "3.11.7", None), "default.onnx", ["cpu"], steps=[step],
                           throughput=[Throughput("CPUExecutionProvider", 4000.0, 32, 50000.0)],
                           gpu_unavailable="CUDA is not available",
                           jack=Jack(48000, 64, False, 1.33, Summary.of([0.0008, 0.0009])), response=response,
                           jack_unavailable="duetto jam did not open its ports: gone")
    assert step.torch_over_onnxruntime is None and response.over_uncompensated is None
    assert response.beyond_transport_p99_ms is None
    lines = format_report(report).splitlines()
    missing = f"| 0 | {MISSING} | {MISSING} | {MISSING} |"
    assert any(line.startswith("| step events.onnx (events), PyTorch eager " + missing) for line in lines), lines
    assert any(line.startswith("| recompute 256-token window events.onnx (events), PyTorch " + missing)
               for line in lines), lines
    assert any(line.startswith("| response latency, gap end -> first note at client") and missing in line
               for line in lines), lines
    assert f"({MISSING} cores), onnxruntime {MISSING}" in lines[0]
    assert any(f"median one-way latency: {MISSING}; unanswered phrases: 10" in line for line in lines), lines
    assert f"peak RSS of `duetto jam`: {MISSING}" in lines
    assert "real-port figures: unavailable (duetto jam did not open its ports: gone)" in lines
    assert not [line for line in lines if re.search(r"\b(None|nan)\b", line)], lines


def test_the_json_report_holds_every_figure_by_name(tmp_path):
    step = StepFigures("transformer", "default.onnx", 128, "CPUExecutionProvider", Summary.of([0.001, 0.003]),
                       torch_eager=Summary.of([0.004]), recompute_window=Summary.of([0.1]), window_tokens=128)
    report = LatencyReport("c", "d", Machine("cpu", 2, "3.11", "1.2"), "m", ["cpu"], steps=[step], peak_rss_mb=80.0)
    write_json(str(tmp_path / "bench.json"), report)
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["steps"][0]["onnxruntime"] == {"n": 2, "median_ms": 2.0, "p99_ms": pytest.approx(2.98),
                                                   "max_ms": 3.0}
    assert written["steps"][0]["window_tokens"] == 128 and written["peak_rss_mb"] == 80.0
    assert step.torch_over_onnxruntime == pytest.approx(2.0) and step.recompute_over_onnxruntime == pytest.approx(50)
