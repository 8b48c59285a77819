"""Offline continuation: `duetto generate --prompt IN.mid --seconds 30 --out OUT.mid`.

The prompt is heard by the model's voice exactly as live input would be, then the same voice continues
it, in kind with the prompt's end; the output file holds the prompt (with its tempo map, channels,
programs and drums) and the continuation as two tracks. A model hears only a window of recent music, so
of a long prompt only the tail that fits in it is heard (the summary says how much). The quality benchmark
continues held-out pieces through the same `continue_notes`, so what it measures is what `generate` and
`jam` play.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from duetto.encodings import events as encoding
from duetto.encodings.events import key_events
from duetto.encodings.metrical import ENCODING_NAME as METRICAL
from duetto.errors import UsageError, usage
from duetto.families import make_voice
from duetto.midi.files import MidiScore, read_score, write_midi
from duetto.model.rolling_state import RESTART_SHARE, WINDOW_TOKENS, share
from duetto.model.sampler import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, Sampler
from duetto.model.step_model import StepModel
from duetto.music.key import KeyFinder
from duetto.music.notes import KeyEvent, Note, notes_from_events
from duetto.music.clock import fitting_timeline
from duetto.music.timeline import Timeline, check_bpm
from duetto.offline.plots import Mark, piano_roll_figure
from duetto.voices.in_kind import CallListener
from duetto.voices.limits import Limits

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PROGRESS_AFTER_SECONDS = 2.0  # composing longer than this says how far it is
PROGRESS_EVERY_SECONDS = 5.0
Progress = Callable[[str], None]


def window_tokens(model: StepModel) -> int:
    """How many recent tokens of the prompt the model hears: a bounded state's RESTART_SHARE (the rest is
    room for the continuation), else the window a live jam keeps."""
    capacity = model.info.max_steps
    return share(capacity, RESTART_SHARE) if capacity else WINDOW_TOKENS


def prompt_tail(notes: Sequence[Note], tokens: int) -> list[Note]:
    """The latest notes of the prompt whose encoding fits in `tokens`: the part a model can hear."""
    ordered = sorted(notes)
    low, high = 0, len(ordered)  # the tail ordered[high:] fits; find the longest that still does
    while low < high:
        middle = (low + high) // 2
        tail = ordered[middle:]
        shifted = [Note(n.start - tail[0].start, n.end - tail[0].start, n.pitch, n.velocity) for n in tail]
        if len(encoding.encode(shifted)) + 8 <= tokens:  # room for START and the conditioning
            high = middle
        else:
            low = middle + 1
    return ordered[high:]


def read_prompt(path: str, say: Progress) -> MidiScore:
    """A prompt file as `generate` and `jam --prompt` read it: a one-line error (UsageError, MidiFileError)
    for a file that is missing, unreadable, without notes to continue or with a tempo out of range; malformed
    events skipped, and said."""
    if not Path(path).is_file():
        raise UsageError(f"--prompt {path}: no such file")
    score = read_score(path)
    if score.skipped_events:
        say(f"{path}: {score.skipped_events} malformed event{'s' if score.skipped_events != 1 else ''} "
            "skipped (meta or SysEx events out of range); the rest is read")
    if not score.notes:
        what = f"only drums ({len(score.drums)} notes on channel 10, which Duetto does not continue)" \
            if score.drums else "no notes"
        raise UsageError(f"{path}: the prompt has {what}")
    for _, bpm in score.tempos:
        usage(check_bpm, bpm, f"{path}")
    return score


def hear_of(score: MidiScore, model: StepModel) -> tuple[list[Note], list[Note], Timeline, str]:
    """What a model hears of a prompt: its notes as the encoding has them, the tail of them that fits in the
    model's window, the timeline they were played to (`fitting_timeline`) and a few words saying which."""
    prompt = encoding.quantize(score.notes)
    timeline, grid = fitting_timeline([note.start for note in prompt], Timeline(tuple(score.tempos), tuple(score.meters)))
    return prompt, prompt_tail(prompt, window_tokens(model)), timeline, grid


def continue_notes(model: StepModel, prompt: Sequence[Note], seconds: float, sampler: Sampler,
                   limits: Limits | None = None, style: str = "auto", texture: str = "auto",
                   progress: Progress | None = None, timeline: Timeline | None = None,
                   lean_to_key: bool = True) -> list[Note]:
    """`seconds` of continuation after the prompt's last key event, on the prompt's clock, in kind with
    the end of the prompt (duetto.voices.in_kind), its beats and bars where `timeline` says (the prompt's
    tempo map and meter; without one a voice that counts in beats follows the prompt's own pulse). The
    voice hears the prompt as given: cut a long one with `prompt_tail` first. Without `lean_to_key` the
    answer is not leaned to the prompt's key (what the quality bench asks of the model alone)."""
    voice = make_voice(model, sampler, limits, window_tokens=window_tokens(model))
    voice.keep_time(timeline)
    call = CallListener()
    heard = key_events(prompt)
    for event in heard:
        voice.hear(event.seconds, event.pitch, event.velocity)
        call.hear(event.seconds, event.pitch, event.velocity)
    styles = model.info.styles
    key = KeyFinder.of(call.notes) if lean_to_key else None
    kind = call.answer_kind(texture, styles.index(style) if style in styles else None, key)
    offset = heard[-1].seconds
    events = voice.answer(seconds, trim_leading_silence=False, kind=kind, start=offset)
    if progress is not None:
        events = reporting(events, seconds, progress)
    return [Note(note.start + offset, note.end + offset, note.pitch, note.velocity)
            for note in notes_from_events(events)]


