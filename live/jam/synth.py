"""`duetto jam --synth`: a FluidSynth of Duetto's own, so a keyboard and a laptop are the whole setup.

Why it is shaped this way:
  * FluidSynth runs as a process of its own, not as a library inside ours: a synth's audio thread must
    never wait for Python's interpreter lock, and the program is what every platform packages (apt,
    Homebrew). Duetto plays into its MIDI port exactly as into any synth named with `--out`; nothing here
    knows more of the MIDI system than the names of its ports.
  * It is started on the MIDI system Duetto uses (JACK, the ALSA sequencer, CoreMIDI) under a client name
    of Duetto's choosing. Its port appears a while after the process starts (the soundfont loads first),
    so `wait_for_port` polls the backend's port names until a new one carries that name, or the process
    dies, or time runs out: each of those is one line.
  * Its shell reads a pipe from us on stdin. However Duetto ends, killed outright too, the pipe closes and
    FluidSynth quits: no synth is ever left running, holding the name and the sound card. `close` asks it
    to quit through that shell, then terminates it, at last kills it, and always waits for it.
  * It runs in a session of its own, so Ctrl-C in the terminal reaches Duetto alone: Duetto first
    silences what it played (the scheduler's close sends every note-off) and then stops the synth, never
    the other way round.
  * What it prints goes to a file, not the terminal (the live view owns the screen); its last line is the
    reason given when it does not start or quits mid-session (`check`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from duetto.fluidsynth import FluidSynthError
from duetto.midi import messages

MIDI_DRIVERS = {"jack": "jack", "alsa": "alsa_seq", "coremidi": "coremidi"}  # Duetto's backend: FluidSynth's -m
PORT_TIMEOUT_SECONDS = 20.0  # the soundfont loads before the port appears: FluidR3_GM takes a second or two
POLL_SECONDS = 0.05
QUIT_SECONDS = 2.0  # for each of: quit through the shell, terminate


@dataclass(frozen=True)
class SynthPlan:
    """`--synth`, checked before any work starts: the FluidSynth program and soundfont found, each part's
    General MIDI instrument (numbered 1-128, as the GM list does) and where the sound goes (None: the
    usual place for the MIDI system, `audio_driver`)."""

    program: str
    soundfont: Path
    bot_program: int = 5
    player_program: int = 1
    audio: str | None = None


def midi_driver(backend: str) -> str:
    """FluidSynth's MIDI driver for Duetto's MIDI backend (its name)."""
    if backend not in MIDI_DRIVERS:
        raise FluidSynthError(f"--synth plays on JACK, ALSA or CoreMIDI, not on {backend}: start a synth yourself "
                         "and name it with --out")
    return MIDI_DRIVERS[backend]


def audio_driver(backend: str, platform: str = sys.platform, environ: Mapping[str, str] = os.environ) -> str:
    """Where the synth's sound goes: JACK when Duetto's MIDI is on JACK (its server then owns the sound
    card), CoreAudio on macOS, PulseAudio where a Pulse server (or PipeWire's) listens, else ALSA."""
    if backend == "jack":
        return "jack"
    if platform == "darwin":
        return "coreaudio"
    socket = Path(environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / "pulse" / "native"
    return "pulseaudio" if environ.get("PULSE_SERVER") or socket.exists() else "alsa"


def program_changes(bot_channel: int, bot_program: int, player_channels: Iterable[int],
                    player_program: int, band_programs: Mapping[int, int] | None = None) -> list[messages.Message]:
    """The instruments, chosen on every channel that will play: the bot's, a band's parts' (by channel),
    and the player's (programs and channels counted from 0). General MIDI's channel 10 keeps its drum kit."""
    band_programs = band_programs or {}
    chosen = [messages.program_change(bot_channel, bot_program)]
    # a band part on the bot's channel (band mode leaves the bot's own channel unplayed) takes it over
    chosen += [messages.program_change(channel, program) for channel, program in sorted(band_programs.items())]
    chosen += [messages.program_change(channel, player_program) for channel in sorted(set(player_channels))
               if channel not in (bot_channel, messages.DRUM_CHANNEL, *band_programs)]
    return chosen


class FluidSynth:
    """One FluidSynth process listening on a MIDI port whose name holds `name`."""

    def __init__(self, program: str, soundfont: Path, backend: str, audio: str, name: str) -> None:
        self.name = name
        self.audio = audio
        driver = midi_driver(backend)
        command = [program, "-q", "-m", driver, "-a", audio, "-o", f"midi.{driver}.id={name}"]
        if audio == "jack":  # its outputs get the client's name, and go to the sound card's
            command += ["-o", f"audio.jack.id={name}", "-j"]
        self._said = tempfile.TemporaryFile(mode="w+")
        try:
            self._process = subprocess.Popen([*command, str(soundfont)], stdin=subprocess.PIPE,
                                             stdout=self._said, stderr=subprocess.STDOUT, text=True,
                                             start_new_session=True)
        except OSError as error:
            self._said.close()
            raise FluidSynthError(f"FluidSynth could not start: {error}") from None

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_for_port(self, port_names: Callable[[], list[str]], known: Iterable[str],
                      timeout: float = PORT_TIMEOUT_SECONDS) -> str:
        """The synth's MIDI input, once it appears among `port_names()` (and was not among `known`, the
        names listed before the synth started)."""
        known = set(known)
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            new = [port for port in port_names() if self.name in port and port not in known]
            if new:
                return new[0]
            if time.monotonic() > deadline:
                raise FluidSynthError(f"FluidSynth's MIDI port did not appear within {timeout:g} s")
            time.sleep(POLL_SECONDS)

    def check(self) -> None:
        """A FluidSynthError if FluidSynth has quit."""
        if self._process.poll() is not None:
            raise FluidSynthError(f"FluidSynth quit (exit status {self._process.returncode}): {self._last_words()}")

    def _last_words(self) -> str:
        self._said.flush()
        self._said.seek(0)
        lines = [line.strip().lstrip("> ").strip() for line in self._said.read().splitlines()]
        lines = [line for line in lines if line]
        return lines[-1] if lines else "it said nothing"

    def close(self) -> None:
        """Stop the synth and wait until its process is gone. Idempotent."""
        process = self._process
        if process.poll() is None:
            try:
                process.stdin.write("quit\n")
                process.stdin.flush()
            except OSError:  # the shell has gone already
                pass
        for escalate in (None, process.terminate, process.kill):
            if escalate is not None:
                escalate()
            try:
                process.wait(timeout=QUIT_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
        process.wait()
        for stream in (process.stdin, self._said):
            try:
                stream.close()
            except OSError:
                pass
