"""`duetto bench quality`: the model families side by side on held-out music.

Two kinds of figures, per model:

* held-out likelihood, as the training loop measured it on the dataset's test split and recorded in the
  model file: nats per target in the family's own unit, and bits per note, the unit all families share;
* statistics of generated continuations: the first `prompt_seconds` of every held-out piece is heard as
  a prompt and continued for `seconds` through the model's live voice (exactly what `generate` and `jam`
  play), then measured against the piece's real continuation: pitch-class entropy, scale consistency,
  note density, polyphony, overlap of the inter-onset-interval histograms, and the longest run of
  pitches copied verbatim from the training split (plagiarism must stay short; the real continuations'
  own longest runs are the yardstick, since chorales share cadences).

Torch-free: it reads the dataset's shards (`duetto.train.data.shards`, imported where a split is read) and
the ONNX files only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from duetto.atomic import write_atomically, write_json_atomically
from duetto.encodings import events as encoding
from duetto.encodings import metrical
from duetto.errors import UsageError
from duetto.model.sampler import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, Sampler
from duetto.model.scoring import metrical_nats, sequence_nats
from duetto.model.step_model import StepModel
from duetto.music.key import Key, KeyFinder
from duetto.music.notes import Note
from duetto.music.statistics import (histogram_overlap, inter_onset_intervals, pitch_class_entropy, polyphony,
                                     scale_consistency)
from duetto.music.parts import MELODY
from duetto.music.texture import TEXTURES, texture_of, voices
from duetto.music.timeline import Timeline, on_grid_share
from duetto.offline.generate import continue_notes
from duetto.tools.band_quality import BAND_BPM, LISTEN_BEATS, PLAY_BEATS, band_figures
from duetto.voices.in_kind import REGISTER_MARGIN

if TYPE_CHECKING:
    from duetto.train.data.shards import Shard



BEAT_CALL_BPM = (70.0, 160.0)


@dataclass
class QualitySettings:
    models: list[str]
    data: str
    pieces: int = 38
    prompt_seconds: float = 8.0
    seconds: float = 8.0
    seed: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    band_pieces: int = 6  # held-out pieces of each band style a metrical model's band accompanies


def load_split(data_dir: str | Path, split: str) -> list[list[Note]]:
    """Every sequence of one split of a built dataset, as notes."""
    return read_split(data_dir, split).notes()


def read_split(data_dir: str | Path, split: str) -> Shard:
    """One split of a built dataset, read by the training side's shard reader (torch-free)."""
    from duetto.train.data.shards import read_shard

    return read_shard(data_dir, split)


def style_names(shard: Shard) -> list[str]:
    """The style of every sequence of a shard ("all" for a dataset that records none)."""
    names = shard.manifest.get("styles", [])
    if shard.styles is None or not names:
        return ["all"] * shard.num_sequences
    return [names[int(index)] for index in shard.styles]


def pitch_line(notes: Sequence[Note]) -> list[int]:
    """Pitches in onset order (chords low to high): the sequence a verbatim copy would repeat."""
    return [note.pitch for note in sorted(notes, key=lambda n: (round(n.start, 3), n.pitch))]


class TrainingRuns:
    """Answers "how long is the longest run of these pitches that appears verbatim in training?".

    A whole corpus holds millions of notes, so runs are compared by a 64-bit polynomial hash rather than
    kept as strings: for each run length asked about, the hashes of every training run of that length
    sit in one sorted array (8 bytes a run), and a run is found by binary search. Hashes of equal runs are
    equal; two different runs share one with a chance of about one in 2**64 a pair, far too rare to move
    a figure.
    """

    BASE = np.uint64(1_000_003)  # odd, so it has an inverse modulo 2**64

    def __init__(self, pieces: Sequence[Sequence[Note]]) -> None:
        self._lines = _HashedLines([pitch_line(piece) for piece in pieces])
        self._hashes: dict[int, np.ndarray] = {}  # run length -> sorted hashes of the training runs

    def _training_runs(self, length: int) -> np.ndarray:
        if length not in self._hashes:
            runs = self._lines.runs(length)
            runs.sort()
            self._hashes[length] = runs
        return self._hashes[length]

    def longest_copy(self, notes: Sequence[Note]) -> int:
        """The length of the longest run of `notes`' pitch line found in a training piece (0 if none).
        A run of length n present implies every shorter one is, so a binary search over n suffices."""
        query = _HashedLines([pitch_line(notes)])
        low, high = 0, query.longest
        while low < high:
            length = (low + high + 1) // 2
            if _any_in(query.runs(length), self._training_runs(length)):
                low = length
            else:
                high = length - 1
        return low