def reporting(events: Iterable[KeyEvent], seconds: float, progress: Progress) -> Iterator[KeyEvent]:
    """The same events, saying now and then how far composing has got once it takes a while."""
    began = time.monotonic()
    said = began + PROGRESS_AFTER_SECONDS - PROGRESS_EVERY_SECONDS
    for event in events:
        now = time.monotonic()
        if now - began >= PROGRESS_AFTER_SECONDS and now - said >= PROGRESS_EVERY_SECONDS:
            progress(f"composing: {event.seconds:.0f} of {seconds:.0f} s")
            said = now
        yield event


@dataclass
class Continued:
    """What `continue_midi` wrote: the summary line, and the tracks with the time they are shown from."""

    summary: str
    tracks: dict[str, list[Note]]
    score: MidiScore  # the prompt as read
    continuation_starts: float  # seconds: where the prompt ends and Duetto begins


def continue_midi(model: StepModel, score: MidiScore, out_path: str, seconds: float,
                  temperature: float = DEFAULT_TEMPERATURE, top_p: float = DEFAULT_TOP_P, seed: int | None = None,
                  limits: Limits | None = None, style: str = "auto", texture: str = "auto",
                  progress: Progress | None = None) -> Continued:
    """Continue a MIDI file, as `read_prompt` read it: the prompt (drums and programs and tempo map kept) and
    the continuation go to `out_path` as two tracks."""
    say = progress or (lambda line: print(f"duetto: {line}", file=sys.stderr))
    prompt, heard, timeline, grid = hear_of(score, model)
    continuation = continue_notes(model, heard, seconds, Sampler(temperature, top_p, seed), limits, style, texture,
                                  say, timeline)
    prompt_end = max(note.end for note in prompt)
    continuation_end = max((note.end for note in continuation), default=prompt_end)
    tracks = {"Prompt": sorted(score.notes + score.drums), "Duetto": continuation}
    write_midi(out_path, tracks, tempos=score.tempos, programs=score.programs, meters=score.meters)
    prompt_seconds = max(prompt_end, score.end)
    tail = "" if len(heard) == len(prompt) else \
        f", its last {prompt_end - heard[0].start:.1f} s heard (the model's window)"
    drums = f", {len(score.drums)} drum notes kept but not heard" if score.drums else ""
    summary = (f"wrote {out_path}: prompt {len(prompt)} notes ({prompt_seconds:.1f} s{tail}{drums}), "
               f"continuation {len(continuation)} notes ({max(0.0, continuation_end - prompt_end):.1f} s)"
               + (f", on the prompt's beat ({grid})" if model.info.encoding == METRICAL else ""))
    return Continued(summary, tracks, score, prompt_end)


def shown_from(continued: Continued, prompt_seconds: float) -> float:
    """Where a picture or a recording of a long prompt's continuation begins: `prompt_seconds` before
    the continuation, or the start of the piece."""
    return max(0.0, continued.continuation_starts - prompt_seconds)


def shown(continued: Continued, prompt_seconds: float) -> dict[str, list[Note]]:
    """The tracks from `shown_from` on, times moved to start there: what a recording covers."""
    cut = shown_from(continued, prompt_seconds)
    return {name: [Note(max(0.0, note.start - cut), note.end - cut, note.pitch, note.velocity, note.channel)
                   for note in notes if note.end > cut]
            for name, notes in continued.tracks.items()}


def continuation_figure(continued: Continued, prompt_seconds: float, name: str) -> "Figure":
    """The piano roll of `duetto generate --plot`: the prompt's end and the continuation, on the
    prompt's clock and bars, the continuation's start marked; the title says when the prompt is cut."""
    since = shown_from(continued, prompt_seconds)
    starts = continued.continuation_starts
    prompt = f"the last {starts - since:.0f} s of the {starts:.0f} s prompt" if since > 0 else "the prompt"
    return piano_roll_figure(continued.tracks, [Mark(starts, "continuation", "Duetto")], continued.score.tempos,
                             since, title=f"{name}: {prompt} and Duetto's continuation")
