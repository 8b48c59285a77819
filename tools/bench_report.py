"""What `duetto bench latency` found, as typed figures, and how it prints them.

The benchmark (duetto.tools.bench) measures and fills these in; the report prints them as a Markdown table
and writes them as JSON (`asdict`: the same names, nested). A run that went partly wrong still prints: any
figure missing (None, an empty summary, a part that never ran) shows as MISSING, a ratio blank.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np

from duetto.atomic import write_json_atomically

MISSING = "n/a"  # how the report prints a figure that was not measured


@dataclass(frozen=True)
class Summary:
    """Times in milliseconds: how many, the median, the 99th percentile, the longest (None when none)."""

    n: int = 0
    median_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> "Summary":
        values = np.asarray(list(seconds), dtype=float) * 1000.0
        if values.size == 0:
            return cls()
        return cls(int(values.size), float(np.median(values)), float(np.percentile(values, 99)),
                   float(values.max()))


def ratio(numerator: Summary, denominator: Summary) -> float | None:
    """How many times longer one median is than another; None when either has no figures."""
    if numerator.n and denominator.n and denominator.median_ms > 0:
        return numerator.median_ms / denominator.median_ms
    return None


@dataclass
class StepFigures:
    """One model's step on one device, in ONNX Runtime and (given a checkpoint, once) in PyTorch."""

    family: str
    model: str
    context: int | None  # a transformer's cache size; None for a state of no bound
    provider: str
    onnxruntime: Summary
    inputs: list[str] | None = None  # a family fed more than a token: its inputs
    torch_eager: Summary | None = None
    recompute_window: Summary | None = None  # the whole window recomputed for each token, the classic way
    window_tokens: int | None = None
    torch_unavailable: str | None = None  # why there are no PyTorch figures
    per_note: bool = False  # a metrical model's step: one whole note

    @property
    def torch_over_onnxruntime(self) -> float | None:
        return None if self.torch_eager is None else ratio(self.torch_eager, self.onnxruntime)

    @property
    def recompute_over_onnxruntime(self) -> float | None:
        return None if self.recompute_window is None else ratio(self.recompute_window, self.onnxruntime)


@dataclass
class Throughput:
    device: str
    batch_1_tokens_per_second: float
    batch: int
    batched_tokens_per_second: float | None  # None where a step is not batched (a metrical model's)
    unit: str = "tokens"  # what a step makes: tokens, or notes


@dataclass
class Notochord:
    """Notochord's cost per event (its default model, timed in this process), beside a note's cost."""

    parameters_millions: float | None = None
    query_feed: Summary | None = None  # draw an event and hear it
    feed: Summary | None = None  # hear one
    per_note_over_per_event: dict[str, float | None] = field(default_factory=dict)  # each metrical model's
    unavailable: str | None = None


@dataclass
class Hearing:
    """How long each key event takes to be heard while the cache re-primes (or why it was not timed)."""

    notes_per_second: float | None = None
    tokens: int | None = None
    refreshes: int | None = None
    key_event: Summary | None = None
    unavailable: str | None = None


@dataclass
class Answers:
    """Phrases answered over JACK with one transport compensation: each answer's latency and its parts."""

    compensation_ms: float
    response_latency: Summary  # the end of the phrase gap to the first note at the client
    trip_in: Summary  # the player's key-up to Duetto
    first_note_leaves_late: Summary  # the first note leaves, after it was due
    trip_out: Summary  # the first note to the client
    sender_lateness: Summary  # every note leaving the scheduler, with inference load
    arrival_lateness: Summary  # every note at the client, with inference load
    unanswered: int = 0
    messages_lost_in_transport: int = 0
    concurrent_inference_steps: int = 0


@dataclass
class Response(Answers):
    """The answers as `duetto jam` plays them, beside the same bot with no compensation (the baseline)."""

    phrases: int = 0
    phrase_gap_ms: float = 0.0
    uncompensated: Answers | None = None
    transport_median_ms: float | None = None  # the transport's own one-way trip, for the figures below

    @property
    def over_uncompensated(self) -> float | None:
        return None if self.uncompensated is None else ratio(self.response_latency, self.uncompensated.response_latency)

    @property
    def beyond_transport_p99_ms(self) -> float | None:
        """The response's p99 beyond the transport's median trip: what Duetto adds at worst."""
        if self.response_latency.p99_ms is None or self.transport_median_ms is None:
            return None
        return self.response_latency.p99_ms - self.transport_median_ms