def _any_in(values: np.ndarray, sorted_known: np.ndarray) -> bool:
    """Whether any of `values` is in the sorted array `sorted_known`."""
    if not len(sorted_known):
        return False
    found = np.minimum(np.searchsorted(sorted_known, values), len(sorted_known) - 1)
    return bool(np.any(sorted_known[found] == values))


class _HashedLines:
    """Pitch lines laid end to end, with prefix sums from which the hash of any run within one line comes
    in a few array operations: hash(p[i..i+n-1]) = sum p[j] B**(i+n-1-j), all modulo 2**64."""

    def __init__(self, lines: Sequence[Sequence[int]]) -> None:
        pitches = np.concatenate([np.asarray(line, dtype=np.uint64) for line in lines] or [np.zeros(0, np.uint64)])
        pitches += np.uint64(1)  # no pitch hashes as nothing
        count = len(pitches)
        self.longest = max((len(line) for line in lines), default=0)
        # where each element's line ends (one past its last element): a run must not cross it
        self._line_end = np.repeat(np.cumsum([len(line) for line in lines]), [len(line) for line in lines])
        base, inverse = TrainingRuns.BASE, np.uint64(pow(int(TrainingRuns.BASE), -1, 2 ** 64))
        self._powers = _powers(base, count)
        inverse_powers = _powers(inverse, count)
        self._sums = np.concatenate([[np.uint64(0)], np.cumsum(pitches * inverse_powers, dtype=np.uint64)])

    def runs(self, length: int) -> np.ndarray:
        """The hash of every run of `length` pitches lying within one line."""
        starts = np.arange(len(self._line_end))
        starts = starts[starts + length <= self._line_end]
        return self._powers[starts + length - 1] * (self._sums[starts + length] - self._sums[starts])


def _powers(base: np.uint64, count: int) -> np.ndarray:
    """base**0 … base**(count - 1), modulo 2**64 (unsigned integers wrap)."""
    powers = np.ones(count, dtype=np.uint64)
    if count > 1:
        powers[1:] = np.cumprod(np.full(count - 1, base, dtype=np.uint64))
    return powers


def in_kind(call: Sequence[Note], answer: Sequence[Note], call_seconds: float, answer_seconds: float) -> dict:
    """How far an answer is of a kind with its call: the gap between their textures (voices, see
    duetto.music.texture), the share of answer notes in the call's key (Krumhansl–Schmuckler key finding)
    and within the call's range ± REGISTER_MARGIN semitones, and how alike their paces are (the smaller
    note density over the larger: 1 alike, 0 one of them silent)."""
    key = KeyFinder.of(call)
    low, high = min(n.pitch for n in call) - REGISTER_MARGIN, max(n.pitch for n in call) + REGISTER_MARGIN
    call_pace, answer_pace = len(call) / call_seconds, len(answer) / answer_seconds
    return {
        "call_voices": voices(call), "answer_voices": voices(answer) if answer else math.nan,
        "texture_gap": abs(voices(answer) - voices(call)) if answer else math.nan,
        "in_key": (sum(n.pitch % 12 in key.pitch_classes for n in answer) / len(answer)
                   if answer and key is not None else math.nan),
        "in_register": sum(low <= n.pitch <= high for n in answer) / len(answer) if answer else math.nan,
        "pace": min(call_pace, answer_pace) / max(call_pace, answer_pace) if max(call_pace, answer_pace) else math.nan,
        "call_is_line": texture_of(call) == "line",
    }


