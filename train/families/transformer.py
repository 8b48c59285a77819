"""A decoder-only Transformer over the event stream, stepped live with a fixed-size key/value cache.

The same tokens as the event LSTM, read with causal self-attention and rotary positions (each query and
key is rotated by its position, so attention sees how far apart two events are). For live use the step
graph takes one token and a cache the caller owns: keys and values of every earlier step sit in fixed
slots (slot = position). The graph only reads the cache, attending to the slots already written and to
the new step itself, and returns the new step's key and value; the caller writes them into their slot in
place. Nothing grows and nothing is copied, so a step costs one read of the cache. When the cache nears
full the runtime primes a fresh one from the recent window (`duetto.model.rolling_state`); shapes never change.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings import events as encoding
from duetto.train.families.token_stream import UNIT, TokenStepGraph, loss, windows  # noqa: F401 - shared parts

FAMILY = "transformer"


@dataclass
class Config:
    vocab_size: int = encoding.VOCAB_SIZE
    model_dim: int = 256
    num_layers: int = 4
    num_heads: int = 4
    feedforward_dim: int = 768
    dropout: float = 0.1
    max_context: int = 512  # positions trained on, and the live cache's size

    def to_dict(self) -> dict:
        return asdict(self)


def rotate(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotary position encoding of x [..., time, head_dim] at `positions` [..., time] (broadcastable):
    each pair of channels (i, i + head_dim/2) turns by position x frequency_i."""
    half = x.size(-1) // 2
    frequencies = 10_000.0 ** (-torch.arange(half, dtype=torch.float32, device=x.device) / half)
    angles = positions.to(torch.float32).unsqueeze(-1) * frequencies
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class Block(nn.Module):
    """Pre-norm attention and feed-forward, each added back to the residual stream."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.model_dim // config.num_heads
        self.attention_norm = nn.LayerNorm(config.model_dim)
        self.qkv = nn.Linear(config.model_dim, 3 * config.model_dim)
        self.attention_out = nn.Linear(config.model_dim, config.model_dim)
        self.feedforward_norm = nn.LayerNorm(config.model_dim)
        self.feedforward = nn.Sequential(
            nn.Linear(config.model_dim, config.feedforward_dim), nn.GELU(),
            nn.Linear(config.feedforward_dim, config.model_dim))
        self.drop = nn.Dropout(config.dropout)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [batch, time, dim] -> q, k, v [batch, heads, time, head_dim]."""
        batch, time, _ = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).split(self.num_heads * self.head_dim, dim=-1)
        return tuple(t.view(batch, time, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """attended [batch, heads, time, head_dim] -> the block's output [batch, time, dim]."""
        batch, _, time, _ = attended.shape
        x = x + self.drop(self.attention_out(attended.transpose(1, 2).reshape(batch, time, -1)))
        return x + self.drop(self.feedforward(self.feedforward_norm(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.heads(x)
        positions = torch.arange(x.size(1), device=x.device)
        attended = F.scaled_dot_product_attention(rotate(q, positions), rotate(k, positions), v, is_causal=True,
                                                  dropout_p=self.drop.p if self.training else 0.0)
        return self.finish(x, attended)

    def step(self, x: torch.Tensor, position: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
        """One new position per sequence. x [batch, 1, dim]; position [batch]; keys [batch, heads,
        head_dim, slots] (stored transposed, ready for q @ keys) and values [batch, heads, slots,
        head_dim] hold the earlier positions. Returns the output and the new key [batch, heads, head_dim,
        1] and value [batch, heads, 1, head_dim] for slot `position`."""
        q, k, v = self.heads(x)
        at = position.view(-1, 1, 1)
        q, k = rotate(q, at), rotate(k, at)
        earlier = (torch.arange(keys.size(3), device=x.device) < position.view(-1, 1, 1, 1))  # [batch,1,1,slots]
        scale = 1.0 / math.sqrt(self.head_dim)
        cached_scores = ((q @ keys) * scale).masked_fill(~earlier, float("-inf"))
        own_score = (q * k).sum(-1, keepdim=True) * scale
        weights = torch.softmax(torch.cat([cached_scores, own_score], dim=-1), dim=-1)
        attended = weights[..., :-1] @ values + weights[..., -1:] * v
        return self.finish(x, attended), k.transpose(2, 3), v


class EventTransformer(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.model_dim % config.num_heads or (config.model_dim // config.num_heads) % 2:
            raise ValueError("model_dim must split into an even head size per head")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.model_dim)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.model_dim)
        self.head = nn.Linear(config.model_dim, config.vocab_size)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, tokens: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """tokens [batch, time] -> logits [batch, time, vocab]; no state (the loop's calling shape)."""
        if tokens.size(1) > self.config.max_context:
            raise ValueError(f"{tokens.size(1)} tokens exceed the trained context of {self.config.max_context}")
        x = self.drop(self.embed(tokens))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)), None


def grown(model: EventTransformer, loaded: set[str]) -> None:
    """Blocks a fine-tuning run adds to the checkpoint it starts from begin as the identity: their residual
    branches' output projections start at zero, so the grown model plays as the one it grew from and
    learns its new depth from there (see duetto.train.loop.fine_tuned)."""
    for index, block in enumerate(model.blocks):
        if f"blocks.{index}.qkv.weight" not in loaded:
            with torch.no_grad():
                for layer in (block.attention_out, block.feedforward[2]):
                    layer.weight.zero_()
                    layer.bias.zero_()


class StepGraph(TokenStepGraph):
    """(token, position, keys, values) -> (logits, position + 1, new key, new value).

    keys: [layers, batch, heads, head_dim, slots], values: [layers, batch, heads, slots, head_dim]; the
    new key and value (slot axis of size 1) belong in slot `position` (the state layout says so, and the
    runtime writes them there).
    """

    input_names = ["token", "position", "keys", "values"]
    output_names = ["logits", "position_out", "new_keys", "new_values"]

    def __init__(self, model: EventTransformer) -> None:
        super().__init__()
        self.model = model
        self.max_steps = model.config.max_context

    def forward(self, token: torch.Tensor, position: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
        x, new_keys, new_values = step_blocks(self.model.blocks, self.model.embed(token).unsqueeze(1), position,
                                              keys, values)
        logits = self.model.head(self.model.norm(x)).squeeze(1)
        return logits, position + 1, new_keys, new_values

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs to trace with; a batch of 2, since the exporter would fix a batch of 1 as a constant."""
        token = torch.full((batch_size,), encoding.START, dtype=torch.int64)
        position = torch.zeros(batch_size, dtype=torch.int64)
        keys, values = cache_shapes(self.model.config, batch_size)
        return token, position, torch.zeros(keys), torch.zeros(values)

    def state_layout(self) -> list[dict]:
        return cache_layout(self.model.config)


def step_blocks(blocks: nn.ModuleList, x: torch.Tensor, position: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One new position through every block, reading the cache: the output, and each layer's new key and
    value stacked for the caller to write into slot `position` (the step graphs of every cached family)."""
    new_keys, new_values = [], []
    for layer, block in enumerate(blocks):
        x, layer_keys, layer_values = block.step(x, position, keys[layer], values[layer])
        new_keys.append(layer_keys)
        new_values.append(layer_values)
    return x, torch.stack(new_keys), torch.stack(new_values)


def cache_shapes(config, batch_size: int) -> tuple[list[int], list[int]]:
    """The shapes of keys and of values of a cache of `config.max_context` slots."""
    head_dim = config.model_dim // config.num_heads
    layers_batch_heads = [config.num_layers, batch_size, config.num_heads]
    return layers_batch_heads + [head_dim, config.max_context], layers_batch_heads + [config.max_context, head_dim]


def cache_layout(config) -> list[dict]:
    """The state layout of a key/value cache written in place at `position` (see duetto.model.step_model)."""
    keys, values = cache_shapes(config, 1)
    cache = {"dtype": "float32", "batch_axis": 1, "written_at": "position"}
    return [
        {"input": "position", "output": "position_out", "shape": [1], "dtype": "int64", "batch_axis": 0},
        {"input": "keys", "output": "new_keys", "shape": keys, "slot_axis": 4, **cache},
        {"input": "values", "output": "new_values", "shape": values, "slot_axis": 3, **cache},
    ]


def build(config: dict | None = None) -> EventTransformer:
    return EventTransformer(Config(**(config or {})))
