"""A smoke run of `duetto bench latency`: it runs end to end and writes well-formed figures.

The figures themselves are judged in docs/benchmarks.md, never by timed assertions here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

from conftest import SHIPPED_MODEL


def is_summary(stats: dict) -> bool:
    return (stats["n"] > 0 and all(math.isfinite(stats[key]) for key in ("median_ms", "p99_ms", "max_ms"))
            and stats["median_ms"] <= stats["p99_ms"] <= stats["max_ms"])


def test_quick_latency_bench_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "live.cli", "bench", "latency", "--quick", "--model",
                             str(SHIPPED_MODEL), "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    step = report["step"]
    assert is_summary(step["onnxruntime"]) and step["onnxruntime"]["n"] == 200
    assert is_summary(step["torch_eager"]) and is_summary(step["recompute_window"])
    assert step["recompute_over_onnxruntime"] > 0
    assert report["jack"]["period_frames"] == 64 and is_summary(report["jack"]["one_way_transport"])
    response = report["response"]
    assert response["phrases"] == 10
    assert is_summary(response["response_latency"])
    assert is_summary(response["sender_lateness"]) and is_summary(response["arrival_lateness"])
    assert report["throughput"]["batched_tokens_per_second"] > 0
    assert report["memory"]["peak_rss_mb"] > 10
    assert "| step, ONNX Runtime" in result.stdout
