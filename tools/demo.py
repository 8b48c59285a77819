"""`duetto demo`: the whole live engine, headless, on a bundled phrase.

A stand-in player performs `assets/call.mid` into the engine's input; an independent recorder listens to
its output; the duet is written to a two-track MIDI file and summarised on one screen. Real virtual ports
are used when a MIDI system is there (ALSA, JACK, CoreMIDI); otherwise an in-process loopback carries the
same messages through the same engine code.

A newcomer should hear and see the duet, not only read about it: beside the MIDI file go the duet as
audio (FluidSynth) and as a piano roll (matplotlib). Both are optional, so when one cannot be made the
MIDI file is still written and one line says what to install.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from duetto.fluidsynth import FluidSynthError
from duetto.jam.settings import JamSettings
from duetto.midi.files import read_midi, write_midi
from duetto.midi.ports import open_backend
from duetto.midi.ports.base import Backend, PortError
from duetto.model.step_model import StepModel
from duetto.music.notes import Note
from duetto.offline.audio import find_renderer, render_wav
from duetto.offline.plots import Mark, PlotError, piano_roll_figure, require_matplotlib, save_figure
from duetto.tools.duet_rig import DuetRig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CALL = Path(__file__).resolve().parent / "assets" / "call.mid"
TRANSPOSITIONS = (0, 5, -2, 7)


def pick_backend(name: str) -> Backend:
    if name != "auto":
        return open_backend(name)
    try:
        return open_backend("auto")
    except PortError as error:
        print(f"duetto: {error}; using the in-process loopback", file=sys.stderr)
        return open_backend("loopback")


def why_not(check: Callable[[], object]) -> str | None:
    """The one line saying why `check` cannot be met (what is missing, how to get it), or None."""
    try:
        check()
    except (FluidSynthError, PlotError) as error:
        return str(error)
    return None


@dataclass
class Duet:
    """What was played, on one clock from the first phrase: both parts, where each call and each answer
    began, and the lines saying how it went."""

    parts: dict[str, list[Note]]
    sections: list[Mark]  # "call 1", "answer 1", "call 2", ...
    summary: list[str]


def play_duet(model: StepModel, settings: JamSettings, backend_name: str, rounds: int) -> Duet:
    """The stand-in player performs the call `rounds` times, each answered before the next begins."""
    call = read_midi(CALL)
    backend = pick_backend(backend_name)
    settings.compensate_transport(backend.transport_latency())  # as `duetto jam` does
    rig = DuetRig(backend, model, settings, name="Duetto Demo")
    origin = time.perf_counter()
    played: list[Note] = []
    gap_ends = []
    sections = []
    try:
        for round_index in range(rounds):
            shift = TRANSPOSITIONS[round_index % len(TRANSPOSITIONS)]
            phrase = [Note(n.start, n.end, n.pitch + shift, n.velocity) for n in call]
            start = time.perf_counter()
            sections.append(Mark(start - origin, f"call {round_index + 1}", "Player"))
            played += [Note(n.start + start - origin, n.end + start - origin, n.pitch, n.velocity) for n in phrase]
            last_release = rig.player.play(phrase, start=start)
            gap_ends.append(last_release + settings.phrase_gap)
            rig.wait_until_answered(last_release, settings.phrase_gap + settings.response_seconds + 5.0)
    finally:
        rig.close()
    recorder, engine = rig.recorder, rig.engine
    answer_notes = recorder.notes(origin=origin)
    firsts = {number: first for number, gap_end in enumerate(gap_ends, start=1)
              if (first := recorder.first_note_on(since=gap_end - 0.05)) is not None}
    delays = [first - gap_ends[number - 1] for number, first in firsts.items()]
    delay_text = (f"{statistics.median(delays) * 1000:.2f} ms median, {max(delays) * 1000:.2f} ms max"
                  if delays else "no answer arrived")
    sections += [Mark(first - origin, f"answer {number}", "Duetto") for number, first in firsts.items()]
    return Duet({"Player": played, "Duetto": answer_notes}, sorted(sections, key=lambda mark: mark.seconds), [
        f"duetto demo on {backend.name} ports: {rounds} phrases played, {engine.stats.answers} answers",
        f"  model: {model.describe()}",
        f"  player notes: {len(played)}   bot notes: {len(answer_notes)}   "
        f"unmatched bot note-ons: {recorder.unmatched_note_ons()}",
        f"  first answer note after the phrase gap ended (at the recorder; answers wait for the next beat "
        f"of the pulse heard, `--free-time` not to): {delay_text}",
    ])


def duet_figure(duet: Duet) -> "Figure":
    """The demo's piano roll: the player's calls in blue, Duetto's answers in orange, each one's start marked."""
    return piano_roll_figure(duet.parts, duet.sections, title="duetto demo: the player's calls and Duetto's answers")


def run_demo(model: StepModel, settings: JamSettings, backend_name: str, out: str, rounds: int,
             soundfont: str | None = None) -> str:
    """Play the duet and write it as MIDI to `out`, and beside it as .wav and .png where that can be done;
    returns the summary, which names every file written and says in one line why another is not."""
    audio, picture = Path(out).with_suffix(".wav"), Path(out).with_suffix(".png")
    no_audio = why_not(lambda: find_renderer(soundfont))  # known before playing, as `generate` does
    no_picture = why_not(require_matplotlib)
    duet = play_duet(model, settings, backend_name, rounds)
    write_midi(out, duet.parts)
    written = [f"  wrote {out}: the duet as MIDI, track \"Player\" the calls, track \"Duetto\" the answers"]
    if no_audio is None:
        render_wav(out, audio, soundfont)
        written.append(f"  wrote {audio}: the duet as audio (FluidSynth, General MIDI piano)")
    else:
        written.append(f"  no {audio}: {no_audio}")
    if no_picture is None:
        save_figure(duet_figure(duet), picture)
        written.append(f"  wrote {picture}: the duet as a piano roll, where each call and answer begins marked")
    else:
        written.append(f"  no {picture}: {no_picture}")
    return "\n".join(duet.summary + written)
