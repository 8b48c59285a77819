"""Encoded training data: built once into shards, then read as random or exhaustive token windows.

Layout of a dataset folder, all written atomically (a manifest present means a complete build):

    train.npz, valid.npz, test.npz   `tokens`: every sequence's tokens, each opened by START, concatenated;
                                     `offsets`: sequence boundaries (sequence i is tokens[offsets[i]:offsets[i+1]])
                                     `seconds_per_beat`: each sequence's beat, NaN where unknown (absent
                                     from shards built before it was recorded)
                                     `styles`: each sequence's style, an index into the manifest's
                                     "styles" (absent from shards built before styles)
    manifest.json                    encoding, sources, settings, styles, per-split and per-style counts,
                                     skipped files, pieces grouped by their opening, warnings

A sequence is one version of a piece: its original, or (train only) one augmented copy.  The split of a
piece comes from a hash of its identity, so adding pieces never moves existing ones between splits
(`train.data.splits` says what may move a piece, and why).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from duetto.atomic import write_atomically
from duetto.encodings import events as encoding
from duetto.encodings import metrical
from duetto.music.notes import Note
from duetto.music.parts import PARTS, part_roles
from duetto.music.timeline import Timeline
from duetto.train.data.corpus import read_sources
from duetto.train.data.dedup import opening_groups
from duetto.train.data.pieces import FOLDER_STYLE, SECONDS_PER_QUARTER, Piece, style_names
from duetto.train.data.shards import MANIFEST, SPLITS, encoding_stamp, metrical_stamp, read_shard
from duetto.train.data.splits import HELD_OUT, MIN_STYLE_PIECES, assign_splits

TRANSPOSE_SEMITONES = 6
STYLE_WITHHELD_SHARE = 0.25  # of training windows: their style tokens say nothing
TEMPO_RANGE = (0.8, 1.25)
TIMING_SIGMA_SECONDS = 0.01
MIN_NOTE_SECONDS = 0.01
BASE_VELOCITY_RANGE = (50, 100)
VELOCITY_JITTER = 6.0
PHRASE_AMPLITUDE_MAX = 12.0  # peak velocity swing of the slow phrase-level crescendo/decrescendo
PHRASE_PERIOD_RANGE = (4.0, 12.0)  # seconds


def piece_rng(seed: int, piece_id: str) -> np.random.Generator:
    """A generator for one piece: its augmentations do not change when other pieces come or go."""
    digest = int.from_bytes(hashlib.sha256(piece_id.encode()).digest()[:8], "big")
    return np.random.default_rng([seed, digest])


def has_dynamics(notes: Sequence[Note]) -> bool:
    """Whether the velocities say anything; scores and step-entered files play everything alike."""
    return len({note.velocity for note in notes}) > 1


def humanize_velocity(notes: Sequence[Note], rng: np.random.Generator) -> list[Note]:
    """Re-centre velocities on a random base, with a slow phrase swell and per-note jitter.

    A piece's own dynamic contour (velocity minus its median) is kept on top, so performed files keep
    their shape while flat ones gain some.
    """
    velocities = np.array([note.velocity for note in notes], dtype=float)
    starts = np.array([note.start for note in notes])
    base = rng.uniform(*BASE_VELOCITY_RANGE)
    amplitude = rng.uniform(0.0, PHRASE_AMPLITUDE_MAX)
    period = rng.uniform(*PHRASE_PERIOD_RANGE)
    phase = rng.uniform(0.0, 2 * math.pi)
    phrase = amplitude * np.sin(2 * math.pi * starts / period + phase)
    jitter = rng.normal(0.0, VELOCITY_JITTER, len(notes))
    new = np.clip(np.rint(base + velocities - np.median(velocities) + phrase + jitter), 1, 127).astype(int)
    return [Note(n.start, n.end, n.pitch, int(v), n.channel) for n, v in zip(notes, new)]


def humanize_timing(notes: Sequence[Note], rng: np.random.Generator) -> list[Note]:
    """Jitter onsets and releases a little, as a player would; no note gets shorter than
    MIN_NOTE_SECONDS or starts before zero.

    Notes in unison (two voices of a score on one key at one time) move together: they are one strike
    on a keyboard, and jittered apart they would become a blip of a note and a re-strike.
    """
    onset_jitter = rng.normal(0.0, TIMING_SIGMA_SECONDS, len(notes))
    first_of: dict[tuple[int, float], int] = {}
    for index, note in enumerate(notes):
        onset_jitter[index] = onset_jitter[first_of.setdefault((note.pitch, note.start), index)]
    starts = np.array([note.start for note in notes]) + onset_jitter
    ends = np.array([note.end for note in notes]) + rng.normal(0.0, TIMING_SIGMA_SECONDS, len(notes))
    starts = np.maximum(starts, 0.0)
    ends = np.maximum(ends, starts + MIN_NOTE_SECONDS)
    return [Note(float(s), float(e), n.pitch, n.velocity, n.channel) for n, s, e in zip(notes, starts, ends)]


def random_shift(pitches: Sequence[int], rng: np.random.Generator) -> int:
    """A transposition within ±TRANSPOSE_SEMITONES that keeps every pitch inside 0..127."""
    low = max(-TRANSPOSE_SEMITONES, -min(pitches))
    high = min(TRANSPOSE_SEMITONES, 127 - max(pitches))
    return int(rng.integers(low, high + 1)) if low <= high else 0


def augment(notes: Sequence[Note], rng: np.random.Generator) -> list[Note]:
    """One augmented copy: transposed, stretched in tempo, humanized in timing and velocity."""
    return stretched_copy(notes, rng)[0]


def stretched_copy(notes: Sequence[Note], rng: np.random.Generator) -> tuple[list[Note], float]:
    """`augment`, also saying by what factor the copy was stretched in time, so its beat stays known."""
    shift = random_shift([note.pitch for note in notes], rng)
    factor = math.exp(rng.uniform(math.log(TEMPO_RANGE[0]), math.log(TEMPO_RANGE[1])))
    moved = [Note(n.start * factor, n.end * factor, n.pitch + shift, n.velocity, n.channel) for n in notes]
    return humanize_velocity(humanize_timing(moved, rng), rng), factor


def known_seconds_per_beat(piece: Piece) -> float:
    """The beat of a piece as read: a score's is the tempo it was rendered at (SECONDS_PER_QUARTER unless
    it says otherwise); a MIDI file's notes come in seconds without their tempo map, so its beat is
    unknown (NaN)."""
    if piece.seconds_per_beat is not None:
        return piece.seconds_per_beat
    return SECONDS_PER_QUARTER if piece.id.startswith("music21:") else math.nan


def versions(piece: Piece, split: str, augment_copies: int, seed: int) -> list[tuple[list[Note], float]]:
    """The sequences a piece contributes, each with its seconds per beat (NaN when unknown): its
    original, plus augmented copies in the train split.

    An original with flat velocities gets humanized ones in every split, so neither training nor
    evaluation sees a corpus where every note is struck alike.
    """
    rng = piece_rng(seed, piece.id)
    beat = known_seconds_per_beat(piece)
    original = piece.notes if has_dynamics(piece.notes) else humanize_velocity(piece.notes, rng)
    copies = [stretched_copy(piece.notes, rng) for _ in range(augment_copies)] if split == "train" else []
    return [(original, beat), *((notes, beat * factor) for notes, factor in copies)]


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def _measure(sequence: np.ndarray) -> tuple[int, float]:
    """Notes struck, and seconds of music (the clock at the last event), in one encoded sequence."""
    notes = np.count_nonzero((sequence >= encoding.NOTE_ON) & (sequence < encoding.NOTE_OFF))
    shifts = sequence[(sequence >= encoding.TIME_SHIFT) & (sequence < encoding.VELOCITY)]
    steps = int((shifts.astype(np.int64) - encoding.TIME_SHIFT + 1).sum())
    return int(notes), steps * encoding.STEP_SECONDS


@dataclass
class Tally:
    """What one split (or one style within it) holds: its pieces and their notes and seconds as read,
    their notes by part (melody, bass, inner, other), and the sequences made of them (augmented copies
    included) with their tokens, notes and seconds."""

    pieces: int = 0
    sequences: int = 0
    tokens: int = 0
    notes: int = 0
    seconds: float = 0.0
    source_notes: int = 0
    source_seconds: float = 0.0
    part_notes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 0))

    def add_piece(self, piece: Piece, parts: Sequence[int]) -> None:
        self.pieces += 1
        self.source_notes += len(piece.notes)
        self.source_seconds += max(note.end for note in piece.notes)
        for part in parts:
            self.part_notes[PARTS[part]] += 1

    def add_sequence(self, tokens: int, notes: int, seconds: float) -> None:
        self.sequences += 1
        self.tokens += tokens
        self.notes += notes
        self.seconds += seconds

    def as_dict(self) -> dict:
        counts = asdict(self)
        counts["seconds"], counts["source_seconds"] = round(self.seconds, 1), round(self.source_seconds, 1)
        return counts


def timeline_of(piece: Piece) -> Timeline:
    """Where a piece's beats and bars fall: its own timeline, else its beat in 4/4 (a MIDI file's
    unknown beat: the default of MIDI files, 120 BPM)."""
    if piece.timeline is not None:
        return piece.timeline
    beat = known_seconds_per_beat(piece)
    return Timeline.steady(60.0 / beat if math.isfinite(beat) else 120.0)


def _encode_split(members: Sequence[Piece], split: str, augment_copies: int, seed: int, styles: Sequence[str],
                  progress: tqdm) -> tuple[dict[str, np.ndarray], Tally, dict[str, Tally]]:
    """The shard arrays of one split (tokens, offsets, seconds per beat, style indices; and each piece's
    original in the metrical encoding, which needs no augmented copies: it counts in beats, and its
    windows are transposed as they are drawn), and its counts, whole and by style."""
    sequences, beats, style_indices = [], [], []
    metrical_tables, metrical_styles = [], []
    whole, by_style = Tally(), {style: Tally() for style in styles}
    for piece in members:
        original = versions(piece, split, 0, seed)[0][0]
        parts = piece.parts or part_roles(original)
        for tally in (whole, by_style[piece.style]):
            tally.add_piece(piece, parts)
        # the event encoding holds fewer styles than the metrical one: past them, its style is withheld
        events_style = styles.index(piece.style) if styles.index(piece.style) < encoding.STYLE_SLOTS - 1 else None
        metrical_tables.append(metrical.encode(original, timeline_of(piece), parts).as_columns())
        metrical_styles.append(styles.index(piece.style))
        for version, beat in versions(piece, split, augment_copies, seed):
            # every phrase opens with its style and texture (encoding v2): what the model learns to read
            sequence = np.array([encoding.START, *encoding.encode_conditioned(version, events_style)], dtype=np.int16)
            sequences.append(sequence)
            beats.append(beat)
            style_indices.append(styles.index(piece.style))
            struck, length = _measure(sequence)
            for tally in (whole, by_style[piece.style]):
                tally.add_sequence(len(sequence), struck, length)
        progress.update()
    offsets = np.concatenate([[0], np.cumsum([len(sequence) for sequence in sequences])]).astype(np.int64)
    arrays = {
        "tokens": np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int16),
        "offsets": offsets,
        "seconds_per_beat": np.array(beats, dtype=np.float64),
        "styles": np.array(style_indices, dtype=np.int16),
        "metrical": np.concatenate(metrical_tables) if metrical_tables else np.zeros((0, 10), dtype=np.int32),
        "metrical_offsets": np.concatenate([[0], np.cumsum([len(t) for t in metrical_tables])]).astype(np.int64),
        "metrical_styles": np.array(metrical_styles, dtype=np.int16),
    }
    return arrays, whole, by_style


def check_build_settings(out_dir: str | os.PathLike, augment_copies: int, seed: int, limit: int | None) -> None:
    """A one-line ValueError naming the first bad setting (by its `duetto data build` option) and what is
    allowed, so that nothing is read before a typo is caught."""
    if not isinstance(augment_copies, int) or augment_copies < 0:
        raise ValueError(f"--augment must be a whole number of copies, 0 or more, not {augment_copies}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed must be a whole number, 0 or more, not {seed}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"--limit must be a whole number of pieces, 1 or more, not {limit}")
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ValueError(f"--out {out_dir} is a file: expected a folder to write the dataset into")


def build_dataset(
    sources: Sequence[str],
    out_dir: str | os.PathLike,
    augment_copies: int = 4,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    style: str = FOLDER_STYLE,
) -> dict:
    """Read the sources, split, augment, encode and write one shard per split plus the manifest.

    Folder and file sources are labelled `style`; `limit` reads at most that many pieces from each source
    (see `corpus.read_sources`). Deterministic given the sources' contents and `seed`. Returns the
    manifest. Raises a one-line ValueError for a bad setting or source before reading anything, and when
    no piece at all could be read.
    """
    check_build_settings(out_dir, augment_copies, seed, limit)
    corpus = read_sources(sources, cache_dir=cache_dir, limit=limit, style=style)
    if not corpus.pieces:
        raise ValueError(f"no readable pieces in {list(sources)} ({len(corpus.skipped)} skipped)")
    out = Path(out_dir)
    (out / MANIFEST).unlink(missing_ok=True)  # until the new one is written, the folder is no dataset
    styles = style_names([style])
    groups = opening_groups(sorted(corpus.pieces, key=lambda p: p.id))  # order independent of the folders
    by_split = assign_splits(groups)
    counts, style_counts = {}, {name: {} for name in styles}
    with tqdm(total=len(corpus.pieces), desc="encoding", unit="piece", disable=None) as progress:
        for split in SPLITS:
            members = sorted(by_split[split], key=lambda p: p.id)
            arrays, whole, by_style = _encode_split(members, split, augment_copies, seed, styles, progress)
            _write_npz(out / f"{split}.npz", **arrays)
            counts[split] = whole.as_dict()
            for name, tally in by_style.items():
                style_counts[name][split] = tally.as_dict()
    manifest = {
        "encoding": encoding_stamp(),
        "metrical_encoding": metrical_stamp(),
        "sources": list(sources),
        "seed": seed,
        "limit": limit,
        "augment": {
            "copies": augment_copies,
            "transpose_semitones": TRANSPOSE_SEMITONES,
            "tempo_range": list(TEMPO_RANGE),
            "timing_sigma_seconds": TIMING_SIGMA_SECONDS,
            "base_velocity_range": list(BASE_VELOCITY_RANGE),
            "velocity_jitter": VELOCITY_JITTER,
            "phrase_amplitude_max": PHRASE_AMPLITUDE_MAX,
        },
        "styles": styles,
        "splits": counts,
        "style_counts": style_counts,
        "empty_splits": [split for split in SPLITS if counts[split]["pieces"] == 0],
        "skipped": [{"name": s.name, "reason": s.reason} for s in corpus.skipped],
        "not_midi_files": corpus.not_midi,
        "malformed_events": corpus.malformed,
        "shared_openings": [[piece.name for piece in group] for group in groups if len(group) > 1],
        "estimated_beat": sorted(piece.name for piece in corpus.pieces if piece.beat_estimated),
    }
    manifest["warnings"] = split_warnings(manifest)
    write_atomically(out / MANIFEST, lambda handle: json.dump(manifest, handle, indent=1), mode="w")
    return manifest


def split_warnings(manifest: dict) -> list[str]:
    """One line for each held-out split left empty and each style too small to reach valid and test:
    the build is still written, but training cannot be measured on what is missing."""
    warnings = []
    empty = manifest["empty_splits"]
    if empty:
        total = sum(counts["pieces"] for counts in manifest["splits"].values())
        warnings.append(f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty: every split needs "
                        f"at least 1 piece, and only a style with at least {MIN_STYLE_PIECES} pieces that open "
                        f"differently is sure to reach all three (found {total} pieces)")
    for name, by_split in manifest["style_counts"].items():
        pieces = sum(counts["pieces"] for counts in by_split.values())
        missing = [split for split in HELD_OUT if by_split[split]["pieces"] == 0]
        if pieces and missing and not set(missing) <= set(empty):
            warnings.append(f"style {name!r} has no {' or '.join(missing)} piece: a style needs at least "
                            f"{MIN_STYLE_PIECES} pieces that open differently to reach every split (found {pieces})")
    return warnings


def random_shifts(pitches: np.ndarray, is_note: np.ndarray, top: int, rng: np.random.Generator,
                  semitones: int = TRANSPOSE_SEMITONES) -> np.ndarray:
    """The transposition of every family's training windows: for each window (the first axis of
    `pitches`, where `is_note` marks real notes) a random shift in ±semitones, or 0 where that shift would
    take one of its notes outside 0..top-1 (so a window is shifted whole or not at all)."""
    axes = tuple(range(1, pitches.ndim))
    lowest = np.where(is_note, pitches, top).min(axis=axes)
    highest = np.where(is_note, pitches, -1).max(axis=axes)
    shifts = rng.integers(-semitones, semitones + 1, size=len(pitches))
    return np.where((lowest + shifts >= 0) & (highest + shifts < top), shifts, 0)


def withhold_styles(windows: np.ndarray, rng: np.random.Generator, share: float = STYLE_WITHHELD_SHARE) -> None:
    """In `share` of the windows (in place), every STYLE token says "withheld": the model learns to play
    from the music alone too, as it must when a player names no style."""
    chosen = rng.random(len(windows)) < share
    said = (windows > encoding.STYLE) & (windows < encoding.TEXTURE)
    windows[chosen[:, None] & said] = encoding.STYLE


def transpose_windows(windows: np.ndarray, rng: np.random.Generator, semitones: int = TRANSPOSE_SEMITONES) -> None:
    """Shift the note tokens of each window (in place), as `random_shifts` says."""
    is_note = (windows >= encoding.NOTE_ON) & (windows < encoding.TIME_SHIFT)
    pitch = (windows - encoding.NOTE_ON) % encoding.PITCHES
    shifts = random_shifts(pitch, is_note, encoding.PITCHES, rng, semitones)
    windows += np.where(is_note, shifts[:, None], 0)


def covering_windows(offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts of windows stepping through each sequence by seq_len, and the end of each one's sequence:
    together they make every item but a sequence's first a prediction target exactly once."""
    starts, ends = [], []
    for begin, end in zip(offsets[:-1], offsets[1:]):
        for start in range(begin, end - 1, seq_len):
            starts.append(start)
            ends.append(end)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


