"""The melody LSTM: a monophonic pitch model, the classic "next note of the tune" network.

An embedded pitch sequence, three stacked LSTMs with dropout, a dense layer and a softmax over the 128
pitches; no time at all (the live voice takes its tempo from what it hears). Polyphonic pieces are first
reduced to their top line by `duetto.voices.melody.MelodyLine`, the same reduction the voice applies live.
A target is one melody note, so nats per note over ln 2 is bits per note.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings.events import key_events
from duetto.encodings.note_level import PITCHES, START
from duetto.music.notes import Note
from duetto.train.families.batches import on_device
from duetto.train.families.lstm_step import FusedLSTMStep, lstm_state_layout
from duetto.train.families.note_level import NoteWindows, draw, split_notes
from duetto.voices.melody import CHORD_SECONDS, MelodyLine

FAMILY = "melody"
UNIT = "note"


@dataclass
class Config:
    vocab_size: int = PITCHES
    embed_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 3
    dense_size: int = 256
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


def melody_of(notes: Sequence[Note]) -> list[int]:
    """The pitches of a piece's top line, as the live voice would hear them."""
    line = MelodyLine()
    onsets = [onset for event in key_events(notes) for onset in line.hear(event.seconds, event.pitch,
                                                                            event.velocity)]
    return [pitch for _, pitch in onsets + line.flush()]


def windows(data_dir: str | os.PathLike, split: str, seq_len: int, train: bool) -> NoteWindows:
    """Melody windows of one split; training windows are randomly transposed."""
    melodies = [np.array(melody_of(notes), dtype=np.float32) for notes in split_notes(data_dir, split)]
    return NoteWindows(melodies, seq_len, start_row=[START], transpose=train)


class MelodyLSTM(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size + 1, config.embed_dim)  # the pitches and START
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.dense = nn.Linear(config.hidden_size, config.dense_size)
        self.head = nn.Linear(config.dense_size, config.vocab_size)

    def forward(self, pitches: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """pitches [batch, time] (START included) -> next-pitch logits [batch, time, 128], final (h, c)."""
        hidden, state = self.lstm(self.embed(pitches), state)
        return self.head(self.drop(torch.relu(self.dense(self.drop(hidden))))), state

    def initial_state(self, batch_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return torch.zeros(shape), torch.zeros(shape)


def loss(model: MelodyLSTM, batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, int, int]:
    """Summed next-pitch cross-entropy over the real notes; each target is one note."""
    pitches = on_device(batch["rows"][..., 0], model).long()
    valid = on_device(batch["valid"][:, 1:], model)
    logits, _ = model(pitches[:, :-1])
    nats = F.cross_entropy(logits[valid], pitches[:, 1:][valid], reduction="sum")
    notes = int(batch["valid"][:, 1:].sum())
    return nats, notes, notes


class StepGraph(nn.Module):
    """(pitch, h, c) -> (next-pitch logits, h, c): one melody note per step."""

    input_names = ["pitch", "h", "c"]
    output_names = ["logits", "h_out", "c_out"]
    step_seconds = 0.0  # no time grid: the model has no time
    max_steps = None

    def __init__(self, model: MelodyLSTM) -> None:
        super().__init__()
        self.model = model

    def forward(self, pitch: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        logits, (h_out, c_out) = self.model(pitch.unsqueeze(1), (h, c))
        return logits.squeeze(1), h_out, c_out

    def for_export(self) -> FusedLSTMStep:
        """The same step written out as matrix products: what is exported (see lstm_step)."""
        model = self.model
        return FusedLSTMStep(model.embed, model.lstm, nn.Sequential(model.dense, nn.ReLU(), model.head)).eval()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs to trace with; a batch of 2, since the exporter would fix a batch of 1 as a constant."""
        return (torch.full((batch_size,), START, dtype=torch.int64), *self.model.initial_state(batch_size))

    def state_layout(self) -> list[dict]:
        return lstm_state_layout(self.model.config.num_layers, self.model.config.hidden_size)

    def feedback(self, outputs: tuple[torch.Tensor, ...], rng: np.random.Generator) -> tuple[torch.Tensor]:
        """The next pitch, drawn from the logits (for the export's closed-loop parity check)."""
        return (torch.tensor([draw(row, rng) for row in outputs[0]]),)

    def extra(self) -> dict:
        """The chord window the voice must reduce live input with, as training data was reduced."""
        return {"chord_seconds": CHORD_SECONDS}


def build(config: dict | None = None) -> MelodyLSTM:
    return MelodyLSTM(Config(**(config or {})))
