"""The training loop, read top to bottom.

Random windows from the train split, AdamW with warmup and cosine decay, gradient clipping, validation NLL
once per epoch, the best checkpoint kept as `best.pt`, everything needed to resume in `last.pt`, and the
loss curves of the run as `metrics.csv` and `loss.png`. With the same seed and data a run is repeatable,
including across a resume. A run may start from another model's weights (`init`: fine-tuning), and a
dataset too small for a validation split trains without one, saying so. Both checkpoints describe the
model alike, so either exports; they hold only tensors and plain Python values, so they load with
`weights_only=True`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from duetto.atomic import write_atomically
from duetto.encodings.registry import newest
from duetto.families import family as registered
from duetto.offline.plots import require_matplotlib, save_figure
from duetto.train.curves import training_curves_figure
from duetto.train.distributed import Cluster
from duetto.train.families import load_family


@dataclass
class TrainSettings:
    data: str
    out: str
    family: str = "events"
    epochs: int = 20
    max_steps: int | None = None
    max_minutes: float | None = None
    # a training-time budget: the learning rate anneals over this much wall clock and training ends with
    # it, so runs given equal time end equally annealed (the schedule follows the clock, so two runs
    # differ in their last digits)
    anneal_minutes: float | None = None
    steps_per_epoch: int | None = None  # default: one pass worth of tokens over the train split
    batch_size: int = 32
    seq_len: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    resume: bool = False
    threads: int | None = None
    device: str = "auto"  # auto: CUDA when PyTorch sees a GPU
    model: dict = field(default_factory=dict)  # family config overrides
    init: str | None = None  # a checkpoint to start from (fine-tuning): its weights, where they fit
    valid_batches: int | None = None  # validate on the first this many batches only (a broad corpus's
    # valid split can take minutes to score; its first batches, always the same ones, tell the trend)
    command: str = ""


def save_checkpoint(path: Path, payload: dict) -> None:
    """torch.save through a temporary file, so a crash never leaves half a checkpoint."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomically(path, lambda handle: handle.write(buffer.getvalue()))


class CheckpointError(ValueError):
    """A checkpoint Duetto refuses to load; the message is one line naming the file and the problem."""


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint without unpickling arbitrary objects (`weights_only=True`): a file that holds
    anything but tensors and plain values, or is damaged, is refused with one line, never executed."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: refused: it holds Python objects, which Duetto never unpickles") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        reason = " ".join(str(error).split()).split(". ")[0][:160] or type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def evaluate(family, model: torch.nn.Module, windows, batch_size: int = 32, batches: int | None = None) -> dict:
    """Held-out negative log-likelihood: nats per target in the family's own unit, and bits per note,
    the one unit every family shares. NaN for an empty split."""
    model.eval()
    total, targets, notes = 0.0, 0, 0
    with torch.inference_mode():
        for index, batch in enumerate(windows.eval_batches(batch_size)):
            if batches is not None and index >= batches:
                break
            nats, batch_targets, batch_notes = family.loss(model, batch)
            total, targets, notes = total + nats.item(), targets + batch_targets, notes + batch_notes
    model.train()
    return {"nll": total / targets if targets else None,
            "bits_per_note": total / notes / math.log(2) if notes else None}


def figure(value: float | None, digits: int = 4) -> str:
    """A figure for people: 'n/a' where there is none (an empty split), never 'nan'."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def learning_rate_at(step: int, settings: TrainSettings, total_steps: int, time_spent: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to a tenth, along the steps or along the time budget
    (`time_spent`, its fraction), whichever is further on."""
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    progress = min(1.0, max(time_spent, (step - settings.warmup_steps) / max(1, total_steps - settings.warmup_steps)))
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(settings: TrainSettings) -> dict:
    """Train one model; returns the summary also stored in best.pt. Under torchrun, every process runs
    this and rank 0 alone validates and writes (see train/distributed.py)."""
    require_matplotlib()  # loss.png is drawn at every validation: say so now, not after the first epoch
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    cluster = Cluster(settings.device)
    try:
        train_on(cluster, settings, out)
        cluster.barrier()
    finally:
        cluster.close()
    return finish(out, settings) if cluster.is_main else {}


