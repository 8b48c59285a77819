"""Garbage and floods on the input port: Duetto keeps running, stays bounded in memory, and still answers.

Real JACK ports carry the input: a fuzzing client plays random and adversarial streams into an in-process
engine's "In" port (SysEx, clock and active-sensing floods, all 16 channels, velocity-0 note-ons, duplicate
note-ons, note-offs with no note-on, pitch bend, aftertouch, program changes, malformed notes), and an
independent recorder listens to its "Out". Afterwards the fuzzer lets go of every key it left down, plays
a plain phrase, and the bot must answer it with every note released.

Policy under test (live/engine.py `Engine._admit`): when INBOX_LIMIT key-downs wait, further key-downs
are dropped (and counted), and so are their key-ups; the key-up of a key-down that got in always gets in.
Short form by default; `--long` (or DUETTO_LONG=1) runs the 30 s flood at 20,000 messages a second.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from duetto.jam.engine import Engine
from duetto.jam.intake import INBOX_LIMIT
from duetto.jam.settings import JamSettings
from duetto.midi.messages import DRUM_CHANNEL
from duetto.midi.ports import open_backend
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig, Recorder, sleep_until
from support.processes import wait_until

PHRASE = [Note(0.0, 0.15, 60, 90), Note(0.2, 0.35, 64, 80), Note(0.4, 0.6, 67, 85)]
BACKLOG_BOUND = INBOX_LIMIT + 2 * 16 * 128
FLOOD_RATE = 20_000  # messages a second
_names = itertools.count()


def adversarial_message(rng: random.Random, held: set[tuple[int, int]]) -> list[int]:
    """One message of the kinds a confused keyboard, a DAW or a broken cable sends; `held` tracks keys
    left down (note-on without its note-off), so the fuzzer can let go of them afterwards."""
    channel, pitch, value = rng.randrange(16), rng.randrange(128), rng.randrange(128)
    kind = rng.choices(["on", "zero", "off", "again", "stray", "sysex", "realtime", "bend", "touch",
                        "pressure", "program", "control", "malformed"],
                       weights=[20, 6, 10, 4, 4, 2, 10, 6, 4, 3, 3, 4, 2])[0]
    if kind == "on":
        held.add((channel, pitch))
        return [0x90 | channel, pitch, max(1, value)]
    if kind in ("zero", "off") and held:
        channel, pitch = rng.choice(sorted(held))
        held.discard((channel, pitch))
        return [0x90 | channel, pitch, 0] if kind == "zero" else [0x80 | channel, pitch, value]
    if kind == "again" and held:  # a duplicate note-on of a key already down
        channel, pitch = rng.choice(sorted(held))
        return [0x90 | channel, pitch, max(1, value)]
    if kind in ("stray", "zero", "off", "again"):  # a note-off with no note-on
        return [0x80 | channel, pitch, value] if (channel, pitch) not in held else [0xF8]
    if kind == "sysex":
        return [0xF0, *(rng.randrange(128) for _ in range(rng.randrange(1, 200))), 0xF7]
    if kind == "realtime":  # clock, start, continue, stop, active sensing
        return [rng.choice([0xF8, 0xFA, 0xFB, 0xFC, 0xFE])]
    if kind == "bend":
        return [0xE0 | channel, rng.randrange(128), rng.randrange(128)]
    if kind == "touch":
        return [0xA0 | channel, pitch, value]
    if kind == "pressure":
        return [0xD0 | channel, value]
    if kind == "program":
        return [0xC0 | channel, value]
    if kind == "control":
        return [0xB0 | channel, rng.choice([1, 7, 64, 120, 121, 123]), value]
    return rng.choice([[0x90 | channel, pitch], [0x90 | channel, 0x80 + pitch, 0xFF], [0x80 | channel]])


def flood(port, rng: random.Random, seconds: float, rate: int, held: set[tuple[int, int]]) -> float:
    """Send `rate` x `seconds` adversarial messages at `rate` a second; returns the rate achieved.

    Paced in 1 ms steps, because a MIDI transport has its own limits: JACK drops what does not fit in one
    period's port buffer, and a lost note-off is a key the bot must believe is still held.
    """
    messages = [adversarial_message(rng, held) for _ in range(int(rate * seconds))]  # made before timing
    total, sent, start = len(messages), 0, time.perf_counter()
    for tick in itertools.count(1):
        due = min(total, int((time.perf_counter() - start) * rate), sent + rate // 50)
        for message in messages[sent:due]:  # catching up after a late wake-up, 20 ms' worth at most
            port.send(message)
        sent = max(sent, due)
        if sent == total:
            return total / (time.perf_counter() - start)
        sleep_until(start + tick / 1000)


def let_go(port, held: set[tuple[int, int]]) -> None:
    """The fuzzer takes its hands off the keyboard: a note-off for every key it left down, then All Notes
    Off on every channel, as a DAW's stop button sends, for any note-off the MIDI system lost."""
    for channel, pitch in sorted(held):
        port.send([0x80 | channel, pitch, 0])
    held.clear()
    time.sleep(0.01)
    for channel in range(16):
        port.send([0xB0 | channel, 123, 0])


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture
def bot(jack, shipped_model):
    """In-process bots, run as `duetto jam` runs them: with Python switching threads every 0.5 ms, so the
    port's callback thread gets the interpreter within a JACK period (at the default 5 ms it can miss
    periods, and JACK drops a late client's input, note-offs included)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    rigs = []

    def make() -> DuetRig:
        settings = JamSettings(phrase_gap=0.15, response_seconds=1.0, seed=11)
        rigs.append(DuetRig(jack, shipped_model, settings, name=f"Fuzz {next(_names)}"))
        return rigs[-1]

    yield make
    for made in rigs:
        made.close()
    sys.setswitchinterval(previous)


def assert_still_answers(bench: DuetRig, timeout: float) -> None:
    """Play a plain phrase: the bot must answer it in full and leave no note sounding."""
    assert bench.engine._thread.is_alive(), "the engine thread died"
    assert wait_until(lambda: bench.engine.backlog == 0, timeout), f"backlog of {bench.engine.backlog} never drained"
    time.sleep(0.2)
    released = bench.player.play(PHRASE)
    assert bench.wait_until_answered(released, timeout), "no answer after the fuzzing"
    time.sleep(0.05)
    assert bench.recorder.unmatched_note_ons(all_notes_off_releases=False) == 0
    assert bench.engine.stats.errors == 0


def test_random_adversarial_streams_leave_the_bot_answering(bot, long_form):
    streams, seconds = (40, 3.0) if long_form else (4, 0.3)
    for seed in range(streams):
        bench, rng, held = bot(), random.Random(seed), set()
        rate = rng.choice([2_000, 5_000, FLOOD_RATE])
        flood(bench.player_port, rng, seconds, rate, held)
        let_go(bench.player_port, held)
        assert_still_answers(bench, timeout=60)  # a busy 2-core machine hears a backlog slowly, but hears it
        print(f"stream {seed}: {int(rate * seconds)} messages, {bench.engine.stats.notes_in} key-downs heard, "
              f"{bench.engine.stats.dropped_messages} dropped")
        bench.close()


def flood_from_another_process(port_name: str, seconds: float, rate: int, seed: int) -> int:
    """Run `flood` in a separate client process, as a DAW or a second keyboard would be, so the flood
    keeps its rate while this process's bot works; it lets go of its keys at the end. Returns the rate."""
    here = Path(__file__).resolve().parent  # this module, and tests/ for the `support` rigs it imports
    code = (f"import sys, random; sys.path[:0] = [{str(here)!r}, {str(here.parent)!r}]; "
            "from duetto.midi.ports import open_backend; from test_fuzz_input import flood, let_go; "
            f"port = open_backend('jack').open_output({port_name!r}); held = set(); "
            f"achieved = flood(port, random.Random({seed}), {seconds}, {rate}, held); let_go(port, held); "
            "import time; time.sleep(0.2); port.close(); print(achieved)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60)
    assert result.returncode == 0, result.stderr[-2000:]
    return float(result.stdout.split()[-1])


def test_a_flood_of_20000_messages_a_second_keeps_memory_bounded_and_the_bot_answering(bot, long_form):
    seconds = 30.0 if long_form else 2.0
    bench, backlog, rss_before = bot(), [0], rss_bytes()
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.01):
            backlog[0] = max(backlog[0], bench.engine.backlog)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    rate = flood_from_another_process(bench.session.input.name, seconds, FLOOD_RATE, seed=1)
    sampling.set()
    sent = int(FLOOD_RATE * seconds)
    growth = rss_bytes() - rss_before
    stats = bench.engine.stats
    print(f"flood: {sent} messages in {seconds:.0f} s ({rate:.0f}/s, {time.perf_counter() - started:.1f} s with "
          f"start-up), {stats.notes_in} key-downs heard, {stats.dropped_messages} dropped, largest backlog "
          f"{backlog[0]}, RSS growth {growth / 1e6:.1f} MB")
    assert rate > 0.9 * FLOOD_RATE, "the fuzzer could not keep up the flood rate"
    assert stats.dropped_messages > 0, "the flood never filled the inbox: the policy was not exercised"
    assert backlog[0] <= BACKLOG_BOUND
    assert growth < 64e6
    assert_still_answers(bench, timeout=30)


