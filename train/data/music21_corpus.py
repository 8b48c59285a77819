"""The scores bundled with music21 (offline): its collections, each labelled with a style, parsed once in
parallel and then cached.

A collection is one folder of music21's corpus ("bach", "essenFolksong", "palestrina", ...), read as the
source `music21:NAME`; `music21:all` reads every one. An item is one piece: a score file, or one tune of
an ABC file (which holds many, each opened by an `X:` line). Its name is its corpus path without the
extension, plus `/X` for an ABC tune ("essenFolksong/altdeu10/12"), and its identity is "music21:" and the
name, so the chorales keep the identities (and so the splits) they always had: "music21:bach/bwv269".

Parsing the whole corpus takes many minutes, so each collection's results (pieces and failures alike) are
cached in one file under a folder named for the music21 version and CONVERTER_VERSION; a build reads what
is cached and parses only what is not (a build with `limit` caches its part for the next).
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import os
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from duetto.atomic import write_atomically
from duetto.music.notes import Note
from duetto.music.timeline import Timeline, bar_beats
from duetto.train.data.pieces import SECONDS_PER_QUARTER, Piece, Skipped

PREFIX = "music21:"
ALL = "music21:all"
CONVERTER_VERSION = 3  # bump whenever the conversion changes, so stale caches are not reused
SCORE_VELOCITY = 80  # flat on purpose; the dataset humanizes velocities
MAX_PART = 8  # a note's part number rides in its MIDI channel (below 9, the drums')
MIN_BAR_QUARTERS = 0.5  # a "1/32" time signature marks an odd pickup bar, not a meter: ignored
PARSE_WORKERS = 2  # both cores of the machines Duetto is built on; music21 parses in pure Python
# one item parsed for longer than this is given up (and left out of the cache, so a later build tries it
# again): the largest works of the corpus take under a minute, and a score music21 loops on must not stall
# a build of thousands
PARSE_SECONDS = 300.0

# Every collection read, with its style, in the order music21:all reads them.
COLLECTIONS: dict[str, str] = {
    "bach": "chorale",
    **dict.fromkeys(["essenFolksong", "ryansMammoth", "oneills1850", "airdsAirs", "miscFolk", "nottingham-dataset"],
                    "folk"),
    **dict.fromkeys(["palestrina", "monteverdi", "trecento", "josquin", "ciconia", "luca", "lusitano"],
                    "renaissance"),
    **dict.fromkeys(["beethoven", "mozart", "haydn", "schubert", "schumann_robert", "schumann_clara", "chopin",
                     "corelli", "handel", "cpebach", "joplin", "beach", "verdi", "weber", "liliuokalani",
                     "johnson_j_r", "leadSheet", "schoenberg", "webern"], "classical"),
}
# music21's own test material, not music to learn from: never read.
LEFT_OUT = ("demos", "theoryExercises")
# Roman-numeral analyses: chord labels over bar numbers, not the music itself.
ANALYSIS_EXTENSIONS = (".rntxt",)
# Collections whose ABC files hold one piece each, a voice under each `X:` line: read whole, voices merged.
VOICES_AS_TUNES = ("josquin",)


@dataclass(frozen=True)
class Item:
    """One piece to parse: a score file, or one tune of an ABC file (`tune` holds its text)."""

    collection: str
    name: str
    path: str
    tune: str | None = None


def collection_names() -> list[str]:
    """Every collection that `music21:NAME` accepts, in the order music21:all reads them."""
    return list(COLLECTIONS)


def collections_by_style() -> dict[str, list[str]]:
    """The collections of each style, for --help."""
    by_style: dict[str, list[str]] = {}
    for name, style in COLLECTIONS.items():
        by_style.setdefault(style, []).append(name)
    return by_style


def collection_of(source: str) -> list[str] | None:
    """The collections a source names ("music21:all": every one), or None when it names none."""
    if source == ALL:
        return collection_names()
    name = source.removeprefix(PREFIX)
    return [name] if source.startswith(PREFIX) and name in COLLECTIONS else None


def corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.__file__).parent


def collection_items(collection: str) -> list[Item]:
    """The pieces of one collection, in a stable order (what `limit` takes the first of)."""
    items: list[Item] = []
    for name, path in _named_files(collection):
        if path.suffix.lower() == ".abc" and collection not in VOICES_AS_TUNES:
            items.extend(Item(collection, f"{name}/{number}", str(path), text) for number, text in abc_tunes(path))
        else:
            items.append(Item(collection, name, str(path)))
    return items


def _named_files(collection: str) -> list[tuple[str, Path]]:
    """The files of a collection, each with its name: its corpus path without the extension. A file
    stored in two formats (bwv277.krn and bwv277.mxl) is read once, the first path in sorted order, as
    music21's own corpus.parse picks it.

    For "bach", the chorales of music21's chorale catalogue, in its order and under its names, as Duetto
    has always read them (a catalogue name may pick a file of a longer name, bwv112.5 -> bwv112.5-sc.mxl,
    and two names the same file). The folder's other files are analyses, variant editions of those
    chorales and one prelude: left out, so that `music21:bach` stays the benchmark it has been.
    """
    from music21 import corpus

    if collection == "bach":
        found = {name: corpus.getWork(name) for name in corpus.chorales.Iterator(returnType="filename")}
        return [(name, Path(work[0] if isinstance(work, list) else work)) for name, work in found.items()]
    root = corpus_root()
    files: dict[str, Path] = {}
    for path in sorted(Path(path) for path in corpus.corpora.CoreCorpus().getPaths()):
        if path.relative_to(root).parts[0] == collection and path.suffix.lower() not in ANALYSIS_EXTENSIONS:
            files.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
    return list(files.items())


def abc_tunes(path: Path) -> list[tuple[str, str]]:
    """The tunes of an ABC file as (reference number, text), each from its `X:` line to the next.

    Parsing tune by tune (not the file as one Opus) lets both cores share a big file and lets `limit`
    stop early. A file without `X:` lines is one tune, numbered "1".
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    tunes: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.strip().startswith("X:"):
            tunes.append((line.strip()[2:].strip(), [line]))
        elif tunes:
            tunes[-1][1].append(line)
    if not tunes:
        return [("1", text)]
    return [(number, "\n".join(lines) + "\n") for number, lines in tunes]