def describe(notes: Sequence[Note], seconds: float) -> dict:
    return {"pitch_class_entropy": pitch_class_entropy(notes), "scale_consistency": scale_consistency(notes),
            "notes_per_second": len(notes) / seconds, "polyphony": polyphony(notes)}


def cut(piece: Sequence[Note], start: float, end: float) -> list[Note]:
    """The notes that begin in [start, end), clipped to end the window."""
    return [Note(n.start, min(n.end, end), n.pitch, n.velocity) for n in piece if start <= n.start < end]


def continuations(settings: QualitySettings, test: Sequence[Sequence[Note]],
                  styles: Sequence[str]) -> list[tuple[list[Note], list[Note], str]]:
    """(prompt, real continuation, style) for held-out pieces long enough to have both: up to
    `settings.pieces` of each style."""
    pairs, taken = [], {}
    for piece, style in zip(test, styles):
        prompt = cut(piece, 0.0, settings.prompt_seconds)
        real = cut(piece, settings.prompt_seconds, settings.prompt_seconds + settings.seconds)
        if prompt and real and taken.get(style, 0) < settings.pieces:
            pairs.append((prompt, real, style))
            taken[style] = taken.get(style, 0) + 1
    return pairs


def summarize(rows: list[dict], intervals: np.ndarray, reference_intervals: np.ndarray) -> dict:
    summary = {key: float(np.nanmean([row[key] for row in rows])) for key in rows[0]}
    summary["ioi_overlap"] = histogram_overlap(intervals, reference_intervals)
    return summary


def summarize_kind(rows: list[dict]) -> dict:
    """The in-kind figures over many calls: the median texture gap, the mean voices answering single-line
    calls, and the mean shares in key and register and pace likeness."""
    def mean(values: list[float]) -> float | None:
        values = [value for value in values if not math.isnan(value)]
        return float(np.mean(values)) if values else None

    gaps = [row["texture_gap"] for row in rows if not math.isnan(row["texture_gap"])]
    return {"calls": len(rows), "texture_gap_median": float(np.median(gaps)) if gaps else None,
            "line_calls": sum(row["call_is_line"] for row in rows),
            "line_answer_voices": mean([row["answer_voices"] for row in rows if row["call_is_line"]]),
            "in_key": mean([row["in_key"] for row in rows]), "in_register": mean([row["in_register"] for row in rows]),
            "pace": mean([row["pace"] for row in rows])}


def likelihood_by_style(model: StepModel, data_dir: str | Path, pieces: int) -> dict | None:
    """Held-out NLL per style and overall, on up to `pieces` test pieces of each style stepped through the
    ONNX file: nats per token and bits per note, conditioning tokens given rather than guessed. A model of
    the first event encoding reads the same pieces without them (it has no such tokens), so it is scored
    on the very notes the newer models are. None for a model that cannot read the dataset (another
    family)."""
    shard = read_split(data_dir, "test")
    if model.info.encoding == metrical.ENCODING_NAME:
        return metrical_likelihood_by_style(model, shard, pieces)
    if model.info.encoding != encoding.ENCODING_NAME or model.info.vocab_size < encoding.V1_VOCAB_SIZE:
        return None
    told = model.info.vocab_size >= encoding.VOCAB_SIZE
    totals: dict[str, list[float]] = {}
    for sequence, style in zip(shard.sequences(), style_names(shard)):
        tally = totals.setdefault(style, [0.0, 0, 0, 0])  # nats, targets, notes, pieces
        if tally[3] < pieces:
            if not told:
                sequence = [token for token in sequence if not encoding.is_conditioning(int(token))]
            for index, value in enumerate((*sequence_nats(model, sequence, conditioning_counts=False), 1)):
                tally[index] += value
    totals["all"] = [sum(values[index] for values in totals.values()) for index in range(4)]
    return {style: {"pieces": int(count), "notes": int(notes), "nats_per_token": nats / targets if targets else None,
                    "bits_per_note": nats / notes / math.log(2) if notes else None}
            for style, (nats, targets, notes, count) in totals.items()}


