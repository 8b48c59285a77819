"""Training pieces from their sources: folders of MIDI files, and the Bach chorales bundled with music21.

A corpus build must survive the real world's MIDI files, so nothing here stops on one bad file: each
unreadable or duplicate item becomes a `Skipped` with a one-line reason, for the manifest to report.

Every piece carries an identity that depends only on its content or its catalogue name, never on where a
folder happens to live, so the train/valid/test split (see `train.dataset.split_of`) is stable across
machines and checkouts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from duetto.atomic import write_atomically
from duetto.midi.files import MidiFileError, read_midi
from duetto.music.notes import Note

MIDI_EXTENSIONS = (".mid", ".midi")
MAX_FILE_BYTES = 64 * 1024 * 1024  # real MIDI files are tiny; anything this big is not music worth reading

BACH_SOURCE = "music21:bach"
SECONDS_PER_QUARTER = 0.6  # the chorales carry no performance tempo: play them all at 100 BPM
CHORALE_VELOCITY = 80  # flat on purpose; the dataset humanizes velocities
CONVERTER_VERSION = 1  # bump whenever the chorale conversion changes, so stale caches are not reused


@dataclass
class Piece:
    """One piece of music: `id` is its stable identity, `name` is for people reading reports."""

    id: str
    name: str
    notes: list[Note]


@dataclass
class Skipped:
    """An item of a source that did not become a piece, and why."""

    name: str
    reason: str


def read_sources(
    sources: Sequence[str],
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> tuple[list[Piece], list[Skipped]]:
    """Read every source: a folder of MIDI files, or "music21:bach".

    A piece already read (same identity) is skipped with a reason, so listing a source twice is harmless.
    `limit` reads at most that many items (files or chorales) from each source, for quick tests.
    `cache_dir` holds converted chorales (default: $DUETTO_CACHE, else ~/.cache/duetto).
    Raises ValueError for a source that is neither.
    """
    pieces: list[Piece] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}  # piece id -> name of the first piece with it
    for source in sources:
        if source == BACH_SOURCE:
            found, bad = read_bach_chorales(cache_dir, limit)
        elif Path(source).is_dir():
            found, bad = read_folder(source, limit)
        else:
            raise ValueError(f"unknown source {source!r}: expected a folder of MIDI files or {BACH_SOURCE!r}")
        skipped.extend(bad)
        for piece in found:
            if piece.id in seen:
                skipped.append(Skipped(piece.name, f"duplicate of {seen[piece.id]}"))
            else:
                seen[piece.id] = piece.name
                pieces.append(piece)
    return pieces, skipped


def midi_files(folder: str | os.PathLike) -> tuple[list[Path], list[Skipped]]:
    """Every *.mid / *.midi file under `folder` (any letter case), sorted by path for a stable order.

    Other files are reported as skipped, so a summary accounts for every file; unlistable subfolders are
    reported rather than raised; symlinked folders are not followed, so a link
    loop cannot hang the build.
    """
    root = Path(folder)
    files: list[Path] = []
    skipped: list[Skipped] = []

    def report(error: OSError) -> None:
        name = Path(error.filename).relative_to(root).as_posix() if error.filename else str(root)
        skipped.append(Skipped(name, f"cannot list folder ({error.strerror or error})"))

    for directory, _, names in os.walk(root, onerror=report):
        for name in sorted(names):
            path = Path(directory, name)
            if name.lower().endswith(MIDI_EXTENSIONS):
                files.append(path)
            else:
                skipped.append(Skipped(path.relative_to(root).as_posix(), "not named .mid or .midi"))
    return sorted(files), skipped


def read_folder(folder: str | os.PathLike, limit: int | None = None) -> tuple[list[Piece], list[Skipped]]:
    """Read the MIDI files of a folder; a piece's identity is the sha256 of its file's bytes."""
    root = Path(folder)
    files, skipped = midi_files(root)
    pieces: list[Piece] = []
    for path in files[:limit]:
        name = path.relative_to(root).as_posix()
        try:
            piece = _read_midi_piece(path, name)
        except (MidiFileError, OSError) as error:
            skipped.append(Skipped(name, _one_line(error, path)))
        else:
            pieces.append(piece)
    return pieces, skipped


def _read_midi_piece(path: Path, name: str) -> Piece:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise MidiFileError(f"{size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
    if size == 0:
        raise MidiFileError("empty file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    notes = read_midi(path)
    if not notes:
        raise MidiFileError("no notes")
    return Piece(f"sha256:{digest}", name, notes)


def _one_line(error: Exception, path: Path) -> str:
    """The reason alone: read_midi prefixes its messages with the path, which the report already shows."""
    if isinstance(error, OSError):
        return f"cannot read file ({error.strerror or error})"
    message = " ".join(str(error).split())
    return message.removeprefix(f"{path}: ")


def cache_folder(cache_dir: str | os.PathLike | None) -> Path:
    """Where converted corpora are kept: the argument, else $DUETTO_CACHE, else ~/.cache/duetto."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("DUETTO_CACHE") or Path.home() / ".cache" / "duetto")


