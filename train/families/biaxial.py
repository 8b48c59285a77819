"""The biaxial LSTM: a piano roll on a beat grid, read along time for every key, then along the keys.

Daniel Johnson's time-axis / note-axis network. Every key of every frame gets the same kind of input,
relative to itself: what its ±12-semitone neighbourhood did in the previous frame (played, struck), its
pitch, its pitch class, the position in the bar in binary, and how many keys of each pitch class (counted
from its own) sounded in the previous frame. An LSTM runs along time for each key, its weights shared by
all keys, so the model transposes for free. Then, within each frame, an LSTM runs along the keys from low
to high, seeing what was decided for the key below, and predicts play and articulate for each key; so a
frame is sampled key by key, low to high, each choice conditioning the next (a chord is one draw, not 88
independent coin flips).

Live, the exported step is one key of one frame (`StepGraph`): the time-axis LSTM advances that key alone
(its state is one slot of a per-key cache the runtime writes in place), then the key-axis LSTM takes one
step. A frame is `num_keys` calls, with sampling in between; the key-axis state restarts at key 0. Both
stages thus run in the one graph the parity check drives, in the order the voice drives it.

The loss is in nats per frame: the play bits of every key, plus the articulate bit of every key that
plays (a silent key has nothing to articulate). With `articulation` off (the quarter-note benchmark roll,
which knows no re-strikes) only the play bits count and the model never sees articulations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from duetto.encodings import roll
from duetto.train.families.batches import on_device
from duetto.train.families.roll_data import Grid, RollBatch, RollWindows

FAMILY = "biaxial"
UNIT = "frame"
NEIGHBOURS = 12  # semitones either side a key sees of the previous frame


@dataclass
class Config:
    steps_per_beat: int = 4  # frames per beat: 16 per 4/4 bar
    lowest: int = 24  # the lowest key (C1)
    num_keys: int = 72  # up to B6: the chorales, transposed ±6, fit with room
    time_hidden: int = 128
    time_layers: int = 2
    note_hidden: int = 64
    note_layers: int = 2
    dropout: float = 0.3
    articulation: bool = True  # predict re-strikes; off for the quarter-note benchmark roll
    keep_short_notes: bool = True  # notes shorter than half a frame keep their onset frame
    seconds_per_beat: float = 0.6  # the tempo a live voice starts at: the chorales' 100 BPM

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def grid(self) -> Grid:
        return Grid(self.steps_per_beat, self.lowest, self.num_keys, self.keep_short_notes)

    @property
    def beat_bits(self) -> int:
        """Bits of the position within a bar."""
        return max(1, math.ceil(math.log2(self.steps_per_beat * roll.BEATS_PER_BAR)))

    @property
    def features(self) -> int:
        return 2 * (2 * NEIGHBOURS + 1) + 1 + 12 + self.beat_bits + 12


def windows(data_dir: str, split: str, seq_len: int, train: bool) -> RollWindows:
    """Windows of `seq_len` frames on this family's grid; training windows are randomly transposed."""
    return RollWindows(data_dir, split, seq_len, Config().grid, transpose=train)


