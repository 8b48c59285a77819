"""Ardour as a musician runs it, headless: Debian's `ardour7-lua` (Ardour's Lua session host) makes a session
on the private JACK server, plays a phrase and its MIDI Clock into a port, records another port on a
record-armed MIDI track, and leaves the take in the session folder, where `ArdourTake` reads it back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mido

SCRIPT = Path(__file__).with_name("ardour_duet.lua")
START_TRIES = 3


@dataclass(frozen=True)
class PhraseNote:
    """A note of the phrase Ardour plays, on its timeline in beats."""
    beat: float
    pitch: int
    beats: float

    def argument(self) -> str:
        return f"{self.beat}:{self.pitch}:{self.beats}"


@dataclass(frozen=True)
class ArdourTake:
    """What Ardour recorded, as it lies on its timeline: (beat, pitch, velocity) for every note message in
    order (velocity 0 for a note-off), and what Ardour said of itself."""
    events: list[tuple[float, int, int]]
    bpm: float
    output_latency: int  # samples: how far ahead of its timeline Ardour sends its tracks and its clock
    rate: int

    def seconds(self, beat: float) -> float:
        return beat * 60.0 / self.bpm


def ardour_lua() -> str | None:
    return shutil.which("ardour7-lua")


def record_in_ardour(folder: Path, play_to: str, record_from: str, witness: str, seconds: float,
                     phrase: list[PhraseNote]) -> ArdourTake:
    """Roll a new Ardour session in `folder` for `seconds` (see ardour_duet.lua) and read back its take.
    Ardour 7.3's engine sometimes falls over while a session is being made on a busy machine, before anything
    has played: that start alone is tried again, up to START_TRIES times. Ardour's settings go to a folder
    of the test's own, never the user's."""
    for attempt in range(1, START_TRIES + 1):
        session = folder / f"session-{attempt}"
        done = subprocess.run([ardour_lua(), "--exit-when-halted", str(SCRIPT), str(session), play_to, record_from,
                               witness, str(seconds), *(note.argument() for note in phrase)],
                              capture_output=True, text=True, timeout=seconds + 60,
                              env={**os.environ, "XDG_CONFIG_HOME": str(folder / "config"),
                                   "XDG_CACHE_HOME": str(folder / "cache")})
        said = done.stdout
        if "rolling" in said or "Engine halted" not in said + done.stderr:
            break
    assert done.returncode == 0 and "take " in said, f"Ardour failed ({done.returncode}): {said[-800:]}{done.stderr[-800:]}"
    bpm = float(re.search(r"^tempo\s+(\S+)", said, re.M).group(1))
    latency, rate = map(int, re.search(r"^latency\s+(\d+)\s+(\d+)", said, re.M).groups())
    name, position, start = re.search(r"^take\s+(\S+)\s+(\d+)\s+(\d+)", said, re.M).groups()
    (path,) = session.glob(f"interchange/*/midifiles/{name}")
    offset = (int(position) - int(start)) / rate * bpm / 60.0  # where the take's file begins, in beats
    return ArdourTake(read_beats(path, offset), bpm, latency, rate)


def read_beats(path: Path, offset: float) -> list[tuple[float, int, int]]:
    """The note messages of an Ardour MIDI file (one track, times in beats), `offset` beats later."""
    midi = mido.MidiFile(path)
    ticks, events = 0, []
    for message in midi.tracks[0]:
        ticks += message.time
        if message.type in ("note_on", "note_off"):
            velocity = message.velocity if message.type == "note_on" else 0
            events.append((offset + ticks / midi.ticks_per_beat, message.note, velocity))
    return events