def train_on(cluster: Cluster, settings: TrainSettings, out: Path) -> None:
    family = load_family(settings.family)
    speaks = newest(registered(settings.family).encoding)
    train_windows = family.windows(settings.data, "train", settings.seq_len, train=True)
    valid_windows = family.windows(settings.data, "valid", settings.seq_len, train=False)
    steps_per_epoch = settings.steps_per_epoch or max(
        1, train_windows.num_tokens // (settings.batch_size * cluster.world_size * settings.seq_len))
    total_steps = settings.epochs * steps_per_epoch
    if settings.max_steps is not None:
        total_steps = min(total_steps, settings.max_steps)

    torch.manual_seed(settings.seed)  # the same initial weights in every process
    if settings.init:
        core = fine_tuned(family, settings)
    else:
        core = family.build(settings.model)
    model = cluster.wrap(core)
    validating = valid_windows.num_tokens > 0
    if not validating and cluster.is_main:
        print("duetto: warning: the valid split is empty, so this run trains without validation and keeps its "
              "latest step as best.pt (a dataset needs at least 3 pieces to give valid and test one each)",
              file=sys.stderr)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    rng = np.random.default_rng([settings.seed, cluster.rank] if cluster.rank else settings.seed)
    torch.manual_seed(settings.seed + cluster.rank)  # each process its own dropout
    step, best_nll, elapsed_before, running_loss = 0, math.inf, 0.0, None
    history: list[dict] = []
    if settings.resume and (out / "last.pt").exists():
        state = load_checkpoint(out / "last.pt")
        core.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["numpy_rngs"][cluster.rank]
        torch.set_rng_state(state["torch_rngs"][cluster.rank])
        step, best_nll = state["step"], state["best_nll"]
        elapsed_before, history = state["elapsed_seconds"], state["history"]
        running_loss = state.get("running_loss")  # so metrics after a resume match an unbroken run's
        if cluster.is_main:
            print(f"resuming {out / 'last.pt'} at step {step}", file=sys.stderr)

    started = time.monotonic() - elapsed_before
    budget = settings.anneal_minutes * 60 if settings.anneal_minutes else math.inf
    deadline = min(started + settings.max_minutes * 60 if settings.max_minutes else math.inf, started + budget)
    model.train()
    progress = tqdm(total=total_steps, initial=step, desc=f"train {settings.family}", unit="step",
                    dynamic_ncols=True, disable=None if cluster.is_main else True)
    while step < total_steps and not cluster.any(time.monotonic() >= deadline):
        batch = train_windows.sample_batch(rng, settings.batch_size)
        # every process follows rank 0's clock, so the replicas keep one learning rate
        time_spent = cluster.gather(time.monotonic() - started)[0] / budget if settings.anneal_minutes else 0.0
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, settings, total_steps, time_spent)
        nats, targets, _ = family.loss(model, batch)
        loss = nats / max(targets, 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        step += 1
        running_loss = loss.item() if running_loss is None else 0.95 * running_loss + 0.05 * loss.item()
        progress.update(1)
        progress.set_postfix(loss=f"{running_loss:.3f}")
        epoch_done = step % steps_per_epoch == 0
        stopping = step >= total_steps or time.monotonic() >= deadline
        if not cluster.any(epoch_done or stopping):
            continue
        # every process takes part in gathering its random streams; rank 0 validates and writes
        numpy_rngs, torch_rngs = cluster.gather(rng.bit_generator.state), cluster.gather(torch.get_rng_state())
        if cluster.is_main:
            valid = evaluate(family, core, valid_windows, batches=settings.valid_batches)
            valid_nll = valid["nll"]
            history.append({"step": step, "epoch": step / steps_per_epoch, "train_loss": running_loss,
                            "valid_nll": valid_nll, "valid_bits_per_note": valid["bits_per_note"],
                            "seconds": time.monotonic() - started})
            progress.write(f"step {step}  epoch {step / steps_per_epoch:.2f}  train {running_loss:.4f}  "
                           f"valid {figure(valid_nll)} nats/{family.UNIT}, {figure(valid['bits_per_note'], 3)} "
                           "bits/note")
            description = {
                "family": settings.family, "config": core.config.to_dict(), "model": core.state_dict(),
                "step": step, "valid_nll": valid_nll, "valid_bits_per_note": valid["bits_per_note"],
                "unit": family.UNIT, "seconds": time.monotonic() - started, "settings": asdict(settings),
                "world_size": cluster.world_size, "styles": styles_of(settings.data),
                "encoding": {"name": speaks.name, "version": speaks.version},
            }
            if not validating:  # the latest step is the best there is to know
                save_checkpoint(out / "best.pt", description)
            elif valid_nll < best_nll:
                best_nll = valid_nll
                save_checkpoint(out / "best.pt", description)
            save_checkpoint(out / "last.pt", {  # as described as best.pt, so either exports
                **description, "optimizer": optimizer.state_dict(), "numpy_rngs": numpy_rngs,
                "torch_rngs": torch_rngs, "best_nll": best_nll, "elapsed_seconds": time.monotonic() - started,
                "history": history, "running_loss": running_loss,
            })
            write_metrics(out, history, family.UNIT)
        cluster.barrier()
    progress.close()
    cluster.check_replicas_agree(core)


def write_metrics(out: Path, history: list[dict], unit: str) -> None:
    """The loss curves as numbers (metrics.csv) and as a picture (loss.png: train and valid in nats per
    `unit` against steps and minutes, the best checkpoint starred)."""
    write_metrics_csv(out / "metrics.csv", history)
    save_figure(training_curves_figure(history, unit), out / "loss.png")


def write_metrics_csv(path: Path, history: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["step", "epoch", "train_loss", "valid_nll", "valid_bits_per_note",
                                              "seconds"], restval="")
    writer.writeheader()
    writer.writerows(history)
    write_atomically(path, lambda handle: handle.write(text.getvalue()), mode="w")


def styles_of(data_dir: str) -> list[str]:
    """The style names of a dataset, by index (what a model trained on it knows)."""
    return json.loads((Path(data_dir) / "manifest.json").read_text()).get("styles", [])


def fine_tuned(family, settings: TrainSettings) -> torch.nn.Module:
    """The model built as `init`'s was (with this run's overrides), holding its weights wherever they fit.

    A tensor of the same shape is copied; one that has grown along its first axis (an embedding or a
    read-out over a vocabulary with new tokens) keeps its old rows and learns the new ones; anything else
    new (a layer added by an override) starts fresh, or as the family's `grown` says (a transformer's new
    blocks start as the identity). The same family only: another's weights mean nothing.
    """
    start = load_checkpoint(settings.init)
    if start.get("family") != settings.family:
        raise ValueError(f"--init {settings.init}: it is {start.get('family')!r}, and cannot start a "
                         f"{settings.family} model")
    config = {**start["config"], **settings.model}
    if "vocab_size" in config:
        config["vocab_size"] = family.Config().vocab_size  # the encoding this code writes
    model = family.build(config)
    state = model.state_dict()
    loaded = set()
    for name, value in start["model"].items():
        target = state.get(name)
        if target is None:
            continue
        if target.shape == value.shape:
            target.copy_(value)
        elif target.dim() == value.dim() and target.shape[1:] == value.shape[1:] and target.shape[0] > value.shape[0]:
            target[:value.shape[0]].copy_(value)
        else:
            continue
        loaded.add(name)
    model.load_state_dict(state)
    if hasattr(family, "grown"):  # the family's own word on how new parts should start
        family.grown(model, loaded)
    return model


def data_summary(data_dir: str) -> str:
    """One line about the training data, for the model's metadata."""
    manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    counts = ", ".join(f"{split} {info['pieces']} pieces" for split, info in manifest["splits"].items())
    return f"{' + '.join(manifest['sources'])}: {counts}"


def finish(out: Path, settings: TrainSettings) -> dict:
    """Score the best checkpoint on the test split and record it inside best.pt."""
    best = load_checkpoint(out / "best.pt")
    family = load_family(best["family"])
    model = family.build(best["config"])
    model.load_state_dict(best["model"])
    test = evaluate(family, model, family.windows(settings.data, "test", settings.seq_len, train=False))
    best["test_nll"], best["test_bits_per_note"] = test["nll"], test["bits_per_note"]
    if test["nll"] is None:
        print("duetto: warning: the test split is empty: no test figures", file=sys.stderr)
    best["data_summary"] = data_summary(settings.data)
    save_checkpoint(out / "best.pt", best)
    summary = {"valid_nll": best["valid_nll"], "test_nll": best["test_nll"],
               "test_bits_per_note": best["test_bits_per_note"], "step": best["step"]}
    print(f"best checkpoint {out / 'best.pt'}: step {best['step']}, valid {figure(best['valid_nll'])}, "
          f"test {figure(best['test_nll'])} nats/{family.UNIT} ({figure(best['test_bits_per_note'], 3)} bits/note)",
          file=sys.stderr)
    return summary
