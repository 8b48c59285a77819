"""`duetto jam --synth`: a real FluidSynth on the private JACK server, heard through a JACK audio client.

The ears are a JACK client of the test's own (JACK-Client) reading the synth's audio outputs period by
period: silent before anyone plays, the player's notes heard through it, the answer heard through it once
the player's sound has died away; and after Duetto stops, however it stops, the FluidSynth process and
its ports are gone. Without FluidSynth on the PATH, one line says what to install.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import jack as jack_audio
import numpy as np
import pytest

from duetto.jam.synth import audio_driver, program_changes
from duetto.midi import messages
from duetto.music.notes import KeyEvent, Note, notes_from_events
from duetto.tools.duet_rig import Player, Recorder
from support.cli import refusal
from support.processes import JamProcess, wait_until

PHRASE = [Note(0.0, 0.2, 60, 90), Note(0.25, 0.45, 62, 80), Note(0.5, 0.7, 64, 85), Note(0.75, 1.1, 67, 95)]
SILENT, AUDIBLE = 1e-4, 1e-3  # RMS per JACK period: a silent synth gives ~1e-8, a piano note ~1e-2
TAIL_SECONDS = 1.0  # a piano note of the player's has died below SILENT by then (reverb too)
BOT_CHANNEL = 1  # the bot's channel under --synth (2, counted from 0), apart from the player's 1


class Ears:
    """A JACK client recording how loud a client's audio outputs are, period by period, stamped on the
    perf_counter clock (a period or two after the sound was made: milliseconds)."""

    def __init__(self, client: str) -> None:
        self.client = jack_audio.Client(f"ears-{os.getpid()}", no_start_server=True)
        self._inputs = [self.client.inports.register(f"in_{side}") for side in ("left", "right")]
        self._lock = threading.Lock()
        self._levels: list[tuple[float, float]] = []
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.sources = self.client.get_ports(f"{re.escape(client)}:.*", is_audio=True, is_output=True)
        for source, ear in zip(self.sources, self._inputs):
            self.client.connect(source, ear)

    def _process(self, frames: int) -> None:
        level = max(float(np.sqrt(np.mean(np.square(ear.get_array())))) for ear in self._inputs)
        with self._lock:
            self._levels.append((time.perf_counter(), level))

    def loudest(self, begin: float, end: float) -> float:
        with self._lock:
            levels = [level for stamp, level in self._levels if begin <= stamp < end]
        assert levels, f"no audio heard between {begin:.3f} and {end:.3f}"
        return max(levels)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def synth_pid(jam: JamProcess) -> int:
    assert wait_until(lambda: jam.said("FluidSynth (pid"), 30), jam.errors
    return int(re.search(r"FluidSynth \(pid (\d+)\)", jam.errors).group(1))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_bot_and_the_player_are_heard_through_fluidsynth_and_it_goes_when_duetto_stops(jack):
    jam = JamProcess("--synth", "--synth-audio", "jack", "--seed", "3", "--phrase-gap", "300",
                     "--response-seconds", "2.5", "--program", "1")
    ears = keyboard = listener = None
    try:
        jam.wait_for_ports(jack)
        pid = synth_pid(jam)
        ears = Ears(f"{jam.name} Synth")
        assert len(ears.sources) == 2, "the synth's audio outputs"
        recorder = Recorder()
        listener = jack.open_input(jam.out_port, recorder)  # beside the synth, on Duetto's output
        keyboard = jack.open_output(jam.in_port)
        time.sleep(1.0)
        began = time.perf_counter()
        last_release = Player(keyboard).play(PHRASE)
        assert ears.loudest(began - 0.8, began) < SILENT, "the synth sounded before anyone played"
        assert ears.loudest(began, last_release) > AUDIBLE, "the player's notes did not sound through the synth"

        time.sleep(last_release + 0.3 + 2.5 + 0.5 - time.perf_counter())  # the gap, the answer, the last release
        answer = [note for note in notes_on(recorder, BOT_CHANNEL) if note.start > last_release]
        # listened to once the player's last note has died away: the answer's notes sounding by then (one
        # struck after it, or one held from before it: the default of 12-04 late can end on a long note)
        quiet = last_release + TAIL_SECONDS
        late = [note for note in answer if note.end > quiet + 0.1]
        assert late, f"no answer, or one over within {TAIL_SECONDS} s: {answer}; {jam.errors}"
        assert max(ears.loudest(max(note.start, quiet) + 0.02, note.end + 0.02) for note in late) > AUDIBLE, \
            "the answer was not heard through the synth"
    finally:
        for port in (keyboard, listener):
            if port is not None:
                port.close()
        code = jam.stop()
        if ears is not None:
            ears.close()
    assert code == 0, jam.errors
    assert not alive(pid), "FluidSynth is still running after Duetto stopped"
    assert not any("Synth" in name for name in jack.output_names()), jack.output_names()


def notes_on(recorder: Recorder, channel: int) -> list[Note]:
    """The notes heard on one channel, timed by their stamps."""
    notes = [messages.parse_note(list(item.message)) + (item.stamp,) for item in recorder.heard
             if messages.parse_note(list(item.message)) is not None]
    return sorted(notes_from_events([KeyEvent(stamp, pitch, velocity) for heard_channel, pitch, velocity, stamp
                                     in notes if heard_channel == channel]))


@pytest.mark.parametrize("ending", ["ctrl-c", "killed", "synth killed"])
def test_fluidsynth_never_outlives_duetto(jack, ending):
    """Ctrl-C stops it in order; a Duetto killed outright closes the pipe FluidSynth's shell reads, so it
    quits too; a FluidSynth that dies mid-session ends the jam with one line and a non-zero status."""
    jam = JamProcess("--synth", "--synth-audio", "jack")
    jam.wait_for_ports(jack)
    pid = synth_pid(jam)
    if ending == "ctrl-c":
        assert jam.stop(signal.SIGINT) == 0, jam.errors
    elif ending == "killed":
        assert jam.stop(signal.SIGKILL) == -signal.SIGKILL
    else:
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: jam.process.poll() is not None, 10), "the jam went on without its synth"
        assert jam.stop() == 1
        assert jam.said("duetto: error: FluidSynth quit"), jam.errors
    assert wait_until(lambda: not alive(pid), 10), "FluidSynth outlived Duetto"


def test_without_fluidsynth_one_line_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    line = refusal(capsys, "jam", "--synth")
    assert "sudo apt install fluidsynth fluid-soundfont-gm" in line and "brew install fluidsynth" in line


def test_each_part_gets_its_instrument_on_its_channels_and_the_drums_keep_theirs():
    chosen = program_changes(1, 4, range(16), 0)
    assert chosen[0] == messages.program_change(1, 4)
    assert sorted(message[0] & 0x0F for message in chosen[1:]) == [c for c in range(16) if c not in (1, 9)]
    assert all(message[1] == 0 for message in chosen[1:])
    assert program_changes(1, 4, [0], 0) == [messages.program_change(1, 4), messages.program_change(0, 0)]
    # a band: each part's instrument on its channel, and the player's nowhere else but their own
    band = program_changes(1, 4, range(16), 0, {2: 33, 3: 65})
    assert band[1:3] == [messages.program_change(2, 33), messages.program_change(3, 65)]
    assert sorted(message[0] & 0x0F for message in band[3:]) == [c for c in range(16) if c not in (1, 2, 3, 9)]
    # a part on the bot's own channel (band mode leaves it to the band) gets the part's instrument, last
    on_bots = program_changes(1, 4, [0], 0, {1: 33})
    assert on_bots[-2:] == [messages.program_change(1, 33), messages.program_change(0, 0)]


def test_the_sound_goes_where_the_system_listens(tmp_path):
    assert audio_driver("jack", "linux", {}) == "jack"
    assert audio_driver("coremidi", "darwin", {}) == "coreaudio"
    assert audio_driver("alsa", "linux", {"XDG_RUNTIME_DIR": str(tmp_path)}) == "alsa"
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()
    assert audio_driver("alsa", "linux", {"XDG_RUNTIME_DIR": str(tmp_path)}) == "pulseaudio"
