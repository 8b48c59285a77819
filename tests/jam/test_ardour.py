"""A real DAW in the loop: Ardour 7, headless (its Lua session host, tests/support/ardour_duet.lua), plays a
phrase and its MIDI Clock into a `duetto jam` on the private JACK server and records the answer on a
record-armed MIDI track, as a musician's session would; the test reads Ardour's own take.

Ardour sends its tracks and its clock ahead of its timeline by its output latency, so that what follows the
clock sounds with Ardour's audio. Duetto's answer therefore lands on Ardour's beat at the port, and a track
that records it puts it that much early on the timeline: the test measures both (README, "Connecting a
DAW", says how to line the take up).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from duetto.midi import messages
from duetto.tools.duet_rig import Recorder
from support.ardour import ArdourTake, PhraseNote, ardour_lua, record_in_ardour
from support.jack import TEST_PERIOD_SECONDS
from support.processes import JamProcess

PHRASE = [PhraseNote(4 + index / 2, pitch, 0.4) for index, pitch in enumerate((60, 62, 64, 65, 67, 65, 64, 62))]
ROLL_SECONDS = 9.0  # at Ardour's 120 BPM: a bar before the phrase, the phrase, the 0.6 s gap, a 2 s answer
CALLBACK_SECONDS = 0.001  # a message's callback on the receiving side, after JACK's period boundary


def port_named(names: list[str], name: str) -> str:
    """The full JACK name ("client:port") of the port `name`."""
    (found,) = [full for full in names if name in full]
    return found


def beat_offset(seconds: float, first_beat: float, beat: float) -> float:
    """How far `seconds` lies from the nearest beat (negative: early)."""
    return seconds - (first_beat + round((seconds - first_beat) / beat) * beat)


@dataclass(frozen=True)
class Duet:
    """A duet recorded in Ardour: its take, and the answer's first note from Ardour's beat (seconds,
    negative: early) as heard at the port, and where Ardour's take put it on its timeline."""
    take: ArdourTake
    at_port: float
    on_timeline: float

    def __str__(self) -> str:
        return (f"answer's first note from Ardour's beat: {1000 * self.at_port:+.2f} ms at the port, "
                f"{1000 * self.on_timeline:+.2f} ms on its timeline (Ardour's output latency: "
                f"{self.take.output_latency} samples, {1000 * self.said_latency:.2f} ms)")

    @property
    def said_latency(self) -> float:
        return self.take.output_latency / self.take.rate


def duet_in_ardour(jack, folder: Path) -> Duet:
    """Ardour plays PHRASE and its clock into a `duetto jam` and records its answer; a witness hears Ardour's
    clock and the answer at the ports. The clock is followed, and the take holds the answer whole."""
    if ardour_lua() is None:
        pytest.fail("ardour7-lua is missing; `make test` installs Debian's ardour")
    jam = JamProcess("--response-seconds", "2", "--seed", "1")
    try:
        jam.wait_for_ports(jack)
        clock_heard, answer_heard = Recorder(), Recorder()
        before = set(jack.output_names())
        witness = jack.open_input("Ardour Clock Witness", clock_heard, virtual=True)
        (witness_name,) = set(jack.output_names()) - before
        answer_listener = jack.open_input(jam.out_port, answer_heard)
        try:
            take = record_in_ardour(folder, port_named(jack.output_names(), jam.in_port),
                                    port_named(jack.input_names(), jam.out_port), witness_name, ROLL_SECONDS, PHRASE)
        finally:
            witness.close()
            answer_listener.close()
    finally:
        assert jam.stop() == 0, jam.errors
    assert "from midi clock" in jam.errors, jam.errors

    assert len([event for event in take.events if event[2] > 0]) >= 2, take.events
    sounding: dict[int, int] = {}
    for _, pitch, velocity in take.events:
        sounding[pitch] = sounding.get(pitch, 0) + (1 if velocity > 0 else -1)
        assert sounding[pitch] >= 0, take.events
    assert not any(sounding.values()), take.events
    first = next(beat for beat, _, velocity in take.events if velocity > 0)
    assert first > PHRASE[-1].beat + PHRASE[-1].beats

    heard = clock_heard.heard
    start = next(item.stamp for item in heard if item.message[0] == messages.START)
    ticks = [item.stamp for item in heard if item.message[0] == messages.CLOCK and item.stamp > start]
    beat = take.seconds(1.0)
    at_port = beat_offset(answer_heard.first_note_on(since=start), downbeat(ticks, beat), beat)
    return Duet(take, at_port, take.seconds(first - round(first)))


def downbeat(ticks: list[float], beat: float) -> float:
    """When Ardour's first tick after Start (its timeline's beat 0) arrived, read from every tick heard at
    Ardour's own tempo: the median of their phases, which a few ticks held up on a busy machine (heard
    late, in a burst) do not move as they move a line fitted through them."""
    return statistics.median(stamp - index * beat / 24 for index, stamp in enumerate(ticks))


def test_ardour_records_the_answer_on_its_beat_at_the_port_and_early_on_its_timeline(jack, tmp_path):
    started = time.perf_counter()
    duet = duet_in_ardour(jack, tmp_path)
    print(f"{duet}; {time.perf_counter() - started:.1f} s")
    assert abs(duet.at_port) < TEST_PERIOD_SECONDS + CALLBACK_SECONDS, duet
    # on Ardour's timeline the take lies early by Ardour's output latency; the witness hears the clock's tick
    # and the note at JACK's period boundaries where Ardour places each on its sample, so the two measures
    # differ by up to a period
    assert duet.at_port - duet.on_timeline == pytest.approx(duet.said_latency, abs=TEST_PERIOD_SECONDS), duet
