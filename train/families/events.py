"""The event-stream LSTM: MIDI read as a text of events, one token at a time.

The descendant of the character-level RNN applied to music (Performance RNN): an embedding, a stack of
LSTMs and a linear read-out over the event vocabulary. Training sees whole windows; the live runtime sees
one token at a time through `StepGraph`, which carries the LSTM state explicitly so the exported ONNX graph
is stateless and the caller owns the memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from duetto.encodings import events as encoding
from duetto.train.families.lstm_step import FusedLSTMStep, lstm_state_layout
from duetto.train.families.token_stream import UNIT, TokenStepGraph, loss, windows  # noqa: F401 - shared parts

FAMILY = "events"


@dataclass
class Config:
    vocab_size: int = encoding.VOCAB_SIZE
    embed_dim: int = 256
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


class EventLSTM(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """tokens [batch, time] -> logits [batch, time, vocab], final (h, c)."""
        hidden, state = self.lstm(self.embed(tokens), state)
        return self.head(self.drop(hidden)), state

    def initial_state(self, batch_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return torch.zeros(shape), torch.zeros(shape)


class StepGraph(TokenStepGraph):
    """One step with the state in and out: the shape the runtime drives and ONNX exports."""

    input_names = ["token", "h", "c"]
    output_names = ["logits", "h_out", "c_out"]

    def __init__(self, model: EventLSTM) -> None:
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        logits, (h_out, c_out) = self.model(token.unsqueeze(1), (h, c))
        return logits.squeeze(1), h_out, c_out

    def for_export(self) -> FusedLSTMStep:
        """The same step written out as matrix products: what is exported (see lstm_step)."""
        return FusedLSTMStep(self.model.embed, self.model.lstm, self.model.head).eval()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs to trace with; a batch of 2, since the exporter would fix a batch of 1 as a constant."""
        h, c = self.model.initial_state(batch_size)
        return torch.full((batch_size,), encoding.START, dtype=torch.int64), h, c

    def state_layout(self) -> list[dict]:
        """How the runtime should build and thread the state: names, shapes (batch on axis 1)."""
        return lstm_state_layout(self.model.config.num_layers, self.model.config.hidden_size)


def build(config: dict | None = None) -> EventLSTM:
    return EventLSTM(Config(**(config or {})))
