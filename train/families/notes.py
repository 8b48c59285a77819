"""The notes LSTM: one vector per note (pitch, step since the previous onset, duration), an LSTM, and
three heads that predict the next note's pitch, step and duration.

Two ways to predict timing, chosen by `timing`:

* "bins" (the default): step and duration each get a distribution over log-spaced bins of the 10 ms grid
  (bin 0 is a step of exactly zero: a note struck with the previous one), trained by cross-entropy, so a
  sampled answer draws its rhythm instead of playing an average.
* "mse": the classic recipe (the TensorFlow music tutorial): a regression head per timing term, trained on
  0.05 x pitch cross-entropy + squared error in seconds. That weighting is exactly a Gaussian NLL with a
  fixed sigma = sqrt(0.05 / 2) = 0.158 s, up to a factor of 20 and a constant, which is what this variant
  minimises and reports.

Either way every term is a log-probability of the value on the dataset's 10 ms grid (timing clipped to
4 s): bins spread their mass evenly over the grid values they hold, the Gaussian gives a grid value its
density times 10 ms. So nats per note here are comparable across variants, and bits per note with the
event families (which also spend bits on velocity, which this model does not predict).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings import events as encoding
from duetto.encodings.note_level import PITCHES, START
from duetto.music.notes import Note
from duetto.train.families.batches import on_device
from duetto.train.families.lstm_step import lstm_state_layout
from duetto.train.families.note_level import NoteWindows, draw, split_notes

FAMILY = "notes"
UNIT = "note"
GRID_SECONDS = encoding.STEP_SECONDS
LONGEST_SECONDS = 4.0  # steps and durations are clipped here (live, longer rests count as 4 s too)
LONGEST_STEPS = round(LONGEST_SECONDS / GRID_SECONDS)
TERMS = ("pitch", "step", "duration")


@dataclass
class Config:
    vocab_size: int = PITCHES
    pitch_embed_dim: int = 32
    hidden_size: int = 128
    timing: str = "bins"  # or "mse"
    timing_bins: int = 64  # log-spaced bins asked for; those that round to the same grid steps merge
    pitch_weight: float = 0.05  # "mse": the classic weight of pitch against squared error, fixing sigma

    def __post_init__(self) -> None:
        if self.timing not in ("bins", "mse"):
            raise ValueError(f"timing must be 'bins' or 'mse', not {self.timing!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def bin_edges(count: int) -> np.ndarray:
    """Bin edges in grid steps: bin k holds the steps edges[k] <= s < edges[k + 1]. Bin 0 holds exactly 0,
    the last exactly LONGEST_STEPS (where longer values are clipped); between them about `count`
    log-spaced bins, one per grid step at the short end where log spacing is finer than the grid."""
    inner = np.unique(np.round(np.geomspace(1, LONGEST_STEPS, max(2, count))).astype(np.int64))
    return np.concatenate([[0], inner, [LONGEST_STEPS + 1]])


def bin_seconds(edges: np.ndarray) -> np.ndarray:
    """Each bin's representative value in seconds: the middle of the grid steps it holds."""
    return (edges[:-1] + edges[1:] - 1) / 2 * GRID_SECONDS