def metrical_likelihood_by_style(model: StepModel, shard: Shard, pieces: int) -> dict:
    """`likelihood_by_style` for a metrical model: the same test pieces, note by note, the style said
    (a note is one target, so nats per token are nats per note)."""
    names = shard.manifest.get("styles", [])
    totals: dict[str, list[float]] = {}
    for notes, style in shard.metrical_pieces():
        tally = totals.setdefault(names[style], [0.0, 0, 0])  # nats, notes, pieces
        if tally[2] < pieces:
            nats, count = metrical_nats(model, notes, 1 + style)
            tally[0], tally[1], tally[2] = tally[0] + nats, tally[1] + count, tally[2] + 1
    totals["all"] = [sum(values[index] for values in totals.values()) for index in range(3)]
    return {style: {"pieces": int(count), "notes": int(notes), "nats_per_token": nats / notes if notes else None,
                    "bits_per_note": nats / notes / math.log(2) if notes else None}
            for style, (nats, notes, count) in totals.items()}


@dataclass(frozen=True)
class BeatCall:
    """One part of a held-out piece with a known tempo, cut into a call and its real continuation."""

    call: list[Note]
    real: list[Note]
    timeline: Timeline
    style: str


def beat_calls(settings: QualitySettings, shard: Shard) -> list[BeatCall]:
    """The melody of each held-out piece (its top part), played at a tempo of its own drawn between
    BEAT_CALL_BPM (the corpus's scores mostly carry no tempo and play at one: a player's music comes at
    any), the first `prompt_seconds` as a call and the next `seconds` as the real continuation; up to
    `settings.pieces` of each style, from pieces with notes in both."""
    names = shard.manifest.get("styles", [])
    rng = np.random.default_rng(settings.seed)
    calls, taken = [], {}
    for notes, style in shard.metrical_pieces():
        name = names[style]
        bpm = math.exp(rng.uniform(*np.log(BEAT_CALL_BPM)))
        if taken.get(name, 0) >= settings.pieces:
            continue
        timeline = Timeline.steady(bpm)
        melody = [note for note in metrical.decode(notes.fields, notes.ticks, timeline) if note.channel == MELODY]
        call = cut(melody, 0.0, settings.prompt_seconds)
        real = cut(melody, settings.prompt_seconds, settings.prompt_seconds + settings.seconds)
        if len(call) >= 4 and real:
            calls.append(BeatCall(call, real, timeline, name))
            taken[name] = taken.get(name, 0) + 1
    return calls


def beat_and_texture(model: StepModel, settings: QualitySettings, calls: Sequence[BeatCall]) -> dict:
    """Per style and overall: the share of the answers' onsets within ON_GRID_SECONDS of the call's
    sixteenth grid against the real continuations' share; on calls that are a single line, the voices
    answering each texture asked for; and the share of answer notes in the call's key when the voice is
    not leaned to it (what the model itself knows of the key)."""
    sampler = Sampler(settings.temperature, settings.top_p, settings.seed)
    rows = []
    for beat_call in calls:
        def answer(**kind) -> list[Note]:
            return continue_notes(model, beat_call.call, settings.seconds, sampler, timeline=beat_call.timeline, **kind)

        answered = answer()
        key = KeyFinder.of(beat_call.call)
        unleaned = answer(lean_to_key=False)
        row = {"style": beat_call.style,
               "answer_onsets": [n.start for n in answered], "real_onsets": [n.start for n in beat_call.real],
               "timeline": beat_call.timeline,
               "in_key_unleaned": share_in_key(unleaned, key), "real_in_key": share_in_key(beat_call.real, key)}
        if texture_of(beat_call.call) == "line":
            row.update({f"asked_{name}": voices(answer(texture=name)) for name in TEXTURES})
        rows.append(row)
    return {style: _beat_summary([row for row in rows if style in ("all", row["style"])])
            for style in ["all", *sorted({row["style"] for row in rows})]}


