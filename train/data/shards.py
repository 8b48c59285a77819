"""Reading a built dataset: the one place that opens a shard, and the one check that the folder holds a
complete build (its manifest) for the encoding this code speaks.

Needs only numpy, so `duetto bench quality` reads held-out music without the training extra.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from duetto.encodings import events as encoding
from duetto.encodings import metrical
from duetto.music.notes import Note

SPLITS = ("train", "valid", "test")
MANIFEST = "manifest.json"


def encoding_stamp() -> dict:
    """What a manifest records of the encoding its shards were written in."""
    return {"name": encoding.ENCODING_NAME, "version": encoding.ENCODING_VERSION, "vocab_size": encoding.VOCAB_SIZE}


def metrical_stamp() -> dict:
    """What a manifest records of the metrical encoding its shards also hold."""
    return {"name": metrical.ENCODING_NAME, "version": metrical.ENCODING_VERSION, "vocab_size": metrical.VOCAB_SIZE}


@dataclass
class Shard:
    """One split of a built dataset: every sequence's tokens (each opened by START) end to end, where each
    begins (`offsets`, one more than there are sequences), each one's beat in seconds (NaN: unknown), and
    each one's style (an index into the manifest's "styles")."""

    path: Path
    tokens: np.ndarray  # int64
    offsets: np.ndarray  # int64
    seconds_per_beat: np.ndarray | None  # float64; None in shards built before Duetto kept it
    manifest: dict
    styles: np.ndarray | None = None  # int64; None in shards built before Duetto labelled styles
    # each piece's original in the metrical encoding (MetricalNotes.as_columns, end to end), where each
    # piece begins, and each one's style; None in shards built before them
    metrical: np.ndarray | None = None
    metrical_offsets: np.ndarray | None = None
    metrical_styles: np.ndarray | None = None

    def check_metrical(self) -> None:
        """A one-line ValueError when the shard holds no metrical notes."""
        if self.metrical is None:
            raise ValueError(f"{self.path} holds no metrical notes (built before Duetto wrote them): "
                             "rebuild the dataset with `duetto data build`")

    def metrical_pieces(self) -> Iterator[tuple[metrical.MetricalNotes, int]]:
        """Each piece in the metrical encoding, with its style index."""
        self.check_metrical()
        for index, (begin, end) in enumerate(zip(self.metrical_offsets[:-1], self.metrical_offsets[1:])):
            yield metrical.MetricalNotes.from_columns(self.metrical[begin:end]), int(self.metrical_styles[index])

    @property
    def num_sequences(self) -> int:
        return len(self.offsets) - 1

    def sequences(self) -> Iterator[np.ndarray]:
        for begin, end in zip(self.offsets[:-1], self.offsets[1:]):
            yield self.tokens[begin:end]

    def notes(self) -> list[list[Note]]:
        """Every sequence decoded back to notes (exactly what was encoded, at the encoding's resolution)."""
        return [encoding.decode(sequence.tolist()) for sequence in self.sequences()]

    def beats(self) -> list[float | None]:
        if self.seconds_per_beat is None:
            raise ValueError(f"{self.path} records no beat per sequence (built before Duetto kept it): "
                             "rebuild the dataset with `duetto data build`")
        return [None if math.isnan(beat) else float(beat) for beat in self.seconds_per_beat]


def read_manifest(data_dir: str | os.PathLike) -> dict:
    """The manifest of a complete build in this code's encoding; a one-line ValueError otherwise."""
    folder = Path(data_dir)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no dataset ({MANIFEST} missing): build one first "
                         f"(duetto data build SOURCE --out {folder})") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{folder}/{MANIFEST} is unreadable ({error}): rebuild the dataset") from None
    found, expected = manifest.get("encoding", {}), encoding_stamp()
    if found != expected:
        raise ValueError(f"{folder} was built for encoding {found.get('name')} v{found.get('version')}, "
                         f"but this code uses {expected['name']} v{expected['version']}: rebuild it")
    return manifest


def read_shard(data_dir: str | os.PathLike, split: str) -> Shard:
    """One split of a built dataset, after the manifest's check."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    manifest = read_manifest(data_dir)
    path = Path(data_dir) / f"{split}.npz"
    try:
        with np.load(path) as arrays:
            beats = arrays["seconds_per_beat"].astype(np.float64) if "seconds_per_beat" in arrays else None
            styles = arrays["styles"].astype(np.int64) if "styles" in arrays else None
            found = "metrical" in arrays and manifest.get("metrical_encoding") == metrical_stamp()
            return Shard(path, arrays["tokens"].astype(np.int64), arrays["offsets"].astype(np.int64), beats, manifest,
                         styles, *((arrays["metrical"].astype(np.int64), arrays["metrical_offsets"].astype(np.int64),
                                   arrays["metrical_styles"].astype(np.int64)) if found else ()))
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: unreadable shard ({error}): rebuild the dataset") from None