def bin_of(steps: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The bin holding each (whole) grid step."""
    return torch.bucketize(steps, edges, right=True) - 1


def grid_steps(seconds: torch.Tensor) -> torch.Tensor:
    """Seconds as whole grid steps, clipped to 0..LONGEST_STEPS (the variable both variants predict)."""
    return torch.round(seconds / GRID_SECONDS).clamp(0, LONGEST_STEPS)


def note_rows(notes: Sequence[Note]) -> np.ndarray:
    """[notes, 3] rows of (pitch, step since the previous onset, duration) in onset order, chord tones
    from the lowest up; the first note's step is 0."""
    ordered = sorted(notes, key=lambda note: (note.start, note.pitch))
    if not ordered:
        return np.zeros((0, 3))
    starts = np.array([note.start for note in ordered])
    steps = np.diff(starts, prepend=starts[:1])
    return np.stack([[note.pitch for note in ordered], steps, [note.duration for note in ordered]], axis=1)


def windows(data_dir: str | os.PathLike, split: str, seq_len: int, train: bool) -> NoteWindows:
    """Note windows of one split; training windows are randomly transposed."""
    return NoteWindows([note_rows(notes) for notes in split_notes(data_dir, split)], seq_len,
                       start_row=[START, 0.0, 0.0], transpose=train)


class NotesLSTM(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size + 1, config.pitch_embed_dim)  # the pitches and START
        self.lstm = nn.LSTM(config.pitch_embed_dim + 2, config.hidden_size, batch_first=True)
        self.pitch_head = nn.Linear(config.hidden_size, config.vocab_size)
        edges = bin_edges(config.timing_bins)
        self.register_buffer("edges", torch.from_numpy(edges).float(), persistent=False)
        self.register_buffer("bin_widths", torch.from_numpy(np.diff(edges)).float(), persistent=False)
        timing_outputs = len(edges) - 1 if config.timing == "bins" else 1
        self.step_head = nn.Linear(config.hidden_size, timing_outputs)
        self.duration_head = nn.Linear(config.hidden_size, timing_outputs)
        self.sigma = math.sqrt(config.pitch_weight / 2)

    def forward(self, rows: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """rows [batch, time, 3] of (pitch, step s, duration s) -> (pitch logits, step output, duration
        output), each [batch, time, ...], and the final (h, c). Timing enters as log-compressed grid steps."""
        timing = torch.log1p(grid_steps(rows[..., 1:])) / math.log1p(LONGEST_STEPS)
        hidden, state = self.lstm(torch.cat([self.embed(rows[..., 0].long()), timing], dim=-1), state)
        return (self.pitch_head(hidden), self.step_head(hidden), self.duration_head(hidden)), state

    def terms(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> torch.Tensor:
        """Nats of each term for each target note: outputs [notes, ...], targets [notes, 3] ->
        [3 (pitch, step, duration), notes]."""
        pitch_logits, *timing_outputs = outputs
        pitch = F.cross_entropy(pitch_logits, targets[:, 0].long(), reduction="none")
        timing = []
        for output, seconds in zip(timing_outputs, targets[:, 1:].unbind(-1)):
            steps = grid_steps(seconds)
            if self.config.timing == "bins":
                chosen = bin_of(steps, self.edges)
                nats = (F.cross_entropy(output, chosen, reduction="none")
                        + torch.log(self.bin_widths[chosen]))  # spread evenly over the bin's grid steps
            else:
                error = (steps * GRID_SECONDS - output[:, 0]) / self.sigma
                nats = 0.5 * error ** 2 + math.log(self.sigma * math.sqrt(2 * math.pi) / GRID_SECONDS)
            timing.append(nats)
        return torch.stack([pitch, *timing])

    def initial_state(self, batch_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, batch_size, self.config.hidden_size)
        return torch.zeros(shape), torch.zeros(shape)


def batch_terms(model: NotesLSTM, batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, int]:
    """Summed nats of each term [3] over a batch's real target notes, and how many notes."""
    rows = on_device(batch["rows"], model)
    valid = on_device(batch["valid"][:, 1:], model)
    outputs, _ = model(rows[:, :-1])
    nats = model.terms(tuple(output[valid] for output in outputs), rows[:, 1:][valid]).sum(dim=1)
    return nats, int(batch["valid"][:, 1:].sum())


def loss(model: NotesLSTM, batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, int, int]:
    """Summed NLL of pitch, step and duration over the batch's notes; each target is one note."""
    nats, notes = batch_terms(model, batch)
    return nats.sum(), notes, notes


def heldout_terms(model: NotesLSTM, note_windows: NoteWindows, batch_size: int = 32) -> dict[str, float]:
    """Nats per note of each term over a split, and their total."""
    model.eval()
    total, notes = torch.zeros(len(TERMS), dtype=torch.float64), 0
    with torch.inference_mode():
        for batch in note_windows.eval_batches(batch_size):
            nats, count = batch_terms(model, batch)
            total, notes = total + nats.double(), notes + count
    figures = dict(zip(TERMS, (total / max(notes, 1)).tolist()))
    figures["total"] = sum(figures.values())
    return figures


class StepGraph(nn.Module):
    """(pitch, step, duration, h, c) -> (next pitch logits, next step output, next duration output, h, c).

    The step and duration outputs are bin logits, or (for "mse") the predicted seconds [batch, 1].
    """

    input_names = ["pitch", "step", "duration", "h", "c"]
    output_names = ["pitch_logits", "step_out", "duration_out", "h_out", "c_out"]
    step_seconds = GRID_SECONDS
    max_steps = None

    def __init__(self, model: NotesLSTM) -> None:
        super().__init__()
        self.model = model

    def forward(self, pitch: torch.Tensor, step: torch.Tensor, duration: torch.Tensor, h: torch.Tensor,
                c: torch.Tensor):
        rows = torch.stack([pitch.to(step.dtype), step, duration], dim=-1).unsqueeze(1)
        (pitch_logits, step_out, duration_out), (h_out, c_out) = self.model(rows, (h, c))
        return pitch_logits.squeeze(1), step_out.squeeze(1), duration_out.squeeze(1), h_out, c_out

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs to trace with; a batch of 2, since the exporter would fix a batch of 1 as a constant."""
        zeros = torch.zeros(batch_size, dtype=torch.float32)
        return (torch.full((batch_size,), START, dtype=torch.int64), zeros, zeros.clone(),
                *self.model.initial_state(batch_size))

    def state_layout(self) -> list[dict]:
        return lstm_state_layout(1, self.model.config.hidden_size)

    def extra(self) -> dict:
        """How the voice reads the timing outputs: bins and their values, or a Gaussian's mean."""
        if self.model.config.timing == "bins":
            return {"timing": "bins", "bin_seconds": bin_seconds(bin_edges(self.model.config.timing_bins)).tolist()}
        return {"timing": "gaussian", "sigma_seconds": self.model.sigma}

    def feedback(self, outputs: tuple[torch.Tensor, ...], rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """The next note drawn from the outputs, as the voice would (for the export's parity check)."""
        pitch_logits, *timing_outputs = outputs
        pitch = torch.tensor([draw(row, rng) for row in pitch_logits])
        if self.model.config.timing == "bins":
            values = bin_seconds(bin_edges(self.model.config.timing_bins))
            step, duration = ([values[draw(row, rng)] for row in output] for output in timing_outputs)
        else:
            step, duration = (output[:, 0].clamp(0, LONGEST_SECONDS) for output in timing_outputs)
        return pitch, torch.as_tensor(step, dtype=torch.float32), torch.as_tensor(duration, dtype=torch.float32)


def build(config: dict | None = None) -> NotesLSTM:
    return NotesLSTM(Config(**(config or {})))


def main(argv: list[str] | None = None) -> None:
    """`python -m train.families.notes CHECKPOINT --data DIR`: held-out nats per note of each term."""
    from duetto.train.loop import load_checkpoint

    parser = argparse.ArgumentParser(prog="python -m train.families.notes", description=main.__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.checkpoint)
    model = build(checkpoint["config"])
    model.load_state_dict(checkpoint["model"])
    for split in ("valid", "test"):
        figures = heldout_terms(model, windows(args.data, split, args.seq_len, train=False))
        print(f"{split}: " + ", ".join(f"{term} {value:.4f}" for term, value in figures.items())
              + f" nats/note; {figures['total'] / math.log(2):.3f} bits/note")


if __name__ == "__main__":
    main()
