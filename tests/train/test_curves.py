"""loss.png as the real matplotlib draws it: both curves named, nats on y, steps and minutes on x, and the
step that became best.pt starred."""

from __future__ import annotations

import math

from PIL import Image

from duetto.offline.plots import save_figure
from duetto.train.curves import training_curves_figure

HISTORY = [{"step": step, "train_loss": 3.0 - step / 1000, "valid_nll": valid, "seconds": step * 0.6}
           for step, valid in [(100, 3.2), (200, 2.9), (300, 2.7), (400, 2.8)]]


def star(axes):
    (best,) = [line for line in axes.get_lines() if line.get_gid() == "best"]
    return best


def test_both_curves_are_named_and_the_best_checkpoint_is_starred(tmp_path):
    figure = training_curves_figure(HISTORY, unit="token")
    axes = figure.axes[0]
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["train (running mean)", "valid", "best.pt: 2.700 at step 300"]
    train, valid = axes.get_lines()[:2]
    assert list(train.get_ydata()) == [2.9, 2.8, 2.7, 2.6] and list(valid.get_xdata()) == [100, 200, 300, 400]
    assert (list(star(axes).get_xdata()), list(star(axes).get_ydata())) == ([300], [2.7])
    assert axes.get_xlabel() == "step" and axes.get_ylabel() == "nats per token"
    (minutes,) = axes.child_axes
    assert minutes.get_xlabel() == "minutes"
    figure.canvas.draw()
    assert "4.0" in [label.get_text() for label in minutes.get_xticklabels()]  # 400 steps took 4 minutes
    save_figure(figure, tmp_path / "loss.png")
    with Image.open(tmp_path / "loss.png") as image:
        assert image.format == "PNG" and image.text["Title"].startswith("training: 4 validations")


def test_without_a_validation_split_the_latest_step_is_best():
    history = [{**row, "valid_nll": math.nan} for row in HISTORY]
    axes = training_curves_figure(history, unit="note").axes[0]
    assert len(axes.get_lines()) == 2  # the training curve and the star: no empty validation curve
    assert (list(star(axes).get_xdata()), list(star(axes).get_ydata())) == ([400], [2.6])
    assert "no validation" in star(axes).get_label()
    assert axes.get_ylabel() == "nats per note"