class TokenWindows:
    """Fixed-length token windows from one split of a built dataset.

    Each window holds seq_len + 1 tokens: the model reads window[:-1] and predicts window[1:]. PAD fills
    what lies past a sequence's end, and the loss must ignore it.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str, seq_len: int, transpose: bool = False) -> None:
        """`transpose`: shift each sampled window by a random ±6 semitones (for training only;
        eval_batches never transposes)."""
        if seq_len < 1:
            raise ValueError(f"seq_len must be at least 1, not {seq_len}")
        shard = read_shard(data_dir, split)
        self.tokens, self.offsets, self.manifest = shard.tokens, shard.offsets, shard.manifest
        self.seq_len = seq_len
        self.transpose = transpose

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_pieces(self) -> int:
        """Sequences in the split, augmented copies included."""
        return len(self.offsets) - 1

    def _windows(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Windows from `starts`, each cut at its sequence's end and right-padded with PAD."""
        positions = starts[:, None] + np.arange(self.seq_len + 1)
        inside = positions < ends[:, None]
        windows = self.tokens[np.minimum(positions, len(self.tokens) - 1)]
        return np.where(inside, windows, encoding.PAD)

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """int64 [batch_size, seq_len + 1] random windows: a sequence chosen with probability
        proportional to its length, then a uniformly random start within it."""
        if self.num_tokens == 0:
            raise ValueError("cannot sample from an empty split")
        lengths = np.diff(self.offsets)
        chosen = rng.choice(self.num_pieces, size=batch_size, p=lengths / lengths.sum())
        room = np.maximum(lengths[chosen] - (self.seq_len + 1), 0)
        starts = self.offsets[chosen] + rng.integers(0, room + 1)
        windows = self._windows(starts, self.offsets[chosen + 1])
        if self.transpose:
            transpose_windows(windows, rng)
            withhold_styles(windows, rng)
        return windows

    def eval_batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Deterministic int64 batches [<= batch_size, seq_len + 1] in which every token of the split,
        save each sequence's opening START (which nothing precedes), is a prediction target exactly once.

        Windows step through each sequence by seq_len, so consecutive windows share one token: the last
        input of one is the first of the next.
        """
        starts, ends = covering_windows(self.offsets, self.seq_len)
        for first in range(0, len(starts), batch_size):
            yield self._windows(starts[first:first + batch_size], ends[first:first + batch_size])
