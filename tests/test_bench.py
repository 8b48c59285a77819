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


def untrained_transformer(folder) -> str:
    """A small transformer, exported for real (untrained weights time the same as trained ones), with its
    checkpoint beside it for the PyTorch baselines."""
    from export.onnx import export
    from train.families import transformer
    from train.loop import save_checkpoint

    model = transformer.build({"model_dim": 32, "num_layers": 2, "num_heads": 2, "feedforward_dim": 64,
                               "max_context": 256})
    checkpoint = folder / "tiny-transformer.pt"
    save_checkpoint(checkpoint, {"family": "transformer", "config": model.config.to_dict(),
                                 "model": model.state_dict(), "step": 0})
    export(str(checkpoint), str(folder / "tiny-transformer.onnx"), parity_steps=20)
    return str(folder / "tiny-transformer.onnx")


def test_quick_latency_bench_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    also = untrained_transformer(tmp_path)
    melody = SHIPPED_MODEL.parent / "families" / "melody.onnx"  # a family fed more than a token
    result = subprocess.run([sys.executable, "-m", "live.cli", "bench", "latency", "--quick", "--model",
                             str(SHIPPED_MODEL), "--also", also, str(melody), "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    step, *transformer_steps, melody_step = report["steps"]
    assert melody_step["family"] == "melody" and is_summary(melody_step["onnxruntime"])
    assert melody_step["inputs"] == ["pitch"] and "torch_unavailable" in melody_step
    assert is_summary(step["onnxruntime"]) and step["onnxruntime"]["n"] == 200
    assert is_summary(step["torch_eager"]) and is_summary(step["recompute_window"])
    assert step["recompute_over_onnxruntime"] > 0
    assert [row["context"] for row in transformer_steps] == [128, 256]  # the cache sizes it can hold
    for row in transformer_steps:
        assert row["family"] == "transformer" and is_summary(row["torch_eager"])
        assert row["recompute_window"]["window_tokens"] == row["context"]
    assert report["jack"]["period_frames"] == 64 and is_summary(report["jack"]["one_way_transport"])
    response = report["response"]
    assert response["phrases"] == 10
    assert is_summary(response["response_latency"])
    assert response["beyond_both_trips_p99_ms"] < response["beyond_transport_p99_ms"]
    assert is_summary(response["sender_lateness"]) and is_summary(response["arrival_lateness"])
    assert report["throughput"]["batched_tokens_per_second"] > 0
    assert report["memory"]["peak_rss_mb"] > 10
    assert "| step default.onnx (events), ONNX Runtime" in result.stdout
    assert "| step tiny-transformer.onnx (transformer, context 128), ONNX Runtime" in result.stdout
