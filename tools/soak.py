"""`duetto bench soak --minutes 60`: a long session, as a player would have one, watched for slow decay.

A real `duetto jam --view --record` runs in a terminal of its own (tmux) on a private JACK server, following
MIDI Clock from a DAW's transport, while a simulated player plays phrases of sixteenths in time with it (8
notes a second) and rests between them for the bot's answer (sometimes long enough to hear it out,
sometimes cutting it off). An independent client records everything the bot sends.

What would decay over an hour is measured as it goes and compared, first stretch against last (a sixth
of the run each: ten minutes of an hour):
- memory: the jam's resident set (VmRSS), sampled every few seconds; growth is its last sample against
  its first once warmed up (the end of the first stretch);
- the model's step: its p99 as the live view shows it (the latest 1,000 steps), read off the screen;
- stuck notes: note-ons the recorder never heard released, counted strictly once the jam has exited;
- the recording: the file holds every note the player played and every note the recorder heard the bot play.
"""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mido

from duetto.atomic import write_json_atomically
from duetto.midi.ports import open_backend
from duetto.midi.ports.base import PortError
from duetto.music.notes import Note
from duetto.tools.duet_rig import ClockSender, Player, Recorder, sleep_until, wait_until
from duetto.tools.jack_server import PrivateJackServer
from duetto.tools.terminal import Tmux

BPM = 120.0
NOTES_PER_SECOND = 8.0  # sixteenths at 120 BPM
PHRASE_NOTES = 16  # two seconds of sixteenths
REST_BEATS = (2, 8)  # the player rests this many beats between phrases (an answer lasts four)
RESPONSE_SECONDS = 2.0
SAMPLE_SECONDS = 5.0  # how often memory and the view's step figure are read
STRETCH_SHARE = 1 / 6  # the first and last stretch compared: ten minutes of an hour
RSS_GROWTH_GOAL_MB = 5.0
STEP_P99 = re.compile(r"model step p50/p99 [\d.]+ / ([\d.]+) ms")
NOTES_IN = re.compile(r"notes in (\d+)")
NAME = "Soak"


@dataclass
class Sample:
    at: float  # seconds since the player began
    rss_mb: float
    step_p99_ms: float | None  # as the view showed it; None when it showed none yet


@dataclass
class SoakReport:
    command: str
    date: str
    minutes: float
    jack_period_ms: float
    phrases: int = 0
    notes_played: int = 0
    notes_received: int | None = None  # the player's notes that reached the jam, as its view counts them
    bot_notes_heard: int = 0
    recorded_player_notes: int = 0
    recorded_bot_notes: int = 0
    stuck_notes: int = 0
    stuck: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds since the player began, channel, pitch)
    releases_of_nothing: int = 0  # note-offs the recorder heard for no key sounding: a note-on lost on the way
    seconds_played: float = 0.0  # from the player's start to the jam's exit
    exit_status: int | None = None
    samples: list[Sample] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # the jam's log lines the view showed, each once: why a goal failed

    def _stretch(self, first: bool) -> list[Sample]:
        length = self.minutes * 60 * STRETCH_SHARE
        end = self.samples[-1].at if self.samples else 0.0
        return [s for s in self.samples if (s.at <= length if first else s.at >= end - length)]

    @property
    def rss_start_mb(self) -> float | None:
        """Memory once warmed up: the last sample of the first stretch."""
        first = self._stretch(first=True)
        return first[-1].rss_mb if first else None

    @property
    def rss_end_mb(self) -> float | None:
        return self.samples[-1].rss_mb if self.samples else None

    @property
    def rss_growth_mb(self) -> float | None:
        if self.rss_start_mb is None or self.rss_end_mb is None:
            return None
        return self.rss_end_mb - self.rss_start_mb

    def step_p99_ms(self, first: bool) -> float | None:
        """The median of the view's step p99 over the first (or last) stretch."""
        shown = [s.step_p99_ms for s in self._stretch(first) if s.step_p99_ms is not None]
        return statistics.median(shown) if shown else None

    @property
    def recording_complete(self) -> bool:
        """Every note the jam received from the player and every note the recorder heard it play is in the
        recording. (A note JACK drops between the player and the jam, when a client misses a cycle, never
        reached it: it is counted apart, as lost in transport.)"""
        return (self.notes_received is not None and self.recorded_player_notes == self.notes_received > 0
                and self.recorded_bot_notes == self.bot_notes_heard > 0)

    def goals(self) -> dict[str, bool]:
        first, last = self.step_p99_ms(first=True), self.step_p99_ms(first=False)
        return {"RSS growth <= 5 MB": self.rss_growth_mb is not None and self.rss_growth_mb <= RSS_GROWTH_GOAL_MB,
                # steady: the last stretch's p99 within half again of the first's (a step is a fraction of a ms)
                "step p99 steady": first is not None and last is not None and last <= 1.5 * first,
                "0 stuck notes": self.stuck_notes == 0,
                "recording complete": self.recording_complete,
                "exit 0": self.exit_status == 0}