@dataclass
class Steadiness:
    """Phrases answered over JACK while MIDI Clock runs into the bot, with every core kept busy by other
    programs at normal priority (`busy_processes`), or with none: the same bot, the same run."""

    busy_processes: int
    phrases: int
    answer_late: Summary  # the answer's first note at the client, after the moment it was due (the beat)
    grid_offset: Summary  # the bot's beat against the clock's own, signed (later is positive)
    note_timing: Summary  # every note of the bot's at the client, against when it was meant to land
    note_spread: Summary  # how far each note's timing lies from their median: the spread
    answers_cut_short: int = 0  # answers with notes left out: the model fell behind (duetto.jam.overrun)
    lines_about_it: int = 0  # what the log said about that: one line, not one a note
    unanswered: int = 0
    stuck_notes: int = 0  # note-ons never released, counted strictly once the bot has stopped
    # every message the bot sent (its port has no other writer here) less those the client heard: a JACK
    # server without real-time threads drops MIDI in the cycles a busy machine makes its clients miss, and
    # a note-off lost there leaves a note sounding that the bot did release
    messages_lost_in_transport: int = 0


@dataclass
class Jack:
    rate: int
    period_frames: int
    realtime: bool
    period_ms: float
    one_way_transport: Summary


@dataclass
class Machine:
    cpu: str
    cores: int | None
    python: str
    onnxruntime: str | None


@dataclass
class BandSpeed:
    """A band composing just ahead (`jam --mode band`: half a beat) over a melody: each chunk's composing
    time against the lead it has, one chunk before it sounds; and how long voicing its planned notes again
    after each melody note takes (the notes due meanwhile go out as they were)."""

    bpm: float
    parts: int
    chunk_beats: float
    compose: Summary
    lead_ms: float
    in_time_share: float  # chunks composed within their lead
    notes_per_chunk: float
    follow: Summary = field(default_factory=Summary)


@dataclass
class LatencyReport:
    command: str
    date: str
    machine: Machine
    model: str
    devices: list[str]
    steps: list[StepFigures] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    hearing: Hearing = field(default_factory=Hearing)
    gpu_unavailable: str | None = None
    jack: Jack | None = None
    response: Response | None = None
    peak_rss_mb: float | None = None  # of a real `duetto jam` answering phrases
    jack_unavailable: str | None = None
    notochord: Notochord | None = None  # beside metrical models only
    steadiness: list[Steadiness] = field(default_factory=list)  # with no load, then under load
    band: list[BandSpeed] = field(default_factory=list)  # models that play a band only


def write_json(path: str, report: LatencyReport) -> None:
    write_json_atomically(path, asdict(report))