def read_collections(
    collections: Sequence[str],
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> dict[str, tuple[list[Piece], list[Skipped]]]:
    """Every piece of the given collections (at most `limit` from each), by collection.

    What the cache lacks is parsed in one pool of PARSE_WORKERS processes, behind one progress bar, and
    each collection's cache is rewritten as soon as its last item is in.
    """
    import music21

    folder = cache_folder(cache_dir) / f"music21-{music21.__version__}-c{CONVERTER_VERSION}"
    items = {name: collection_items(name)[:limit] for name in dict.fromkeys(collections)}
    results = {name: _load_cache(folder / f"{name}.json") for name in items}
    missing = [item for name in items for item in items[name] if item.name not in results[name]]
    remaining = {name: sum(item.collection == name for item in missing) for name in items}
    for item, result in _parse_all(missing):
        results[item.collection][item.name] = result
        remaining[item.collection] -= 1
        if remaining[item.collection] == 0:
            _write_cache(folder / f"{item.collection}.json",
                         {name: kept for name, kept in results[item.collection].items() if not kept.get("timed_out")})
    return {name: _pieces(items[name], results[name]) for name in items}


def _parse_all(items: Sequence[Item]) -> Iterator[tuple[Item, dict]]:
    """Each item with its parse result, in order, parsed by a pool of worker processes.

    The workers are spawned, not forked: the parent has imported torch and runs tqdm's monitor thread,
    and a fork copies whatever lock those threads held.
    """
    if not items:
        return
    from tqdm import tqdm

    with multiprocessing.get_context("spawn").Pool(min(PARSE_WORKERS, len(items)), maxtasksperchild=500) as pool:
        results = pool.imap(parse_item, items)
        yield from tqdm(zip(items, results), total=len(items), desc="parsing music21's corpus", unit="piece",
                        disable=None)


class ParseTimeout(BaseException):
    """An item took longer than its time limit to parse (a BaseException: music21's own `except
    Exception` clauses must not swallow it)."""


def _give_up(signum, frame) -> None:
    raise ParseTimeout


def parse_item(item: Item, seconds: float = PARSE_SECONDS) -> dict:
    """One item parsed: {"notes": [[start, end, pitch, velocity, part], ...], "seconds_per_beat": s,
    "tempos": [[seconds, bpm], ...], "meters": [[seconds, numerator, denominator], ...]}, or
    {"error": one line} for what music21 cannot read, what holds no notes, or what takes longer than
    `seconds` (then also "timed_out"). Runs in a worker process, on its main thread (the time limit is a
    SIGALRM timer)."""
    from music21 import converter, stream

    previous = signal.signal(signal.SIGALRM, _give_up)
    # again every tenth of a second after that: an alarm raised where Python ignores exceptions (a gc
    # callback) must not let the parse run on
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        with warnings.catch_warnings():  # music21 warns of each overfull bar it mends: no news to a user
            warnings.simplefilter("ignore")
            if item.tune is not None:
                score = converter.parseData(item.tune, format="abc")
            else:  # no pickles: music21 would otherwise write one per file into its scratch folder
                score = converter.parseFile(item.path, forceSource=True, storePickle=False)
            if isinstance(score, stream.Opus):  # a file of voices, one work each (VOICES_AS_TUNES)
                score = score.mergeScores()
            timing = TempoMap.of(score)
            notes = score_notes(score, timing)
            meters = score_meters(score, timing)
    except ParseTimeout:
        return {"error": f"music21 took longer than {seconds:g} s to read it", "timed_out": True}
    except Exception as error:  # music21 raises many unrelated types; one bad score must not stop the rest
        return {"error": f"music21 could not read it ({type(error).__name__}: {' '.join(str(error).split())})"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if not notes:
        return {"error": "no notes"}
    return {"notes": [[n.start, n.end, n.pitch, n.velocity, n.channel] for n in notes],
            "seconds_per_beat": timing.opening_seconds_per_quarter,
            "tempos": [[start, 60.0 / rate] for start, rate in zip(timing.starts, timing.seconds_per_quarter)],
            "meters": meters}


def _pieces(items: Iterable[Item], results: dict[str, dict]) -> tuple[list[Piece], list[Skipped]]:
    pieces: list[Piece] = []
    skipped: list[Skipped] = []
    for item in items:
        result = results[item.name]
        if "error" in result:
            skipped.append(Skipped(item.name, result["error"]))
            continue
        notes = [Note(start, end, pitch, velocity, part) for start, end, pitch, velocity, part in result["notes"]]
        pieces.append(Piece(PREFIX + item.name, item.name, notes, COLLECTIONS[item.collection],
                            result["seconds_per_beat"], Timeline.of_lists(result["tempos"], result["meters"])))
    return pieces, skipped


def cache_folder(cache_dir: str | os.PathLike | None) -> Path:
    """Where converted corpora are kept: the argument, else $DUETTO_CACHE, else ~/.cache/duetto."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("DUETTO_CACHE") or Path.home() / ".cache" / "duetto")


def _load_cache(path: Path) -> dict[str, dict]:
    """A collection's cached results by item name; empty when absent or unreadable (then re-parsed)."""
    try:
        results = json.loads(path.read_text())["items"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return results if isinstance(results, dict) else {}


def _write_cache(path: Path, results: dict[str, dict]) -> None:
    write_atomically(path, lambda handle: json.dump({"items": results}, handle), mode="w")


@dataclass
class TempoMap:
    """Where a score's tempo changes: the quarter-note offset of each change, the seconds per quarter
    from there on, and the time in seconds each change falls at.

    A score without a tempo mark plays at SECONDS_PER_QUARTER; music before a score's first mark plays at
    that mark's tempo (it is usually a pickup bar). Marks that give no number are ignored.
    """

    offsets: list[float]
    seconds_per_quarter: list[float]
    starts: list[float]

    @classmethod
    def of(cls, score) -> TempoMap:
        from music21 import tempo

        changes: dict[float, float] = {}  # every part repeats the marks: one per offset
        for mark in score.flatten().getElementsByClass(tempo.MetronomeMark):
            if mark.number is not None and mark.number > 0:
                changes.setdefault(float(mark.offset), float(mark.secondsPerQuarter()))
        if not changes:
            return cls([0.0], [SECONDS_PER_QUARTER], [0.0])
        offsets = sorted(changes)
        offsets[0] = 0.0
        rates = [changes[offset] for offset in sorted(changes)]
        starts = [0.0]
        for previous, offset, rate in zip(offsets, offsets[1:], rates):
            starts.append(starts[-1] + (offset - previous) * rate)
        return cls(offsets, rates, starts)

    @property
    def opening_seconds_per_quarter(self) -> float:
        return self.seconds_per_quarter[0]

    def seconds(self, offset: float) -> float:
        """The time in seconds of a quarter-note offset."""
        index = bisect.bisect_right(self.offsets, offset) - 1
        return self.starts[index] + (offset - self.offsets[index]) * self.seconds_per_quarter[index]


def score_notes(score, timing: TempoMap | None = None) -> list[Note]:
    """The notes of a music21 score, read straight from its parts (not via its MIDI export, which fails
    on some scores), timed by its tempo marks (`timing`, default: the score's own).

    Tied notes become one note; chords give one note per pitch; grace notes, having no length, are
    dropped, and so are chord symbols (a lead sheet's shorthand for an accompaniment nobody wrote out);
    repeats are played as written, once. Each note's channel is the number of its part in the score
    (top staff first, at most MAX_PART), which is what later tells melody from bass.
    """
    from music21 import harmony

    timing = timing or TempoMap.of(score)
    notes = []
    for number, part in enumerate(score.parts):
        flat = part.stripTies().flatten()
        for element in flat.notes:
            length = float(element.quarterLength)
            if length <= 0 or isinstance(element, harmony.Harmony):
                continue
            offset = float(flat.elementOffset(element))
            start, end = timing.seconds(offset), timing.seconds(offset + length)
            for pitch in element.pitches:
                if 0 <= pitch.midi <= 127:
                    notes.append(Note(start, end, pitch.midi, SCORE_VELOCITY, min(number, MAX_PART)))
    return sorted(notes)


def score_meters(score, timing: TempoMap) -> list[list]:
    """A score's time signatures as [[seconds, numerator, denominator], ...], one per change (every part
    repeats them); 4/4 from the start when it names none."""
    from music21 import meter

    changes: dict[float, tuple[int, int]] = {}
    for mark in score.flatten().getElementsByClass(meter.TimeSignature):
        if bar_beats((mark.numerator, mark.denominator)) >= MIN_BAR_QUARTERS:
            changes.setdefault(float(mark.offset), (int(mark.numerator), int(mark.denominator)))
    pickup = pickup_quarters(score)
    if not changes:
        return [[-pickup * timing.opening_seconds_per_quarter, 4, 4]]
    offsets = sorted(changes)
    first = -pickup * timing.opening_seconds_per_quarter  # bars are counted from before a pickup
    return [[timing.seconds(offset) if index else first, *changes[offset]] for index, offset in enumerate(offsets)]


def pickup_quarters(score) -> float:
    """How much of its first bar an opening pickup (anacrusis) leaves out, in quarter notes."""
    from music21 import stream

    for part in score.parts:
        measures = part.getElementsByClass(stream.Measure)
        if measures:
            return float(measures[0].paddingLeft or 0.0)
    return 0.0
