"""Band music in the styles players play, rendered offline by Debian's MMA (Musical MIDI Accompaniment).

MMA (GPL-2+, a program: `mma song.mma` writes a MIDI file in a tenth of a second) ships groove libraries
written by musicians: swing, blues, bossa nova, rock, ballads, waltzes, country, funk, marches and more.
Duetto renders two kinds of pieces with it, as the source `mma:all` (or `mma:STYLE` for one style):

- **progressions**: the common chord progressions of popular music (12-bar blues, ii-V-I, I-vi-IV-V,
  rhythm changes, ...) strung into sections, each played by one of the style's grooves and its
  variations, in every key, at a tempo drawn from the style's range;
- **tunes**: music21's folk tunes, the tune as the melody part over a band playing its chords in a style
  whose meter fits it. Only a handful of music21's tunes carry chord symbols, so each tune's chords are
  the chords of its key that fit its melody best, half a bar or a bar at a time (`tune_chart`).

Every note carries its part from MMA's track types, never guessed from heights: Bass and Walk are the
bass, Chord and Plectrum the inner part (chords), Arpeggio, Scale, Solo and Aria the other part (a
second line), the tune the melody. Drums are left out (the note model has no drum part).

Rendered files are cached under the data cache (see
`train.data.music21_corpus.cache_folder`), so a second build renders nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Iterator, Sequence

import mido
import numpy as np

from duetto.midi.files import MidiFileError, read_score
from duetto.music.chords import fitting_chords
from duetto.music.key import KeyFinder
from duetto.music.notes import Note
from duetto.music.parts import BASS, INNER, MELODY, OTHER
from duetto.music.timeline import Timeline, bar_beats
from duetto.train.data import music21_corpus
from duetto.train.data.pieces import BAND_STYLES, Piece, Skipped
from duetto.train.data.splits import split_of

PREFIX = "mma:"
ALL = "mma:all"
MMA = "mma"
LIBRARY = Path("/usr/share/mma/lib/stdlib")
RENDER_VERSION = 1  # bump whenever what is rendered changes, so stale caches are not reused
RENDER_WORKERS = 2  # MMA runs as one process per piece
RENDER_SECONDS = 60.0


@dataclass(frozen=True)
class BandStyle:
    """A style as MMA plays it: its groove files (lib/stdlib/NAME.mma), beats to the bar, and tempo range."""

    grooves: tuple[str, ...]
    beats: int
    bpm: tuple[int, int]


GROOVES: dict[str, BandStyle] = {
    "swing": BandStyle(("swing", "easyswing", "jazzcombo", "bebop", "fastswing"), 4, (110, 200)),
    "blues": BandStyle(("blues", "slowblues", "fastblues", "shuffleboggie", "boggiewoggie"), 4, (70, 140)),
    "bossa": BandStyle(("bossanova",), 4, (110, 150)),
    "latin": BandStyle(("rhumba", "mambo", "salsa", "samba", "chacha", "beguine"), 4, (100, 180)),
    "rock": BandStyle(("basicrock", "50srock", "60srock", "softrock", "8beat", "folkrock"), 4, (100, 150)),
    "ballad": BandStyle(("ballad", "popballad", "pianoballad", "rockballad", "folkballad"), 4, (60, 90)),
    "waltz": BandStyle(("waltz", "jazzwaltz", "countrywaltz", "vienesewaltz"), 3, (90, 180)),
    "country": BandStyle(("countryswing", "bluegrass", "slowcountry", "westernswing"), 4, (90, 160)),
    "funk": BandStyle(("bvfunk", "rb", "dsoul"), 4, (85, 115)),
    "march": BandStyle(("march", "bwmarch", "dixiemarch"), 4, (100, 130)),
}

# MMA's track types (a track is named TYPE or TYPE-NAME) and the part each plays
TRACK_PARTS = {"BASS": BASS, "WALK": BASS, "CHORD": INNER, "PLECTRUM": INNER,
               "ARPEGGIO": OTHER, "SCALE": OTHER, "SOLO": OTHER, "ARIA": OTHER, "MELODY": OTHER}
MELODY_CHANNEL = 0  # the tune's; MMA allocates its tracks from channel 16 down
MELODY_VELOCITY = 90

# Progressions in Roman numerals, a bar each (two chords share a bar); upper case major, lower case minor.
PROGRESSIONS: dict[str, tuple[str, ...]] = {
    "twelve-bar blues": ("I7", "IV7", "I7", "I7", "IV7", "IV7", "I7", "I7", "V7", "IV7", "I7", "V7"),
    "ii-V-I": ("ii7", "V7", "Imaj7", "Imaj7"),
    "I-vi-IV-V": ("I", "vi", "IV", "V7"),
    "I-V-vi-IV": ("I", "V", "vi", "IV"),
    "I-IV-V": ("I", "IV", "I", "V7"),
    "rhythm changes": ("I vi7", "ii7 V7", "I vi7", "ii7 V7", "I I7", "IV iv", "I V7", "I"),
    "circle of fifths": ("vi7", "ii7", "V7", "Imaj7", "IVmaj7", "vii7b5", "III7", "vi"),
    "pachelbel": ("I V", "vi iii", "IV I", "IV V7"),
    "minor ii-V-i": ("ii7b5", "V7", "i", "i"),
    "minor i-iv-V": ("i", "iv", "V7", "i"),
    "andalusian": ("i", "bVII", "bVI", "V7"),
    "minor blues": ("i7", "iv7", "i7", "i7", "iv7", "iv7", "i7", "i7", "bVI7", "V7", "i7", "V7"),
}
SECTIONS = 4  # per progression piece: each a progression played to at least SECTION_BARS, one groove variation
SECTION_BARS = 8
ROOTS = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
NUMERALS = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
ROMAN = re.compile(r"(b|#)?(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(maj7|7b5|7|dim|6)?")
# variations that are not the body of a groove: they open, close or fill, and are not what a band vamps
NOT_BODY = re.compile(r"intro|end|fill|metronome", re.IGNORECASE)

# tunes: music21's folk collections, the meters a groove plays (a tune's meter -> the groove's beats to
# the bar: two bars of 2/4 make one of 4/4), and how many tunes each style plays
TUNE_COLLECTIONS = ("essenFolksong", "ryansMammoth", "oneills1850", "nottingham-dataset", "miscFolk", "airdsAirs")
TUNE_METERS = {(4, 4): 4, (2, 2): 4, (2, 4): 4, (3, 4): 3}
TUNES_PER_STYLE = 150


def collection_of(source: str) -> list[str] | None:
    """The band styles a source names ("mma:all": every one), or None when it names none."""
    if source == ALL:
        return list(BAND_STYLES)
    name = source.removeprefix(PREFIX)
    return [name] if source.startswith(PREFIX) and name in BAND_STYLES else None


def check_renderer() -> None:
    """A one-line ValueError when MMA is not installed, before any work starts."""
    if shutil.which(MMA) is None or not LIBRARY.is_dir():
        raise ValueError(f"the mma sources need Debian's MMA (apt install mma): no {MMA} on PATH or no "
                         f"{LIBRARY}")


def chord_name(numeral: str, key: int) -> str:
    """A Roman numeral in a key (0 = C) as MMA names the chord: "ii7" in C is "Dm7", "bVII" in A is "G"."""
    match = ROMAN.fullmatch(numeral)
    if match is None:
        raise ValueError(f"not a Roman numeral chord: {numeral!r}")
    accidental, degree, suffix = match.groups()
    root = (key + NUMERALS[degree.upper()] + {"b": -1, "#": 1, None: 0}[accidental]) % 12
    minor = degree.islower()
    quality = {None: "m" if minor else "", "7": "m7" if minor else "7", "maj7": "maj7", "7b5": "m7b5",
               "dim": "dim", "6": "m6" if minor else "6"}[suffix]
    return ROOTS[root] + quality


def chart_line(bar: int, chords: Sequence[str], beats: int) -> str:
    """One bar of an MMA chart: a chord on every beat, "/" where the chord goes on ("z": no chord)."""
    per_beat = [chords[min(len(chords) - 1, beat * len(chords) // beats)] for beat in range(beats)]
    cells = [chord if index == 0 or chord != per_beat[index - 1] else "/" for index, chord in enumerate(per_beat)]
    return f"{bar} {' '.join(cells)}"


def body_grooves(groove_file: str) -> list[str]:
    """The groove variations a groove file defines that a band plays through a song (not intros, endings
    or fills)."""
    text = (LIBRARY / f"{groove_file}.mma").read_text(errors="replace")
    names = [line.split()[1] for line in text.splitlines()
             if line.strip().lower().startswith("defgroove") and len(line.split()) > 1]
    return [name for name in dict.fromkeys(names) if not NOT_BODY.search(name)]


@dataclass(frozen=True)
class Song:
    """One piece to render: its name (also its identity), style, MMA chart, and the tune over it, if any
    (melody notes as [quarter offset, quarter length, pitch] from the chart's first bar line)."""

    name: str
    style: str
    chart: str
    melody: tuple[tuple[float, float, int], ...] = ()
    source_id: str | None = None  # the tune's identity, for a tune's render

    @property
    def identity(self) -> str:
        """The piece's identity: its name; a tune's render also carries the first salt that hashes it into
        the tune's own split, so that a tune held out is never learned from a band's take of it."""
        name = PREFIX + self.name
        if self.source_id is None:
            return name
        wanted = split_of(self.source_id)
        return next(f"{name}#{salt}" for salt in itertools.count() if split_of(f"{name}#{salt}") == wanted)


def progression_songs(style: str) -> list[Song]:
    """The style's progression pieces: one per groove file and key, with sections drawn from a generator
    seeded by the piece's name (so the same build renders the same music)."""
    band = GROOVES[style]
    songs = []
    for groove_file in band.grooves:
        variations = body_grooves(groove_file)
        for key, root in enumerate(ROOTS):
            name = f"{style}/{groove_file}/{root}"
            rng = Random(name)
            lines = [f"Tempo {rng.randint(*band.bpm)}"]
            bar = 1
            for _ in range(SECTIONS):
                lines.append(f"Groove {rng.choice(variations)}")
                progression = PROGRESSIONS[rng.choice(sorted(PROGRESSIONS))]
                repeats = -(-SECTION_BARS // len(progression))
                for numerals in progression * repeats:
                    chords = [chord_name(numeral, key) for numeral in numerals.split()]
                    lines.append(chart_line(bar, chords, band.beats))
                    bar += 1
            songs.append(Song(name, style, "\n".join(lines) + "\n"))
    return songs


def tune_songs(style: str, tunes: Sequence[Piece], count: int) -> list[Song]:
    """`count` folk tunes whose meter the style plays, each with a band playing its chords in one of the
    style's grooves (tunes, grooves and tempos drawn from a generator seeded by the style)."""
    band = GROOVES[style]
    rng = Random(style)
    songs = []
    for piece in rng.sample(list(tunes), len(tunes)):
        chart = tune_chart(piece)
        if chart is None or chart["beats"] != band.beats:
            continue
        groove_file = rng.choice(band.grooves)
        lines = [f"Tempo {rng.randint(*band.bpm)}", f"Groove {rng.choice(body_grooves(groove_file))}"]
        lines += [chart_line(number + 1, chords, band.beats) for number, chords in enumerate(chart["bars"])]
        songs.append(Song(f"{style}/{groove_file}/{piece.name}", style, "\n".join(lines) + "\n",
                          tuple(map(tuple, chart["melody"])), piece.id))
        if len(songs) == count:
            break
    return songs


def read_styles(styles: Sequence[str], cache_dir=None, limit: int | None = None,
                ) -> tuple[list[Piece], list[Skipped]]:
    """Every piece of the given band styles (at most `limit` of each kind from each style), rendered
    where the cache lacks it."""
    check_renderer()
    folder = music21_corpus.cache_folder(cache_dir) / f"mma-{_mma_version()}-r{RENDER_VERSION}"
    read = music21_corpus.read_collections(TUNE_COLLECTIONS, cache_dir, limit)
    tunes = [piece for pieces, _ in read.values() for piece in pieces]
    songs = [song for style in styles for song in progression_songs(style)[:limit]]
    songs += [song for style in styles for song in tune_songs(style, tunes, min(TUNES_PER_STYLE, limit or TUNES_PER_STYLE))]
    pieces, skipped = [], []
    for song, outcome in zip(songs, _render_all(songs, folder)):
        if isinstance(outcome, Skipped):
            skipped.append(outcome)
        else:
            pieces.append(outcome)
    return pieces, skipped


def _render_all(songs: Sequence[Song], folder: Path) -> Iterator[Piece | Skipped]:
    """Each song as a piece (or why not), rendered by RENDER_WORKERS MMA processes."""
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(RENDER_WORKERS) as pool:
        outcomes = pool.map(lambda song: _piece(song, folder), songs)
        yield from tqdm(outcomes, total=len(songs), desc="rendering band music with MMA", unit="piece",
                        disable=None)


def _piece(song: Song, folder: Path) -> Piece | Skipped:
    """One song rendered (or read from the cache) and read back as a labelled piece."""
    chart_hash = hashlib.sha256(song.chart.encode()).hexdigest()[:12]  # a changed chart is rendered anew
    path = folder / f"{song.name.replace('/', '__')}-{chart_hash}.mid"
    if not path.exists():
        chart = path.with_suffix(".mma")
        chart.write_text(song.chart)
        try:
            done = subprocess.run([MMA, "-f", str(path.with_suffix(".tmp.mid")), str(chart)], capture_output=True,
                                  text=True, timeout=RENDER_SECONDS)
        except subprocess.TimeoutExpired:
            return Skipped(song.name, f"MMA took longer than {RENDER_SECONDS:g} s")
        written = path.with_suffix(".tmp.mid")
        if done.returncode != 0 or not written.exists():
            errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "Error" in line]
            return Skipped(song.name, f"MMA could not render it ({(errors or ['no output'])[0].strip()})")
        written.replace(path)
    try:
        return labelled_piece(path, song)
    except MidiFileError as error:
        return Skipped(song.name, str(error))


def labelled_piece(path: Path, song: Song) -> Piece:
    """A rendered file as a piece: MMA's tracks with the parts their types play, the tune (if any) as the
    melody, drums and unlabelled tracks left out, timed by the file's tempo and meters."""
    score = read_score(path)
    parts_of_channels = track_parts(path)
    timeline = Timeline.of_lists(score.tempos, score.meters)
    labelled = [(note, parts_of_channels[note.channel]) for note in score.notes if note.channel in parts_of_channels]
    for offset, length, pitch in song.melody:
        start, end = timeline.seconds(offset), timeline.seconds(offset + length)
        labelled.append((Note(start, end, pitch, MELODY_VELOCITY, MELODY_CHANNEL), MELODY))
    if not labelled:
        raise MidiFileError("no notes")
    labelled.sort(key=lambda pair: pair[0])
    return Piece(song.identity, song.name, [note for note, _ in labelled], song.style, timeline=timeline,
                 parts=[part for _, part in labelled])


def track_parts(path: Path) -> dict[int, int]:
    """The part each channel of an MMA file plays, from its tracks' names (TYPE or TYPE-NAME)."""
    parts = {}
    for track in mido.MidiFile(path).tracks:
        names = [message.name for message in track if message.type == "track_name"]
        kind = names[0].split("-")[0].upper() if names else ""
        channels = {message.channel for message in track if message.type == "note_on"}
        if kind in TRACK_PARTS:
            parts.update(dict.fromkeys(channels - {MELODY_CHANNEL}, TRACK_PARTS[kind]))
    return parts


def _mma_version() -> str:
    done = subprocess.run([MMA, "-v"], capture_output=True, text=True, timeout=RENDER_SECONDS)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "unknown"


def tune_chart(piece: Piece) -> dict | None:
    """A folk tune as {"beats": beats to the groove's bar, "bars": [[chord per beat] per bar], "melody":
    [[offset, length, pitch], ...]}, offsets in quarters from the bar line before its first note; None for
    a tune whose meter no groove plays (or that changes meter) or whose key cannot be told.

    The chords are the tune's key's chords that best fit each half bar of a 4/4 or 2/2 tune, each bar of
    a 2/4 or 3/4 tune (duetto.music.chords.fitting_chords): music21's tunes carry almost no chord symbols.
    """
    timeline = piece.timeline or Timeline.steady(100.0)
    onsets = [timeline.beats(note.start) for note in piece.notes]
    position, meter = timeline.bar_position(onsets[0])
    if meter not in TUNE_METERS or timeline.bar_position(onsets[-1])[1] != meter:
        return None
    key = KeyFinder.of(piece.notes)
    if key is None:
        return None
    beats = TUNE_METERS[meter]
    span = 3 if beats == 3 else 2
    first_bar = onsets[0] - position
    melody = [[onset - first_bar, timeline.beats(note.end) - onset, note.pitch] for onset, note in zip(onsets, piece.notes)]
    end = max(offset + length for offset, length, _ in melody)
    weights = np.zeros((int(-(-end // span)), 12))
    for offset, length, pitch in melody:
        first = int(offset // span)
        for index in range(first, min(len(weights), int(-(-(offset + length) // span)))):
            overlap = min(offset + length, (index + 1) * span) - max(offset, index * span)
            weights[index, pitch % 12] += overlap * (1.5 if index == first and offset % span < 1e-6 else 1.0)
    chords = [str(chord) for chord in fitting_chords(list(weights), key)]
    bars = [[chords[min(len(chords) - 1, (bar * beats + beat) // span)] for beat in range(beats)]
            for bar in range(int(-(-end // beats)))]
    return {"beats": beats, "bars": bars, "melody": melody}