def share_in_key(notes: Sequence[Note], key: Key | None) -> float:
    """The share of notes whose pitch class is in the key (NaN for no notes or no key)."""
    if not notes or key is None:
        return math.nan
    return sum(note.pitch % 12 in key.pitch_classes for note in notes) / len(notes)


def _beat_summary(rows: list[dict]) -> dict:
    def share(key: str) -> float | None:
        near = [on_grid_share([onset], row["timeline"]) for row in rows for onset in row[key]]
        return float(np.mean(near)) if near else None

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if key in row and not math.isnan(row[key])]
        return float(np.mean(values)) if values else None

    answer, real = share("answer_onsets"), share("real_onsets")
    return {"calls": len(rows), "answer_on_grid": answer, "real_on_grid": real,
            "ratio": answer / real if answer is not None and real else None,
            "in_key_unleaned": mean("in_key_unleaned"), "real_in_key": mean("real_in_key"),
            "line_calls": sum("asked_line" in row for row in rows),
            **{f"voices_asked_{name}": mean(f"asked_{name}") for name in TEXTURES}}


def evaluate_model(path: str, settings: QualitySettings, pairs, runs: TrainingRuns,
                   reference_intervals: np.ndarray) -> dict:
    model = StepModel(path, device="cpu")
    sampler = Sampler(settings.temperature, settings.top_p, settings.seed)
    rows, intervals, kinds, started = [], [], [], time.perf_counter()
    for prompt, _, style in pairs:
        generated = continue_notes(model, prompt, settings.seconds, sampler)
        end = max(note.end for note in prompt)
        generated = [Note(n.start - end, n.end - end, n.pitch, n.velocity) for n in generated]
        rows.append({**describe(generated, settings.seconds), "longest_copy": runs.longest_copy(generated)})
        intervals.append(inter_onset_intervals(generated))
        kinds.append({**in_kind(prompt, generated, settings.prompt_seconds, settings.seconds), "style": style})
    training = model.info.training
    return {
        "model": path, "family": model.info.family,
        "test_nll": training.get("test_nll"), "nll_unit": training.get("nll_unit", "nats/token"),
        "test_bits_per_note": training.get("test_bits_per_note"),
        "train_seconds": training.get("train_seconds"), "train_steps": training.get("step"),
        "generation": {**summarize(rows, np.concatenate(intervals), reference_intervals),
                       "longest_copy_max": max(row["longest_copy"] for row in rows)},
        "likelihood": likelihood_by_style(model, settings.data, settings.pieces),
        "beat": beat_and_texture(model, settings, beat_calls(settings, read_split(settings.data, "test"))),
        "in_kind": {"all": summarize_kind(kinds), **{style: summarize_kind([k for k in kinds if k["style"] == style])
                                                    for style in sorted({k["style"] for k in kinds})}},
        "band": band_of(model, settings),
        "generation_seconds": time.perf_counter() - started,
    }


def band_of(model: StepModel, settings: QualitySettings) -> dict | None:
    """The band's figures (duetto.tools.band_quality) for a model that plays parts, on a dataset with band
    styles; None otherwise."""
    from duetto.train.data.pieces import BAND_STYLES

    test = read_split(settings.data, "test")
    band_styles = [style for style in style_names(test) if style in BAND_STYLES]
    if model.info.family != "metrical" or not band_styles or settings.band_pieces < 1:
        return None
    return band_figures(model, test, band_styles, settings.band_pieces, settings.seed, settings.temperature,
                        settings.top_p)


