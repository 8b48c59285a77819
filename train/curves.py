"""The loss curves of a training run as a picture (`loss.png`): how far it got, how fast, and which step
became `best.pt`.

The rows are the loop's history, one per validation: `step`, `train_loss` (the running mean of the
training loss), `valid_nll` (NaN or None when there is no validation split) and `seconds` of wall clock.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from duetto.offline.plots import MARK_COLOUR, PART_COLOURS, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def finite(value) -> bool:
    return value is not None and math.isfinite(value)


def best_row(history: Sequence[dict]) -> tuple[dict, str]:
    """The row `best.pt` was saved from, and the series it was chosen on: the lowest validation NLL, or
    the latest step when nothing was validated (the loop keeps the latest then)."""
    validated = [row for row in history if finite(row.get("valid_nll"))]
    if validated:
        return min(validated, key=lambda row: row["valid_nll"]), "valid_nll"
    return history[-1], "train_loss"


def training_curves_figure(history: Sequence[dict], unit: str = "token") -> "Figure":
    """Training and validation loss in nats per `unit` against steps (wall-clock minutes along the top),
    a legend naming both, and a star on the best checkpoint with its figure."""
    if not history:
        raise ValueError("nothing to draw: no validation has happened yet")
    figure = new_figure(7.5, 4.2)
    axes = figure.add_subplot()
    train_colour, valid_colour = PART_COLOURS[:2]
    steps = [row["step"] for row in history]
    axes.plot(steps, [row["train_loss"] for row in history], color=train_colour, marker=".",
              label="train (running mean)")
    validated = [row for row in history if finite(row.get("valid_nll"))]
    if validated:
        axes.plot([row["step"] for row in validated], [row["valid_nll"] for row in validated], color=valid_colour,
                  marker="o", markersize=4, label="valid")
    best, series = best_row(history)
    chosen = "" if series == "valid_nll" else " (no validation: the latest step)"
    axes.plot([best["step"]], [best[series]], linestyle="none", marker="*", markersize=15, color=MARK_COLOUR,
              label=f"best.pt{chosen}: {best[series]:.3f} at step {best['step']}", zorder=4, gid="best")
    axes.set_xlim(0, max(steps) * 1.03)  # room for a star on the last step
    axes.set_xlabel("step")
    axes.set_ylabel(f"nats per {unit}")
    axes.grid(True, color="#e9ecef")
    axes.legend(loc="best")
    seconds = history[-1]["seconds"]
    took = f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
    axes.set_title(f"training: {len(history)} validations in {took}", loc="left")
    add_minutes_axis(axes, steps, [row["seconds"] / 60 for row in history])
    return figure


def add_minutes_axis(axes, steps: Sequence[float], minutes: Sequence[float]) -> None:
    """Wall-clock minutes along the top, mapped from steps through the run's own pace (step 0 at 0 min,
    and beyond the last step at the average pace)."""
    known_steps = np.array([0.0, *steps, 2.0 * steps[-1]])
    known_minutes = np.array([0.0, *minutes, 2.0 * minutes[-1]])
    order = np.argsort(known_steps, kind="stable")
    known_steps, known_minutes = known_steps[order], np.maximum.accumulate(known_minutes[order])
    top = axes.secondary_xaxis("top", functions=(lambda s: np.interp(s, known_steps, known_minutes),
                                                 lambda m: np.interp(m, known_minutes, known_steps)))
    top.set_xlabel("minutes")
