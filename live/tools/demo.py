"""`duetto demo`: the whole live engine, headless, on a bundled phrase.

A stand-in player performs `assets/call.mid` into the engine's input; an independent recorder listens to
its output; the duet is written to a two-track MIDI file and summarised on one screen. Real virtual ports
are used when a MIDI system is there (ALSA, JACK, CoreMIDI); otherwise an in-process loopback carries the
same messages through the same engine code.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from duetto.jam.settings import JamSettings
from duetto.midi.files import read_midi, write_midi
from duetto.midi.ports import open_backend
from duetto.midi.ports.base import Backend, PortError
from duetto.model.step_model import StepModel
from duetto.music.notes import Note
from duetto.testing.duet_rig import DuetRig

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


def run_demo(model: StepModel, settings: JamSettings, backend_name: str, out: str, rounds: int) -> str:
    call = read_midi(CALL)
    backend = pick_backend(backend_name)
    settings.compensate_transport(backend.transport_latency())  # as `duetto jam` does
    rig = DuetRig(backend, model, settings, name="Duetto Demo")
    origin = time.perf_counter()
    played: list[Note] = []
    gap_ends = []
    try:
        for round_index in range(rounds):
            shift = TRANSPOSITIONS[round_index % len(TRANSPOSITIONS)]
            phrase = [Note(n.start, n.end, n.pitch + shift, n.velocity) for n in call]
            start = time.perf_counter()
            played += [Note(n.start + start - origin, n.end + start - origin, n.pitch, n.velocity) for n in phrase]
            last_release = rig.player.play(phrase, start=start)
            gap_ends.append(last_release + settings.phrase_gap)
            rig.wait_until_answered(last_release, settings.phrase_gap + settings.response_seconds + 5.0)
    finally:
        rig.close()
    recorder, engine = rig.recorder, rig.engine
    answer_notes = recorder.notes(origin=origin)
    write_midi(out, {"Player": played, "Duetto": answer_notes})
    delays = [first - gap_end for gap_end in gap_ends
              if (first := recorder.first_note_on(since=gap_end - 0.05)) is not None]
    delay_text = (f"{statistics.median(delays) * 1000:.2f} ms median, {max(delays) * 1000:.2f} ms max"
                  if delays else "no answer arrived")
    return "\n".join([
        f"duetto demo on {backend.name} ports: {rounds} phrases played, {engine.stats.answers} answers",
        f"  model: {model.describe()}",
        f"  player notes: {len(played)}   bot notes: {len(answer_notes)}   "
        f"unmatched bot note-ons: {recorder.unmatched_note_ons()}",
        f"  first answer note after the phrase gap ended (at the recorder; answers wait for the next beat "
        f"of the pulse heard, `--free-time` not to): {delay_text}",
        f"  duet written to {out}",
    ])
