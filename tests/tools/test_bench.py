"""A smoke run of `duetto bench latency`: it runs end to end and writes well-formed figures; and its report
prints when figures are missing.

The figures themselves are judged in docs/benchmarks.md, never by timed assertions here.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

from duetto.models import DEFAULT_MODEL
from duetto.tools.bench import BASELINES_ONCE, MISSING, format_report, ratio, summarize


def is_summary(stats: dict) -> bool:
    return (stats["n"] > 0 and all(math.isfinite(stats[key]) for key in ("median_ms", "p99_ms", "max_ms"))
            and stats["median_ms"] <= stats["p99_ms"] <= stats["max_ms"])


@pytest.mark.slow
def test_quick_latency_bench_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    families = DEFAULT_MODEL.parent / "families"
    # an LSTM; families fed more than a token, one of them with a per-key state written in place
    also = [str(families / "events.onnx"), str(families / "melody.onnx"), str(families / "biaxial.onnx")]
    result = subprocess.run([sys.executable, "-m", "duetto", "bench", "latency", "--quick", "--model",
                             str(DEFAULT_MODEL), "--also", *also, "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    cpu = [row for row in report["steps"] if row["provider"] == "CPUExecutionProvider"]
    *transformer_steps, events_step, melody_step, biaxial_step = cpu
    assert [row["context"] for row in transformer_steps] == [128, 256, 512]  # the cache sizes it can hold
    for row in transformer_steps:
        assert row["model"] == "default.onnx" and row["family"] == "transformer"
        assert is_summary(row["onnxruntime"]) and is_summary(row["torch_eager"])
        assert row["recompute_window"]["window_tokens"] == row["context"]
    assert events_step["family"] == "events" and events_step["context"] is None
    assert is_summary(events_step["onnxruntime"]) and events_step["onnxruntime"]["n"] == 200
    assert is_summary(events_step["torch_eager"]) and is_summary(events_step["recompute_window"])
    assert events_step["recompute_over_onnxruntime"] > 0
    for step, family, inputs in ((melody_step, "melody", ["pitch"]),
                                 (biaxial_step, "biaxial", ["beat", "lower", "prev_frame"])):
        assert step["family"] == family and step["inputs"] == inputs
        assert is_summary(step["onnxruntime"]) and is_summary(step["torch_eager"])
        assert step["torch_over_onnxruntime"] > 0 and "recompute_window" not in step
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
    assert ("gpu_unavailable" in report) != gpu
    gpu_steps = [row for row in report["steps"] if row not in cpu]
    assert len(gpu_steps) == (len(cpu) if gpu else 0)  # each step again on the GPU, its baselines run once
    assert all(is_summary(row["onnxruntime"]) and row["torch_unavailable"] == BASELINES_ONCE for row in gpu_steps)
    assert [row["device"] for row in report["throughput"]] == \
        ["CPUExecutionProvider", "CUDAExecutionProvider"][:len(report["devices"])]
    assert report["throughput"][0]["batched_tokens_per_second"] > 0
    assert report["memory"]["peak_rss_mb"] > 10
    hearing = report["hearing"]  # 40 notes, each a key-down and a key-up, heard as the engine would
    assert hearing["key_event"]["n"] == 80 and is_summary(hearing["key_event"]) and hearing["tokens"] > 80
    assert "| hearing a key event, 8 notes/s" in result.stdout
    assert "| step default.onnx (transformer, context 128), ONNX Runtime" in result.stdout
    assert "| step events.onnx (events), ONNX Runtime" in result.stdout


def test_the_report_prints_missing_figures_as_missing():
    """A run where the PyTorch baselines measured nothing, no phrase was answered and `duetto jam` never
    opened its ports, built as `run_latency_bench` builds it: empty summaries, ratios of None, the NaN
    left by arithmetic on a missing p99, and no memory figure."""
    measured, nothing = summarize([0.0002, 0.0003]), summarize([])
    step = {"family": "events", "model": "events.onnx", "context": None, "provider": "CPUExecutionProvider",
            "onnxruntime": measured, "torch_eager": nothing, "recompute_window": {**nothing, "window_tokens": 256},
            "torch_over_onnxruntime": ratio(nothing, measured), "recompute_over_onnxruntime": ratio(nothing, measured)}
    answers = {**{part: nothing for part in ("response_latency", "trip_in", "first_note_leaves_late", "trip_out",
                                             "sender_lateness", "arrival_lateness")},
               "compensation_ms": 1.33, "unanswered": 10, "messages_lost_in_transport": 0,
               "concurrent_inference_steps": 0}
    transport = summarize([0.0008, 0.0009])
    response = {"phrases": 10, "phrase_gap_ms": 100.0, **answers, "uncompensated": {**answers, "compensation_ms": 0.0},
                "over_uncompensated": ratio(nothing, nothing),
                "beyond_transport_p99_ms": nothing.get("p99_ms", math.nan) - transport.get("median_ms", math.nan),
                "over_transport": ratio(nothing, transport)}
    report = {"command": "duetto bench latency --quick", "date": "2025-01-01 12:00",
              "machine": {"cpu": "test cpu", "cores": None, "python": "3.11.7", "onnxruntime": None},
              "model": "default.onnx", "devices": ["cpu"], "steps": [step],
              "throughput": [{"device": "CPUExecutionProvider", "batch_1_tokens_per_second": 4000.0, "batch": 32,
                              "batched_tokens_per_second": 50000.0}],
              "gpu_unavailable": "CUDA is not available",
              "jack": {"rate": 48000, "period_frames": 64, "realtime": False, "period_ms": 1.33,
                       "one_way_transport": transport},
              "response": response, "jack_unavailable": "duetto jam did not open its ports: gone"}
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
