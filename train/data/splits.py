"""Which pieces train and which are held out (valid, test).

A piece's split comes from a hash of its identity (80/10/10), so adding pieces never moves existing ones.
Two rules sit on top, each moving as little as it can:

- pieces that open alike (`dedup.opening_groups`) share a split: the group goes where its most held-out
  member hashes (test before valid before train), so a piece that hashes into valid or test stays held out;
- every style with at least MIN_STYLE_PIECES pieces gets a valid and a test piece: when hashing left a
  held-out split without one, the style's group that hashes nearest to it moves there; a style with
  fewer trains on all of them (there is nothing to hold out, and a model must learn from something).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from duetto.train.data.pieces import Piece
from duetto.train.data.shards import SPLITS

HELD_OUT = ("valid", "test")
MIN_STYLE_PIECES = 3  # one piece for each split


def _bucket(piece_id: str) -> int:
    return int.from_bytes(hashlib.sha256(piece_id.encode()).digest()[:8], "big") % 100


def split_of(piece_id: str) -> str:
    """The split of a piece, "train", "valid" or "test" (80/10/10), from a sha256 of its identity: stable
    across runs, processes and machines (unlike hash()), and independent of the other pieces."""
    bucket = _bucket(piece_id)
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


def assign_splits(groups: Sequence[Sequence[Piece]]) -> dict[str, list[Piece]]:
    """The pieces of each split by the rules above, from the split groups (`dedup.opening_groups`), each
    split in the order of the groups."""
    groups = [list(group) for group in groups]
    split_of_group = [max((split_of(piece.id) for piece in group), key=SPLITS.index) for group in groups]
    for style in dict.fromkeys(piece.style for group in groups for piece in group):
        _hold_out_some_of(style, groups, split_of_group)
    by_split: dict[str, list[Piece]] = {split: [] for split in SPLITS}
    for group, split in zip(groups, split_of_group):
        by_split[split].extend(group)
    return by_split


def _hold_out_some_of(style: str, groups: list[list[Piece]], split_of_group: list[str]) -> None:
    """Move groups (in place) so that `style`, if it has enough pieces, is in every held-out split.

    The group moved comes from the split holding most of the style's groups (never its last one), and
    is the one whose hash lies nearest the split it moves to: the same pieces move on every build.
    """
    mine = [index for index, group in enumerate(groups) if any(piece.style == style for piece in group)]
    if sum(piece.style == style for index in mine for piece in groups[index]) < MIN_STYLE_PIECES:
        for index in mine:  # too few to hold any out: every piece is for learning from
            split_of_group[index] = "train"
        return
    for split in HELD_OUT:
        if any(split_of_group[index] == split for index in mine):
            continue
        by_split = {other: [index for index in mine if split_of_group[index] == other] for other in SPLITS}
        donor = max(by_split.values(), key=len)
        if len(donor) < 2:
            return
        target = SPLITS.index(split) * 10 + 75  # buckets 80..89 are valid, 90..99 test
        nearest = min(donor, key=lambda index: (abs(_group_bucket(groups[index]) - target), groups[index][0].id))
        split_of_group[nearest] = split


def _group_bucket(group: Sequence[Piece]) -> int:
    return max(_bucket(piece.id) for piece in group)
