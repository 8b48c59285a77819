"""What the families over the event stream (events, transformer) share: their data and their loss.

Both read the dataset's token windows as they are and predict the next token; a note is one NOTE_ON.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings import events as encoding
from duetto.train.data.dataset import TokenWindows
from duetto.train.families.batches import on_device

UNIT = "token"


def windows(data_dir: str | os.PathLike, split: str, seq_len: int, train: bool) -> TokenWindows:
    """Token windows of one split; training windows are randomly transposed."""
    return TokenWindows(data_dir, split, seq_len, transpose=train)


def loss(model: nn.Module, batch: np.ndarray) -> tuple[torch.Tensor, int, int]:
    """Summed next-token cross-entropy over non-PAD targets, the number of targets and of notes."""
    tokens = on_device(batch, model)
    logits, _ = model(tokens[:, :-1])
    nats = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1),
                           ignore_index=encoding.PAD, reduction="sum")
    targets = batch[:, 1:]
    notes = int(((targets >= encoding.NOTE_ON) & (targets < encoding.NOTE_OFF)).sum())
    return nats, int((targets != encoding.PAD).sum()), notes


class TokenStepGraph(nn.Module):
    """What the single-step graphs of event-stream families share: their time step, and how
    the export parity check closes the loop (the next token is drawn from the logits)."""

    step_seconds = encoding.STEP_SECONDS
    max_steps: int | None = None  # a recurrent state holds any number of steps

    def feedback(self, outputs: tuple[torch.Tensor, ...], rng: np.random.Generator) -> tuple[torch.Tensor]:
        probabilities = torch.softmax(outputs[0].double(), dim=-1).numpy()
        tokens = [rng.choice(len(row), p=row / row.sum()) for row in probabilities]
        return (torch.tensor(tokens, dtype=torch.int64),)

    def extra(self) -> dict:
        """Family parameters the runtime's voice needs; none for these."""
        return {}
