"""A transformer that steps once per note and counts in beats (the metrical note encoding).

The trunk is the event transformer's (`transformer.Block`: causal self-attention with rotary positions, a
fixed-slot key/value cache live), but each step is a whole note. A step reads the previous note's five
fields, where that note lay in its bar, the bar's meter, the style and the texture asked for; from what the
trunk makes of it, small heads read out the next note field by field, in the encoding's order (onset,
part, pitch, duration, velocity), each one conditioned on the fields already chosen, as compound-word
models and Notochord's sub-heads do. Once the onset is chosen, the heads also know where in the bar the
new note falls, so pitch and length can depend on the beat.

Live, the whole note is chosen inside the exported graph: each field is drawn from its head's
distribution, bent by a bias the voice gives (key lean, register, grid) and a temperature, with uniform
numbers the voice supplies (so the graph stays deterministic and its parity with PyTorch checkable), or
taken as given (`forced`, to hear a note that was played). One model call per note.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings import metrical as encoding
from duetto.train.families.batches import on_device
from duetto.train.families.metrical_data import MetricalWindows, windows  # noqa: F401 - the family's data
from duetto.train.families.transformer import Block, cache_layout, cache_shapes, step_blocks

FAMILY = "metrical"
UNIT = "note"
MIN_TEMPERATURE = 1e-3


@dataclass
class Config:
    model_dim: int = 256
    num_layers: int = 6
    num_heads: int = 4
    feedforward_dim: int = 768
    head_dim: int = 256  # the hidden width of each field's read-out
    dropout: float = 0.1
    max_context: int = 512  # notes trained on, and the live cache's size

    def to_dict(self) -> dict:
        return asdict(self)


def _read_out(config: Config, size: int) -> nn.Module:
    return nn.Sequential(nn.LayerNorm(config.model_dim), nn.Linear(config.model_dim, config.head_dim), nn.GELU(),
                         nn.Linear(config.head_dim, size))


class MetricalTransformer(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.model_dim % config.num_heads or (config.model_dim // config.num_heads) % 2:
            raise ValueError("model_dim must split into an even head size per head")
        self.config = config
        dim = config.model_dim
        # what a step reads: the previous note's fields (one more row each: START), its bar position and
        # meter, the style and the texture
        self.field_inputs = nn.ModuleList(nn.Embedding(size + 1, dim) for size in encoding.FIELD_SIZES)
        self.bar_input = nn.Embedding(encoding.BAR_POSITIONS, dim)
        self.meter_input = nn.Embedding(len(encoding.METERS), dim)
        self.style_input = nn.Embedding(encoding.STYLE_SLOTS, dim)
        self.texture_input = nn.Embedding(encoding.TEXTURE_SLOTS, dim)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(config.dropout)
        # the read-out: one head per field, and what each chosen field adds for the heads after it
        self.heads = nn.ModuleList(_read_out(config, size) for size in encoding.FIELD_SIZES)
        self.chosen = nn.ModuleList(nn.Embedding(size, dim) for size in encoding.FIELD_SIZES[:-1])
        self.chosen_bar = nn.Embedding(encoding.BAR_POSITIONS, dim)

    def step_input(self, previous: torch.Tensor, bar: torch.Tensor, meter: torch.Tensor, style: torch.Tensor,
                   texture: torch.Tensor) -> torch.Tensor:
        """previous [..., 5] fields (START: each field's size), bar, meter, style, texture [...] -> [..., dim]."""
        x = sum(embed(previous[..., index]) for index, embed in enumerate(self.field_inputs))
        return x + self.bar_input(bar) + self.meter_input(meter) + self.style_input(style) + self.texture_input(texture)

    def read_out(self, hidden: torch.Tensor, previous_bar: torch.Tensor, bar_length: torch.Tensor,
                 choose: Callable[[int, torch.Tensor], torch.Tensor]) -> list[torch.Tensor]:
        """The heads, field by field: `choose(field, logits)` says which value each field took (the target
        in training, a draw live); returns the logits of every field."""
        context, logits = hidden, []
        for field, head in enumerate(self.heads):
            logits.append(head(context))
            if field == len(self.heads) - 1:
                break
            value = choose(field, logits[-1])
            context = context + self.chosen[field](value)
            if field == encoding.ONSET:
                context = context + self.chosen_bar(new_bar(previous_bar, value, bar_length))
        return logits

    def forward(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """A batch of windows (see MetricalWindows) -> each field's logits [batch, time, size]."""
        if batch["previous"].size(1) > self.config.max_context:
            raise ValueError(f"{batch['previous'].size(1)} notes exceed the trained context of {self.config.max_context}")
        x = self.drop(self.step_input(batch["previous"], batch["previous_bar"], batch["meter"],
                                      batch["style"].unsqueeze(1).expand_as(batch["meter"]), batch["texture"]))
        for block in self.blocks:
            x = block(x)
        targets = batch["target"].clamp(min=0)
        return self.read_out(self.norm(x), batch["previous_bar"], batch["bar_length"],
                             lambda field, _: targets[..., field])


def new_bar(previous_bar: torch.Tensor, onset: torch.Tensor, bar_length: torch.Tensor) -> torch.Tensor:
    """Where a note falls in its bar, from where the previous one fell and the onset between them."""
    return torch.remainder(previous_bar + onset, bar_length).clamp(max=encoding.BAR_POSITIONS - 1)


def loss(model: nn.Module, batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, int, int]:
    """Summed cross-entropy of every field of every real note (a note is one target), the notes counted twice
    over (as targets and as notes, which here are the same)."""
    tensors = {name: on_device(array, model) for name, array in batch.items()}
    logits = model(tensors)
    real = tensors["target"][..., 0] >= 0
    nats = sum(F.cross_entropy(field_logits[real], tensors["target"][..., field][real], reduction="sum")
               for field, field_logits in enumerate(logits))
    notes = int((batch["target"][..., 0] >= 0).sum())
    return nats, notes, notes


class StepGraph(nn.Module):
    """One note per call: hear the previous note and choose (or take) the next.

    Inputs: previous [batch, 5] fields, previous_bar, meter, bar_length, style, texture [batch]; forced
    [batch, 5] (a field >= 0 is taken as given, -1 is drawn), uniforms [batch, 5] in [0, 1), temperature
    and top_p [batch]; a bias for each field's logits [batch, size]; then the cache (position, keys, values).
    Outputs: note [batch, 5], log_probs [batch, 5] (each chosen field's log-probability under the model
    alone, no bias, temperature 1: what scoring reads), bar [batch] (where the note falls in its bar), and
    the cache's outputs.
    """

    bias_names = [f"{name}_bias" for name in encoding.FIELDS]
    input_names = ["previous", "previous_bar", "meter", "bar_length", "style", "texture", "forced", "uniforms",
                   "temperature", "top_p", *bias_names, "position", "keys", "values"]
    output_names = ["note", "log_probs", "bar", "position_out", "new_keys", "new_values"]
    step_seconds = 0.0  # time is counted in ticks of the beat, not in steps of a clock

    def __init__(self, model: MetricalTransformer) -> None:
        super().__init__()
        self.model = model
        self.max_steps = model.config.max_context

    def forward(self, previous, previous_bar, meter, bar_length, style, texture, forced, uniforms, temperature, top_p,
                onset_bias, part_bias, pitch_bias, duration_bias, velocity_bias, position, keys, values):
        model = self.model
        x, new_keys, new_values = step_blocks(model.blocks, model.step_input(previous, previous_bar, meter, style,
                                                                             texture).unsqueeze(1),
                                              position, keys, values)
        biases = (onset_bias, part_bias, pitch_bias, duration_bias, velocity_bias)
        scale = temperature.clamp(min=MIN_TEMPERATURE).unsqueeze(1)
        chosen: list[torch.Tensor] = []

        def choose(field: int, logits: torch.Tensor) -> torch.Tensor:
            value = torch.where(forced[:, field] >= 0, forced[:, field],
                                draw(logits + biases[field], scale, top_p, uniforms[:, field]))
            chosen.append(value)
            return value

        logits = model.read_out(model.norm(x.squeeze(1)), previous_bar, bar_length, choose)
        choose(len(logits) - 1, logits[-1])
        note = torch.stack(chosen, dim=1)
        log_probs = torch.stack([torch.log_softmax(field_logits, dim=-1).gather(1, note[:, field:field + 1]).squeeze(1)
                                 for field, field_logits in enumerate(logits)], dim=1)
        bar = new_bar(previous_bar, note[:, encoding.ONSET], bar_length)
        return note, log_probs, bar, position + 1, new_keys, new_values

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """A START step that draws every field; a batch of 2, since the exporter would fix a batch of 1."""
        def ints(value: int, *shape: int) -> torch.Tensor:
            return torch.full((batch_size, *shape), value, dtype=torch.int64)

        start = torch.tensor(encoding.FIELD_SIZES, dtype=torch.int64).expand(batch_size, -1).clone()
        keys, values = cache_shapes(self.model.config, batch_size)
        biases = [torch.zeros(batch_size, size) for size in encoding.FIELD_SIZES]
        return (start, ints(0), ints(1), ints(4 * encoding.TICKS_PER_BEAT), ints(0), ints(0), ints(-1, 5),
                torch.full((batch_size, 5), 0.5), torch.ones(batch_size), torch.full((batch_size,), 0.95), *biases,
                ints(0), torch.zeros(keys), torch.zeros(values))

    def feedback(self, outputs: tuple[torch.Tensor, ...], rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """The next step's inputs in a closed loop: the note just chosen, fresh uniforms."""
        note, _, bar = outputs[:3]
        inputs = list(self.example_inputs(batch_size=len(note)))[:-3]
        inputs[0], inputs[1] = note, bar
        inputs[7] = torch.from_numpy(rng.random((len(note), 5), dtype=np.float32))
        return tuple(inputs)

    def state_layout(self) -> list[dict]:
        return cache_layout(self.model.config)

    def extra(self) -> dict:
        return {}


def draw(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One value per row from softmax(logits / temperature) cut to its nucleus (the likeliest values whose
    odds add up to `top_p`: the long tail of unlikely ones never plays), by inverse transform of `uniform`."""
    odds, order = torch.sort(torch.softmax(logits / temperature, dim=-1), dim=-1, descending=True)
    kept = torch.where(torch.cumsum(odds, dim=-1) - odds < top_p.unsqueeze(1), odds, torch.zeros_like(odds))
    cumulative = torch.cumsum(kept, dim=-1)
    below = (cumulative < uniform.unsqueeze(1) * cumulative[:, -1:]).sum(dim=-1).clamp(max=logits.size(-1) - 1)
    return order.gather(1, below.unsqueeze(1)).squeeze(1)


def build(config: dict | None = None) -> MetricalTransformer:
    return MetricalTransformer(Config(**(config or {})))