@pytest.mark.slow
def test_a_full_inbox_drops_key_downs_but_never_the_release_of_a_key_it_let_in(shipped_model):
    """The policy itself, deterministically: the engine thread is not started, so nothing drains."""
    backend = open_backend("loopback")
    engine = Engine(shipped_model, backend.open_output("Policy Out", virtual=True),
                    JamSettings(phrase_gap=0.05, response_seconds=0.5, seed=1), log=lambda line: None)
    keys = [(channel, pitch) for channel in range(16) if channel != DRUM_CHANNEL  # drums are never heard
            for pitch in range(128)][:INBOX_LIMIT + 300]
    for channel, pitch in keys:
        engine.receive([0x90 | channel, pitch, 80], time.perf_counter())
    assert engine.backlog == INBOX_LIMIT and engine.stats.dropped_messages == 300
    for channel, pitch in keys:
        engine.receive([0x80 | channel, pitch, 0], time.perf_counter())
    assert engine.backlog == 2 * INBOX_LIMIT, "a release of an admitted key was dropped, or a dropped one let in"
    engine.receive([0x80, 1, 0], time.perf_counter())  # a note-off with no note-on
    engine.receive([0x90, 200, 80], time.perf_counter())  # a malformed note
    assert engine.backlog == 2 * INBOX_LIMIT
    recorder = Recorder()
    backend.open_input("Policy Out", recorder)
    engine.start()
    try:
        # a thousand key-downs are a few thousand model steps to hear: tens of seconds on a busy machine
        assert wait_until(lambda: engine.stats.answers == 1, 120), "every key is up, but no answer came"
    finally:
        engine.stop()
    assert recorder.unmatched_note_ons(all_notes_off_releases=False) == 0