def run_quality_bench(settings: QualitySettings, command: str) -> dict:
    test = read_split(settings.data, "test")
    pairs = continuations(settings, test.notes(), style_names(test))
    if not pairs:
        raise UsageError(f"--data {settings.data}: no held-out piece is longer than the "
                         f"{settings.prompt_seconds} s prompt")
    runs = TrainingRuns(load_split(settings.data, "train"))
    reference_rows, reference_intervals = [], []
    for prompt, real, _ in pairs:
        shifted = [Note(n.start - settings.prompt_seconds, n.end - settings.prompt_seconds, n.pitch, n.velocity)
                   for n in real]
        reference_rows.append({**describe(shifted, settings.seconds), "longest_copy": runs.longest_copy(shifted)})
        reference_intervals.append(inter_onset_intervals(shifted))
    reference_intervals = np.concatenate(reference_intervals)
    reference = summarize(reference_rows, reference_intervals, reference_intervals)
    reference["longest_copy_max"] = max(row["longest_copy"] for row in reference_rows)
    return {
        "command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "data": settings.data,
        "pieces": len(pairs), "prompt_seconds": settings.prompt_seconds, "seconds": settings.seconds,
        "seed": settings.seed, "reference": reference,
        "models": [evaluate_model(path, settings, pairs, runs, reference_intervals) for path in settings.models],
    }