def format_soak(report: SoakReport) -> str:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f} ms"

    def mb(value: float | None, sign: str = "") -> str:
        return "n/a" if value is None else f"{value:{sign}.1f} MB"

    lines = [f"duetto bench soak — {report.date}, {report.minutes:g} min, JACK period {report.jack_period_ms:.2f} ms, "
             f"{len(report.samples)} samples",
             f"player: {report.phrases} phrases, {report.notes_played} notes at {NOTES_PER_SECOND:g} notes/s "
             f"following MIDI Clock at {BPM:g} BPM, {report.notes_received} of them received by the jam "
             f"(the rest lost in transport); bot: {report.bot_notes_heard} notes heard",
             f"RSS: {mb(report.rss_start_mb)} warmed up, {mb(report.rss_end_mb)} at the end, "
             f"growth {mb(report.rss_growth_mb, '+')}",
             f"model step p99 (view): first stretch {ms(report.step_p99_ms(first=True))}, "
             f"last stretch {ms(report.step_p99_ms(first=False))}",
             f"stuck notes: {report.stuck_notes}; recording: player {report.recorded_player_notes}/"
             f"{report.notes_received}, bot {report.recorded_bot_notes}/{report.bot_notes_heard}; "
             f"exit status {report.exit_status}"]
    lines += [f"stuck: channel {channel + 1} pitch {pitch}, struck {at:.1f} s in ({report.seconds_played - at:.1f} s "
              f"before the end)" for at, channel, pitch in report.stuck]
    if report.releases_of_nothing:
        lines.append(f"note-offs heard for no note sounding (a note-on lost on the way): {report.releases_of_nothing}")
    lines += [f"goal {name}: {'met' if met else 'NOT MET'}" for name, met in report.goals().items()]
    lines += [f"the jam said: {line}" for line in report.said]
    return "\n".join(lines)


def write_soak(path: str, report: SoakReport) -> None:
    write_json_atomically(path, {**asdict(report), "goals": report.goals()})


def phrase(rng: random.Random) -> list[Note]:
    """Sixteen sixteenths stepping and leaping through two octaves of C major, at varied velocities."""
    scale, degree, notes = (0, 2, 4, 5, 7, 9, 11), rng.randrange(7), []
    gap = 1 / NOTES_PER_SECOND
    for index in range(PHRASE_NOTES):
        degree = max(0, min(13, degree + rng.choice((-2, -1, -1, 1, 1, 2))))
        pitch = 60 + 12 * (degree // 7) + scale[degree % 7]
        notes.append(Note(index * gap, index * gap + gap * 0.8, pitch, rng.randrange(60, 100)))
    return notes


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise PortError(f"/proc/{pid}/status has no VmRSS")


def recorded_notes(path: Path) -> dict[str, int]:
    """Note-ons per track name of the recording."""
    counts = {}
    for track in mido.MidiFile(path).tracks:
        counts[track.name] = sum(1 for m in track if m.type == "note_on" and m.velocity > 0)
    return counts


def run_soak(minutes: float, command: str, seed: int = 0) -> SoakReport:
    """Run the soak for `minutes` of playing and report what it measured."""
    rng = random.Random(seed)
    with PrivateJackServer(period=128) as server, tempfile.TemporaryDirectory() as folder:
        report = SoakReport(command, time.strftime("%Y-%m-%d %H:%M"), minutes, server.period_seconds * 1000)
        record = Path(folder) / "soak.mid"
        backend = open_backend("jack")
        term = Tmux(NAME, "--seed", str(seed), "--phrase-gap", "300", "--response-seconds", str(RESPONSE_SECONDS), "--record", str(record))
        recorder, ports = Recorder(), []
        try:
            if not term.shows("mode call", 60):
                raise PortError(f"duetto jam --view did not start: {term.screen()[-300:]}")
            pid = term.jam_pid()
            wait_until(lambda: any(f"{NAME} In" in port for port in backend.output_names()), 10)
            ports = [backend.open_input(f"{NAME} Out", recorder), backend.open_output(f"{NAME} In"),
                     backend.open_output(f"{NAME} In")]
            time.sleep(0.3)
            clock = ClockSender(ports[2], BPM).start()
            player = Player(ports[1])
            wait_until(lambda: clock.first_tick is not None, 5)
            beat = 60.0 / BPM
            began = clock.first_tick + 2 * beat
            at, next_sample = began, time.perf_counter()
            while at < began + minutes * 60:
                notes = phrase(rng)
                player.play(notes, start=at)
                report.phrases += 1
                report.notes_played += len(notes)
                at += (PHRASE_NOTES / NOTES_PER_SECOND) + beat * rng.randint(*REST_BEATS)  # on a beat
                while next_sample < at - 0.5:  # samples in the rest, never while playing
                    sleep_until(next_sample)
                    screen = term.screen()
                    shown = STEP_P99.search(screen)
                    report.said += [line.strip() for line in screen.splitlines()
                                    if line.strip().startswith("duetto:") and line.strip() not in report.said]
                    report.samples.append(Sample(next_sample - began, rss_mb(pid),
                                                 float(shown.group(1)) if shown else None))
                    next_sample += SAMPLE_SECONDS
                sleep_until(at - 0.05)
            time.sleep(5.0)  # the last answer plays out
            received = NOTES_IN.search(term.screen())
            report.notes_received = int(received.group(1)) if received else None
            clock.stop()
            term.keys("q")
            wait_until(lambda: term.exit_status() is not None, 30, interval=0.1)
            report.exit_status = term.exit_status()
            report.seconds_played = time.perf_counter() - began
            recorder.wait_quiet()
        finally:
            for port in ports:
                port.close()
            term.close()
        tally = recorder.key_tally(all_notes_off_releases=False)
        report.stuck_notes, report.releases_of_nothing = len(tally.left_sounding), tally.releases_of_nothing
        report.stuck = [(stamp - began, channel, pitch) for stamp, channel, pitch in tally.left_sounding]
        report.bot_notes_heard = sum(1 for item in recorder.heard
                                     if item.message[0] & 0xF0 == 0x90 and item.message[2] > 0)
        if record.is_file():
            counts = recorded_notes(record)
            report.recorded_player_notes, report.recorded_bot_notes = counts.get("Player", 0), counts.get("Duetto", 0)
        return report