def figure(value: float | int | None, spec: str = "", unit: str = "") -> str:
    """A figure as the report prints it: MISSING when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:{spec}}{unit}"


def times(value: float | None, what: str, spec: str = ".1f") -> str:
    """A ratio as the report prints it; blank when either side had no figures."""
    return "" if value is None else f"{value:{spec}}x {what}"


def format_report(report: LatencyReport) -> str:
    """The report as a Markdown table and a few lines."""
    machine, steps = report.machine, report.steps
    lines = [f"duetto bench latency — {report.date}, {machine.cpu} ({figure(machine.cores)} cores), "
             f"onnxruntime {figure(machine.onnxruntime)}",
             f"model: {report.model}", "",
             "| measure | n | median ms | p99 ms | max ms | ratio |", "|---|---|---|---|---|---|"]

    def row(name: str, stats: Summary | None, ratio_text: str = "") -> None:
        stats = stats or Summary()
        cells = " | ".join(figure(value, ".3f") for value in (stats.median_ms, stats.p99_ms, stats.max_ms))
        lines.append(f"| {name} | {stats.n} | {cells} | {ratio_text} |")

    for step in steps:
        name = f"{step.model} ({step.family}" + (f", context {step.context})" if step.context else ")")
        row(f"step {name}, ONNX Runtime ({step.provider})", step.onnxruntime, "1.0 (baseline)")
        if step.torch_eager is not None:
            row(f"step {name}, PyTorch eager", step.torch_eager, times(step.torch_over_onnxruntime, "ORT"))
        if step.recompute_window is not None:
            row(f"recompute {step.window_tokens}-token window {name}, PyTorch", step.recompute_window,
                times(step.recompute_over_onnxruntime, "ORT", ".0f"))
    jack, response = report.jack, report.response
    if jack is not None:
        scheduling = "real-time" if jack.realtime else "NOT real-time: expect losses under load"
        row(f"JACK one-way transport (period {jack.period_frames} @ {jack.rate} Hz = "
            f"{figure(jack.period_ms, '.2f')} ms, {scheduling})", jack.one_way_transport, "1.0 (baseline)")
    if response is not None:
        over_transport = None if jack is None else ratio(response.response_latency, jack.one_way_transport)
        row(f"response latency, gap end -> first note at client ({response.phrases} phrases, sent "
            f"{figure(response.compensation_ms, '.2f')} ms early for the transport)", response.response_latency,
            times(over_transport, "transport"))
        row("  its parts: the player's key-up to Duetto (one trip)", response.trip_in)
        row("  its parts: the first note leaves, after it was due", response.first_note_leaves_late)
        row("  its parts: the first note to the client (one trip)", response.trip_out)
        slower = response.over_uncompensated
        row("response latency, no transport compensation (baseline)",
            None if response.uncompensated is None else response.uncompensated.response_latency,
            times(None if slower is None else 1 / slower, "compensated"))
        row("note lateness at the sender (with inference load)", response.sender_lateness)
        row("note lateness at the receiving client (with inference load)", response.arrival_lateness)
    for steady in report.steadiness:
        load = f"{steady.busy_processes} busy processes" if steady.busy_processes else "no load"
        row(f"under {load}: answer's first note after it was due ({steady.phrases} phrases, MIDI Clock)",
            steady.answer_late)
        row(f"under {load}: the bot's beat against MIDI Clock's", steady.grid_offset)
        row(f"under {load}: the bot's notes at the client against their time", steady.note_timing)
        row(f"under {load}: spread of the bot's note timing (from its median)", steady.note_spread)
    hearing = report.hearing
    if hearing.key_event is not None:
        # against the main model's step at its largest context, the live cache's
        own = [step for step in steps if step.model == steps[0].model] if steps else []
        live = max(own, key=lambda step: step.context or 0).onnxruntime if own else Summary()
        longest = hearing.key_event.max_ms
        row(f"hearing a key event, {figure(hearing.notes_per_second, '.0f')} notes/s while the cache re-primed "
            f"{hearing.refreshes} times", hearing.key_event,
            "longest " + times(None if longest is None or not live.median_ms else longest / live.median_ms,
                               "a step"))
    for band in report.band:
        row(f"a band of {band.parts} composing {band.chunk_beats:g} beat ahead at {band.bpm:.0f} BPM "
            f"({band.notes_per_chunk:.1f} notes each)", band.compose,
            f"{100 * band.in_time_share:.1f}% within the {band.lead_ms:.0f} ms lead")
        if band.follow.n:
            row("the same band voicing its planned notes again after each melody note", band.follow)
    lines.append("")
    for throughput in report.throughput:
        single, batched = (figure(value, ",.0f") for value in (throughput.batch_1_tokens_per_second,
                                                                throughput.batched_tokens_per_second))
        unit = throughput.unit
        lines.append(f"throughput ({throughput.device}): {single} {unit}/s at batch 1"
                     + (f", {batched} {unit}/s at batch {throughput.batch}" if throughput.batch > 1 else ""))
    notochord = report.notochord
    if notochord is not None and notochord.unavailable is not None:
        lines.append(f"Notochord per event: not timed ({notochord.unavailable})")
    elif notochord is not None:
        event, heard = notochord.query_feed or Summary(), notochord.feed or Summary()
        lines.append(f"Notochord ({figure(notochord.parameters_millions, '.1f')} M parameters, PyTorch eager, 1 "
                     f"thread) per event: {figure(event.median_ms, '.2f')} ms median, "
                     f"{figure(event.p99_ms, '.2f')} ms p99 to draw and hear one; "
                     f"{figure(heard.median_ms, '.2f')} ms to hear one")
        for name, share in notochord.per_note_over_per_event.items():
            lines.append(f"  {name}: one note costs {times(share, 'Notochord per event', '.2f')}")
    if report.gpu_unavailable is not None:
        lines.append(f"GPU figures: none ({report.gpu_unavailable})")
    unavailable = {step.model: step.torch_unavailable for step in steps if step.torch_unavailable is not None}
    for name, reason in unavailable.items():
        lines.append(f"PyTorch baselines for {name}: unavailable ({reason})")
    if response is not None:
        lines.append(f"response p99 beyond the transport's median one-way latency: "
                     f"{figure(response.beyond_transport_p99_ms, '.3f', ' ms')}; unanswered phrases: "
                     f"{response.unanswered}; bot messages lost in transport: {response.messages_lost_in_transport}")
    if response is not None:
        lines.append(f"peak RSS of `duetto jam`: {figure(report.peak_rss_mb, '.0f', ' MB')}")
    for steady in report.steadiness:
        goal = None if jack is None or steady.answer_late.median_ms is None else \
            steady.answer_late.median_ms <= jack.period_ms + 5
        lines.append(f"{steady.busy_processes} busy processes: answers behind (notes left out) "
                     f"{steady.answers_cut_short}, said in {steady.lines_about_it} line(s); unanswered "
                     f"{steady.unanswered}; stuck notes {steady.stuck_notes}; bot messages lost in transport "
                     f"{steady.messages_lost_in_transport}; median answer within a period + 5 ms: "
                     f"{MISSING if goal is None else 'met' if goal else 'NOT MET'}")
    if report.jack_unavailable is not None:
        lines.append(f"real-port figures: unavailable ({report.jack_unavailable})")
    return "\n".join(lines)
