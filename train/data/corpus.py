"""Training pieces from their sources: folders of MIDI files, single MIDI files, the scores bundled with
music21 (`music21:NAME`, `music21:all`; see `train.data.music21_corpus`), and band music rendered by MMA
(`mma:STYLE`, `mma:all`; see `train.data.accompaniment`).

A corpus build must survive the real world's MIDI files, so nothing here stops on one bad file: each
unreadable or duplicate item becomes a `Skipped` with a one-line reason, for the manifest to report, and
files that are not MIDI files at all (READMEs, PDFs, images) are counted by extension. Only a source
that cannot be read at all (a missing folder, an unknown collection) stops a build, before any work.

Every piece carries an identity that depends only on its content or its catalogue name, never on where a
folder happens to live, so the train/valid/test split (see `train.data.splits`) is stable across machines
and checkouts. Copies of one piece are dropped twice over: byte for byte (the same identity), and note
for note (`train.data.dedup`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from duetto.midi.files import MidiFileError, read_score
from duetto.music.clock import fitting_timeline
from duetto.music.timeline import Timeline
from duetto.train.data import accompaniment, music21_corpus
from duetto.train.data.dedup import drop_copies
from duetto.train.data.pieces import FOLDER_STYLE, Piece, Skipped, check_style

MIDI_EXTENSIONS = (".mid", ".midi", ".kar")  # .kar: karaoke files, standard MIDI files with lyrics
MIDI_HEADER = b"MThd"  # how every standard MIDI file begins
MAX_FILE_BYTES = 64 * 1024 * 1024  # real MIDI files are tiny; anything this big is not music worth reading
NO_EXTENSION = "(no extension)"


@dataclass
class Corpus:
    """What the sources held: the pieces, what could not be used and why, how many files were passed
    over for not being MIDI files (by extension, e.g. {".txt": 40, ".pdf": 30}), and how many malformed
    meta or SysEx events each file read had left out (by name; only files that had some)."""

    pieces: list[Piece] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_midi: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)


def source_kinds() -> str:
    """What a source may be, for error messages and --help."""
    return (f"a folder of MIDI files, one MIDI file ({', '.join(MIDI_EXTENSIONS)}), {music21_corpus.ALL}, "
            f"music21:NAME, where NAME is one of {', '.join(music21_corpus.collection_names())}, "
            f"{accompaniment.ALL}, or mma:STYLE, where STYLE is one of {', '.join(accompaniment.GROOVES)}")


def check_sources(sources: Sequence[str]) -> None:
    """A one-line ValueError for the first source that cannot be read at all, before any work starts."""
    if not sources:
        raise ValueError(f"no sources given: expected {source_kinds()}")
    for source in sources:
        path = Path(source)
        if source.startswith(music21_corpus.PREFIX):
            if music21_corpus.collection_of(source) is None:
                raise ValueError(f"unknown source {source!r}: music21 has no such collection; expected "
                                 f"{source_kinds()}")
        elif source.startswith(accompaniment.PREFIX):
            if accompaniment.collection_of(source) is None:
                raise ValueError(f"unknown source {source!r}: no such band style; expected {source_kinds()}")
            accompaniment.check_renderer()
        elif not path.exists():
            raise ValueError(f"source {source} does not exist: expected {source_kinds()}")
        elif path.is_file() and path.suffix.lower() not in MIDI_EXTENSIONS:
            raise ValueError(f"source {source} is not named as a MIDI file: expected {source_kinds()}")
        elif not (path.is_file() or path.is_dir()):
            raise ValueError(f"source {source} is neither a file nor a folder: expected {source_kinds()}")


def read_sources(
    sources: Sequence[str],
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    style: str = FOLDER_STYLE,
) -> Corpus:
    """Read every source (see `source_kinds`); folder and file sources get `style`, music21's collections
    their own.

    A piece already read (same identity, or the same music) is skipped with a reason naming the first, so
    listing a source twice is harmless. With several sources, folder pieces are named with their folder,
    so that such a report says which file copies which. `limit` reads at most that many items (files,
    scores or tunes) from each source, or each collection of music21:all, for quick trials. `cache_dir`
    holds parsed music21 scores (default: $DUETTO_CACHE, else ~/.cache/duetto). Raises a one-line
    ValueError for a source that cannot be read at all or a bad style, before reading anything.
    """
    check_sources(sources)
    check_style(style)
    collections = [name for source in sources for name in music21_corpus.collection_of(source) or []]
    scores = music21_corpus.read_collections(collections, cache_dir, limit) if collections else {}
    corpus = Corpus()
    not_midi: Counter[str] = Counter()
    malformed: Counter[str] = Counter()
    seen: dict[str, str] = {}  # piece id -> name of the first piece with it
    for source in sources:
        if source.startswith(music21_corpus.PREFIX):
            found = [scores[name] for name in music21_corpus.collection_of(source)]
        elif source.startswith(accompaniment.PREFIX):
            found = [accompaniment.read_styles(accompaniment.collection_of(source), cache_dir, limit)]
        else:
            found = [_read_midi_source(Path(source), limit, style, source if len(sources) > 1 else None, not_midi,
                                       malformed)]
        for pieces, bad in found:
            corpus.skipped.extend(bad)
            for piece in pieces:
                if piece.id in seen:
                    corpus.skipped.append(Skipped(piece.name, f"duplicate of {seen[piece.id]}"))
                else:
                    seen[piece.id] = piece.name
                    corpus.pieces.append(piece)
    corpus.pieces, copies = drop_copies(corpus.pieces)
    corpus.skipped.extend(copies)
    corpus.not_midi = dict(not_midi.most_common())
    corpus.malformed = dict(malformed)
    return corpus


def _read_midi_source(path: Path, limit: int | None, style: str, shown_as: str | None,
                      not_midi: Counter[str], malformed: Counter[str]) -> tuple[list[Piece], list[Skipped]]:
    """The pieces of a folder or of one MIDI file, named relative to the folder (a file: by its name),
    or under `shown_as` (the source as given) when there are several sources; the folder's files that
    are not MIDI files are counted into `not_midi`, the malformed events left out into `malformed`."""
    if path.is_file():
        return _read_files([(path, shown_as or path.name)], limit, style, malformed)
    files, skipped, passed_over = midi_files(path)
    not_midi.update(passed_over)
    named = [(file, file.relative_to(path).as_posix()) for file in files]
    if shown_as is not None:
        named = [(file, f"{shown_as.rstrip('/')}/{name}") for file, name in named]
        skipped = [Skipped(f"{shown_as.rstrip('/')}/{item.name}", item.reason) for item in skipped]
    found, bad = _read_files(named, limit, style, malformed)
    return found, skipped + bad


def midi_files(folder: str | os.PathLike) -> tuple[list[Path], list[Skipped], Counter[str]]:
    """Every MIDI file under `folder` (named .mid, .midi or .kar in any letter case), sorted by path for
    a stable order; the other files counted by extension, so a summary accounts for every file.

    Unlistable subfolders are reported rather than raised; symlinked folders are not followed, so a link
    loop cannot hang the build.
    """
    root = Path(folder)
    files: list[Path] = []
    skipped: list[Skipped] = []
    others: Counter[str] = Counter()

    def report(error: OSError) -> None:
        name = Path(error.filename).relative_to(root).as_posix() if error.filename else str(root)
        skipped.append(Skipped(name, f"cannot list folder ({error.strerror or error})"))

    for directory, _, names in os.walk(root, onerror=report):
        for name in names:
            extension = Path(name).suffix.lower()
            if extension in MIDI_EXTENSIONS:
                files.append(Path(directory, name))
            else:
                others[extension or NO_EXTENSION] += 1
    return sorted(files), skipped, others


def _read_files(named: Sequence[tuple[Path, str]], limit: int | None, style: str, malformed: Counter[str],
                ) -> tuple[list[Piece], list[Skipped]]:
    """The first `limit` files as pieces (identity: the sha256 of the file's bytes), and why the rest
    of them could not be; the malformed events a file read had left out are counted into `malformed`."""
    pieces: list[Piece] = []
    skipped: list[Skipped] = []
    for path, name in named[:limit]:
        try:
            identity = _file_identity(path)  # first: it keeps huge, empty and non-MIDI files from read_score
            pieces.append(_read_piece(path, identity, name, style, malformed))
        except (MidiFileError, OSError) as error:
            skipped.append(Skipped(name, _one_line(error, path)))
    return pieces, skipped


def _file_identity(path: Path) -> str:
    """The sha256 of a file's bytes, after the checks that keep huge, empty and non-MIDI files out."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise MidiFileError(f"{size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
    if size == 0:
        raise MidiFileError("empty file")
    data = path.read_bytes()
    if not data.startswith(MIDI_HEADER):  # read_score would say "file ends too early" of a text file
        raise MidiFileError(f"not a MIDI file (it does not begin with {MIDI_HEADER.decode()})")
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _read_piece(path: Path, identity: str, name: str, style: str, malformed: Counter[str]) -> Piece:
    """A MIDI file as a piece, with its tempo map and time signatures, or a beat estimated from its onsets
    when its tempo map does not fit them (duetto.music.clock.fitting_timeline); the malformed events it
    had left out are counted into `malformed`."""
    score = read_score(path)
    if not score.notes:
        raise MidiFileError("no notes")
    if score.skipped_events:
        malformed[name] = score.skipped_events
    given = Timeline(tuple(score.tempos), tuple(score.meters))
    timeline, _ = fitting_timeline([note.start for note in score.notes], given)
    return Piece(identity, name, score.notes, style, timeline=timeline, beat_estimated=timeline is not given)


def _one_line(error: Exception, path: Path) -> str:
    """The reason alone: read_score prefixes its messages with the path, which the report already shows."""
    if isinstance(error, OSError):
        return f"cannot read file ({error.strerror or error})"
    message = " ".join(str(error).split())
    return message.removeprefix(f"{path}: ")