def read_bach_chorales(
    cache_dir: str | os.PathLike | None = None, limit: int | None = None
) -> tuple[list[Piece], list[Skipped]]:
    """The Bach chorales of music21's bundled corpus (offline), converted once and then cached.

    Conversion takes minutes, so the result is cached under a name that carries the music21 version and
    CONVERTER_VERSION (and `limit`): a new music21 or a changed converter converts afresh.
    """
    import music21  # heavy, and only needed for this source

    suffix = f"-first{limit}" if limit is not None else ""
    cache = cache_folder(cache_dir) / f"bach-chorales-m21_{music21.__version__}-c{CONVERTER_VERSION}{suffix}.json"
    cached = _load_cache(cache)
    if cached is not None:
        return cached
    pieces, skipped = _convert_chorales(limit)
    payload = {
        "music21": music21.__version__,
        "converter": CONVERTER_VERSION,
        "pieces": [{"id": p.id, "name": p.name, "notes": [[n.start, n.end, n.pitch, n.velocity] for n in p.notes]}
                   for p in pieces],
        "skipped": [{"name": s.name, "reason": s.reason} for s in skipped],
    }
    write_atomically(cache, lambda handle: json.dump(payload, handle), mode="w")
    return pieces, skipped


def _load_cache(cache: Path) -> tuple[list[Piece], list[Skipped]] | None:
    """The cached conversion, or None when absent or unreadable (it is then simply rebuilt)."""
    try:
        payload = json.loads(cache.read_text())
        pieces = [Piece(p["id"], p["name"], [Note(s, e, pitch, velocity) for s, e, pitch, velocity in p["notes"]])
                  for p in payload["pieces"]]
        skipped = [Skipped(s["name"], s["reason"]) for s in payload["skipped"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pieces, skipped


def _convert_chorales(limit: int | None) -> tuple[list[Piece], list[Skipped]]:
    from music21 import corpus
    from tqdm import tqdm

    # The catalogue lists some files under two numbers; a file is read once.
    names = list(dict.fromkeys(corpus.chorales.Iterator(returnType="filename")))[:limit]
    pieces: list[Piece] = []
    skipped: list[Skipped] = []
    first_with: dict[str, str] = {}  # content hash -> name: some chorales appear under two files
    for name in tqdm(names, desc="converting Bach chorales", unit="chorale", disable=None):
        try:
            notes = score_notes(corpus.parse(name))
        except Exception as error:  # music21 raises many unrelated types; one bad chorale must not stop the rest
            skipped.append(Skipped(name, f"music21 could not read it ({type(error).__name__}: "
                                         f"{' '.join(str(error).split())})"))
            continue
        if not notes:
            skipped.append(Skipped(name, "no notes"))
            continue
        content = _content_hash(notes)
        if content in first_with:
            skipped.append(Skipped(name, f"same notes as {first_with[content]}"))
            continue
        first_with[content] = name
        pieces.append(Piece(f"music21:{name}", name, notes))  # name is "bach/bwv…"
    return pieces, skipped


def score_notes(score) -> list[Note]:
    """The notes of a music21 score, read straight from its parts (not via its MIDI export, which fails
    on some chorales). Tied notes become one note; chords give one note per pitch; grace notes, having no
    length, are dropped; repeats are played as written, once."""
    notes = []
    for part in score.parts:
        flat = part.stripTies().flatten()
        for element in flat.notes:
            length = float(element.quarterLength)
            if length <= 0:
                continue
            start = float(flat.elementOffset(element)) * SECONDS_PER_QUARTER
            end = start + length * SECONDS_PER_QUARTER
            for pitch in element.pitches:
                if 0 <= pitch.midi <= 127:
                    notes.append(Note(start, end, pitch.midi, CHORALE_VELOCITY))
    return sorted(notes)


def _content_hash(notes: Sequence[Note]) -> str:
    key = json.dumps([[round(n.start, 4), round(n.end, 4), n.pitch] for n in notes])
    return hashlib.sha256(key.encode()).hexdigest()