def format_quality(report: dict) -> str:
    def number(value, digits: int = 3) -> str:
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"

    lines = [f"duetto bench quality — {report['date']}; `{report['command']}`",
             f"held-out: {report['pieces']} test pieces of {report['data']}, each continued for "
             f"{report['seconds']:.0f} s after a {report['prompt_seconds']:.0f} s prompt (seed {report['seed']})", "",
             "| model | family | test NLL | bits/note | train min | PC entropy | in scale | notes/s | polyphony "
             "| IOI overlap | longest copy (mean / max) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def stats(generation: dict) -> str:
        return (f"{number(generation['pitch_class_entropy'], 2)} | {number(generation['scale_consistency'], 3)} | "
                f"{number(generation['notes_per_second'], 2)} | {number(generation['polyphony'], 2)} | "
                f"{number(generation['ioi_overlap'], 2)} | {number(generation['longest_copy'], 1)} / "
                f"{generation['longest_copy_max']}")

    for row in report["models"]:
        minutes = row["train_seconds"] / 60 if row["train_seconds"] else None
        lines.append(f"| {Path(row['model']).name} | {row['family']} | {number(row['test_nll'])} "
                     f"{row['nll_unit']} | {number(row['test_bits_per_note'], 2)} | {number(minutes, 1)} | "
                     f"{stats(row['generation'])} |")
    lines.append(f"| real continuations | — | — | — | — | {stats(report['reference'])} |")
    lines += ["", "Held-out likelihood by style (test pieces stepped through the ONNX file; style and texture tokens "
              "given, not guessed, to models that read them; a model of the first encoding reads the same notes "
              "without them):", "", "| model | style | pieces | nats/token | bits/note |", "|---|---|---|---|---|"]
    for row in report["models"]:
        for style, figures in (row.get("likelihood") or {}).items():
            lines.append(f"| {Path(row['model']).name} | {style} | {figures['pieces']} | "
                         f"{number(figures['nats_per_token'])} | {number(figures['bits_per_note'], 2)} |")
    lines += ["", "In kind with the call (goals: texture gap ≤ 0.5, a line answered with ≤ 1.3 voices, in key and in "
              "register ≥ 0.9, pace ≥ 0.6):", "",
              "| model | style | calls | texture gap (median) | voices answering a line | in key | in register | pace |",
              "|---|---|---|---|---|---|---|---|"]
    for row in report["models"]:
        for style, kind in row.get("in_kind", {}).items():
            lines.append(f"| {Path(row['model']).name} | {style} | {kind['calls']} | "
                         f"{number(kind['texture_gap_median'], 2)} | {number(kind['line_answer_voices'], 2)} "
                         f"({kind['line_calls']} calls) | {number(kind['in_key'], 2)} | "
                         f"{number(kind['in_register'], 2)} | {number(kind['pace'], 2)} |")
    lines += ["", "On the beat, and texture on request (the top part of held-out pieces, each at a tempo of its own "
              f"between {BEAT_CALL_BPM[0]:.0f} and {BEAT_CALL_BPM[1]:.0f} BPM, as the call; "
              "goals: answers on the sixteenth grid ≥ 0.9 × the real continuations' share; on a line call, `line` "
              "≤ 1.1 voices, `voices` 1.7–2.6, `chords` ≥ 2.5; in key with no key lean ≥ 0.9):", "",
              "| model | style | calls | answer on grid | real on grid | ratio | in key, no lean (real) | line calls "
              "| voices: line / voices / chords asked |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["models"]:
        for style, beat in row.get("beat", {}).items():
            lines.append(f"| {Path(row['model']).name} | {style} | {beat['calls']} | {number(beat['answer_on_grid'], 2)} "
                         f"| {number(beat['real_on_grid'], 2)} | {number(beat['ratio'], 2)} | "
                         f"{number(beat['in_key_unleaned'], 2)} ({number(beat['real_in_key'], 2)}) | {beat['line_calls']} | "
                         + " / ".join(number(beat[f"voices_asked_{name}"], 2) for name in TEXTURES) + " |")
    lines += band_table(report)
    return "\n".join(lines)


def write_quality(report: dict, json_path: str | None, markdown_path: str | None) -> None:
    if json_path:
        write_json_atomically(json_path, report)
    if markdown_path:
        write_atomically(markdown_path, lambda handle: handle.write(format_quality(report) + "\n"), mode="w")


def band_table(report: dict) -> list[str]:
    """The band's figures per model and style (duetto.tools.band_quality), for models that have them."""
    def number(value, digits: int = 2) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    rows = [(row["model"], style, figures) for row in report["models"] for style, figures in (row.get("band") or {}).items()]
    if not rows:
        return []
    lines = ["", f"The band (bass, chords, line) over held-out band pieces' melodies at {BAND_BPM:.0f} BPM, coming in "
             f"after {LISTEN_BEATS} beats and playing {PLAY_BEATS}, composed half a beat ahead as live; real: the pieces' "
             "own accompaniment; split: a second take following the real chords held as an arranger's left hand "
             "holds them, each pressed on its beat; parts together: the pairs of band notes sounding together that "
             "are consonant (goals: consonance ≥ real − 0.05, beat ratio ≥ 0.9, registers "
             "in order ≥ 0.95):", "",
             "| model | style | pieces | notes (real) | consonance (real) [split] | parts together (real) "
             "| bass on root or fifth (real) [split] | on grid (real) | beat ratio | on beats (real) | registers in order | bass / chords / line notes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, style, band in rows:
        parts = band["part_notes"]
        lines.append(f"| {Path(model).name} | {style} | {band['pieces']} | {band['notes']} ({band['real_notes']}) | "
                     f"{number(band['consonance'])} ({number(band['real_consonance'])}) "
                     f"[{number(band['split_consonance'])}] | "
                     f"{number(band['consonance_together'])} ({number(band['real_consonance_together'])}) | "
                     f"{number(band['bass_root_or_fifth'])} ({number(band['real_bass_root_or_fifth'])}) "
                     f"[{number(band['split_bass_root_or_fifth'])}] | "
                     f"{number(band['on_grid'])} ({number(band['real_on_grid'])}) | {number(band['beat_ratio'])} | "
                     f"{number(band['on_beats'])} ({number(band['real_on_beats'])}) | {number(band['registers_in_order'])} | {parts['bass']} / {parts['chords']} / {parts['line']} |")
    return lines