class NoteFeatures(nn.Module):
    """The per-key input of one frame, from the previous frame and the frame's position in the bar."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        keys = config.num_keys
        pitch = torch.arange(keys) + config.lowest
        # index into the previous frame padded by NEIGHBOURS on both sides: key k sees k-12 .. k+12
        self.register_buffer("neighbourhood", torch.arange(keys)[:, None] + torch.arange(2 * NEIGHBOURS + 1),
                             persistent=False)
        self.register_buffer("pitch", ((pitch.float() - 64.0) / 32.0)[:, None], persistent=False)
        self.register_buffer("pitch_class", F.one_hot(pitch % 12, 12).float(), persistent=False)
        # rotation that puts a key's own pitch class first in the class counts
        self.register_buffer("relative_class", (pitch[:, None] + torch.arange(12)) % 12, persistent=False)
        self.register_buffer("bit_values", 2 ** torch.arange(config.beat_bits), persistent=False)

    def forward(self, previous: torch.Tensor, beats: torch.Tensor) -> torch.Tensor:
        """previous [..., keys, 2] (float), beats [...] (int64) -> features [..., keys, features]."""
        keys = previous.size(-2)
        padded = F.pad(previous, (0, 0, NEIGHBOURS, NEIGHBOURS))
        around = padded[..., self.neighbourhood, :].flatten(-2)  # [..., keys, 50]
        counts = previous[..., roll.PLAY] @ self.pitch_class  # [..., 12] keys sounding per pitch class
        relative = counts[..., self.relative_class]  # [..., keys, 12]
        bits = (torch.div(beats.unsqueeze(-1), self.bit_values, rounding_mode="floor") % 2).float() * 2 - 1
        leading = previous.shape[:-2]
        return torch.cat([
            around,
            self.pitch.expand(*leading, keys, 1),
            self.pitch_class.expand(*leading, keys, 12),
            bits.unsqueeze(-2).expand(*leading, keys, bits.size(-1)),
            relative,
        ], dim=-1)


class Biaxial(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.features = NoteFeatures(config)
        self.time_lstm = nn.LSTM(config.features, config.time_hidden, num_layers=config.time_layers,
                                 dropout=config.dropout if config.time_layers > 1 else 0.0, batch_first=True)
        self.note_lstm = nn.LSTM(config.time_hidden + 2, config.note_hidden, num_layers=config.note_layers,
                                 dropout=config.dropout if config.note_layers > 1 else 0.0, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.note_hidden, 2)

    def forward(self, frames: torch.Tensor, beats: torch.Tensor) -> torch.Tensor:
        """frames [batch, time + 1, keys, 2] (frame 0 only as context), beats [batch, time] ->
        logits [batch, time, keys, 2] of play and articulate for frames 1 .. time, teacher-forced."""
        batch, steps, keys = beats.size(0), beats.size(1), frames.size(2)
        x = self.features(frames[:, :-1], beats)  # [batch, time, keys, features]
        x = x.transpose(1, 2).reshape(batch * keys, steps, -1)
        along_time, _ = self.time_lstm(x)
        along_time = self.drop(along_time).reshape(batch, keys, steps, -1).transpose(1, 2)
        below = F.pad(frames[:, 1:, :-1], (0, 0, 1, 0))  # each key sees what the key below did
        x = torch.cat([along_time, below], dim=-1).reshape(batch * steps, keys, -1)
        along_keys, _ = self.note_lstm(x)
        return self.head(self.drop(along_keys)).reshape(batch, steps, keys, 2)


def loss(model: Biaxial, batch: RollBatch) -> tuple[torch.Tensor, int, int]:
    """Summed nats over the real frames of the batch, the number of frames, and the notes struck in them."""
    frames = on_device(batch.frames, model).float()
    mask = on_device(batch.mask, model).float()
    notes = int((batch.frames[:, 1:, :, roll.ARTICULATE].sum(-1) * batch.mask).sum())
    if not model.config.articulation:
        frames[..., roll.ARTICULATE] = 0.0
    logits = model(frames, on_device(batch.beats, model))
    play, struck = frames[:, 1:, :, roll.PLAY], frames[:, 1:, :, roll.ARTICULATE]
    nats = F.binary_cross_entropy_with_logits(logits[..., roll.PLAY], play, reduction="none")
    if model.config.articulation:
        nats = nats + play * F.binary_cross_entropy_with_logits(logits[..., roll.ARTICULATE], struck,
                                                                reduction="none")
    return (nats.sum(-1) * mask).sum(), int(batch.mask.sum()), notes


class StepGraph(nn.Module):
    """One key of one frame: (prev_frame, beat, lower; key, time state, key-axis state) -> (logits; ...).

    prev_frame [batch, keys, 2] is the whole previous frame, beat [batch] the frame's position, lower
    [batch, 2] what was decided for the key below (ignored at key 0). The state: `key` [batch], which key
    this step is for (returned + 1, wrapping at a new frame); time_h/time_c [layers, batch, keys, hidden],
    the time-axis state of every key, of which the graph returns only this key's new entry, for the
    runtime to write in place at slot `key`; note_h/note_c [layers, batch, hidden], the key-axis state,
    restarted at key 0.
    """

    input_names = ["prev_frame", "beat", "lower", "key", "time_h", "time_c", "note_h", "note_c"]
    output_names = ["logits", "key_out", "time_h_new", "time_c_new", "note_h_out", "note_c_out"]
    max_steps: int | None = None  # recurrent: any number of frames

    def __init__(self, model: Biaxial) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.step_seconds = config.seconds_per_beat / config.steps_per_beat
        self._loop: ClosedLoop | None = None

    def forward(self, prev_frame, beat, lower, key, time_h, time_c, note_h, note_c):
        config = self.model.config
        features = self.model.features(prev_frame, beat)  # [batch, keys, features]
        x = features.gather(1, key.view(-1, 1, 1).expand(-1, 1, features.size(-1)))
        slot = key.view(1, -1, 1, 1).expand(time_h.size(0), -1, 1, time_h.size(-1))
        along_time, (h, c) = self.model.time_lstm(x, (time_h.gather(2, slot).squeeze(2),
                                                      time_c.gather(2, slot).squeeze(2)))
        continuing = (key != 0).to(torch.float32)  # key 0 opens a frame: the key axis starts afresh
        below = (lower * continuing.unsqueeze(-1)).unsqueeze(1)
        keep = continuing.view(1, -1, 1)
        along_keys, (note_h_out, note_c_out) = self.model.note_lstm(torch.cat([along_time, below], dim=-1),
                                                                    (note_h * keep, note_c * keep))
        logits = self.model.head(along_keys).squeeze(1)
        return logits, (key + 1) % config.num_keys, h.unsqueeze(2), c.unsqueeze(2), note_h_out, note_c_out

    def state_shapes(self, batch_size: int) -> tuple[list[int], list[int]]:
        """The shapes of the time-axis state (per key) and of the key-axis state."""
        config = self.model.config
        return ([config.time_layers, batch_size, config.num_keys, config.time_hidden],
                [config.note_layers, batch_size, config.note_hidden])

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs to trace with (a batch of 2, since the exporter would fix a batch of 1 as a constant);
        also where a closed loop of `feedback` starts: frame 0, key 0, after silence."""
        config = self.model.config
        self._loop = ClosedLoop(batch_size, config.num_keys)
        time_shape, note_shape = self.state_shapes(batch_size)
        return (torch.zeros(batch_size, config.num_keys, 2), torch.zeros(batch_size, dtype=torch.int64),
                torch.zeros(batch_size, 2), torch.zeros(batch_size, dtype=torch.int64),
                torch.zeros(time_shape), torch.zeros(time_shape), torch.zeros(note_shape), torch.zeros(note_shape))

    def feedback(self, outputs: tuple[torch.Tensor, ...], rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """The next step's inputs in a closed loop: this key drawn from its logits, the frame moving on
        after the top key."""
        return self._loop.advance(torch.sigmoid(outputs[0].double()).numpy(), rng)

    def state_layout(self) -> list[dict]:
        time_shape, note_shape = self.state_shapes(1)
        per_key = {"shape": time_shape, "dtype": "float32", "batch_axis": 1, "written_at": "key", "slot_axis": 2}
        return [
            {"input": "key", "output": "key_out", "shape": [1], "dtype": "int64", "batch_axis": 0},
            {"input": "time_h", "output": "time_h_new", **per_key},
            {"input": "time_c", "output": "time_c_new", **per_key},
            {"input": "note_h", "output": "note_h_out", "shape": note_shape, "dtype": "float32", "batch_axis": 1},
            {"input": "note_c", "output": "note_c_out", "shape": note_shape, "dtype": "float32", "batch_axis": 1},
        ]

    def extra(self) -> dict:
        """What the voice needs to lay out its roll and grid."""
        config = self.model.config
        return {"steps_per_beat": config.steps_per_beat, "seconds_per_beat": config.seconds_per_beat,
                "lowest": config.lowest, "num_keys": config.num_keys, "articulation": config.articulation,
                "keep_short_notes": config.keep_short_notes}


class ClosedLoop:
    """Drives a StepGraph as the voice does, for the export's parity check: each key drawn in turn (a
    key that plays after silence is struck), the previous frame and the beat moving on after the top key."""

    def __init__(self, batch_size: int, keys: int) -> None:
        self.previous = np.zeros((batch_size, keys, 2), dtype=np.float32)
        self.current = np.zeros_like(self.previous)
        self.key = 0
        self.beat = 0

    def advance(self, probabilities: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """probabilities [batch, 2] of play and articulate for the current key -> the next inputs."""
        play = rng.random(len(probabilities)) < probabilities[:, roll.PLAY]
        struck = play & ((self.previous[:, self.key, roll.PLAY] == 0)
                         | (rng.random(len(probabilities)) < probabilities[:, roll.ARTICULATE]))
        self.current[:, self.key] = np.stack([play, struck], axis=-1)
        lower = self.current[:, self.key].copy()
        self.key += 1
        if self.key == self.current.shape[1]:
            self.previous, self.current = self.current, np.zeros_like(self.current)
            self.key, self.beat = 0, self.beat + 1
        beat = np.full(len(probabilities), self.beat, dtype=np.int64)
        return torch.from_numpy(self.previous.copy()), torch.from_numpy(beat), torch.from_numpy(lower)


def build(config: dict | None = None) -> Biaxial:
    return build_on_grid(Config, config)


def build_on_grid(config_class: type[Config], overrides: dict | None) -> Biaxial:
    """The model, refusing overrides of the grid: the loop cuts a family's windows before it builds the
    model, so they follow the family's own grid, and a model on another grid would misread them. Another
    grid is another family (see `biaxial_quarter`)."""
    config = config_class(**(overrides or {}))
    if config.grid != config_class().grid:
        raise ValueError(f"the grid of this family is fixed ({config_class().grid}); "
                         "only the network's sizes and dropout may be overridden")
    return Biaxial(config)
