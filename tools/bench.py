"""`duetto bench latency`: where the time goes, measured, with baselines run in the same process.

1. Model step: one token through ONNX Runtime, against the same model in PyTorch eager, and against
   recomputing the whole context window per token (the classic recipe). The PyTorch figures need the
   `train` extra and the model's checkpoint; without them they are reported as unavailable.
2. Response latency over real virtual ports on a private JACK server (dummy driver): from the end of the
   phrase gap (the player's last note-off plus the gap) to the bot's first note-on arriving at an
   independent client, beside the transport's own one-way latency measured on the same server. Each
   answer is split into its parts (the key-up's trip in, the first note leaving, its trip out), and
   timed both as `duetto jam` sends it (early by JACK's mean transport time) and with no compensation.
3. Timing jitter: how late the bot's notes leave the scheduler and arrive at the client, compared with
   their intended times, while a second model session runs inference flat out on another thread.
4. Throughput of offline generation, one sequence and a batch.
5. Peak memory (VmHWM) of a real `duetto jam` process answering phrases.
6. Hearing while the context re-primes: how long each key event takes to be heard (the engine thread's
   work per event) while a fast line is played for long enough to fill the cache twice, against one
   model step; a re-prime done on the engine thread would show here as a stall of hundreds of steps.
7. Under load, as on a laptop running a DAW and synths: phrases answered while MIDI Clock runs into the
   bot, with every core kept busy by other processes at normal priority, against the same with none:
   how late each answer's first note comes after it was due, the bot's beat against the clock's, the
   spread of its notes' timing, answers that fell behind (notes left out), and stuck notes.

Figures are medians, 99th percentiles and maxima. Timed assertions never appear in tests; this is where
speed is judged.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from duetto.encodings import metrical
from duetto.jam.settings import JamSettings
from duetto.midi import messages
from duetto.midi.ports import open_backend
from duetto.midi.ports.base import Backend, PortError
from duetto.model.sampler import Sampler
from duetto.model.step_model import ModelError, StepModel
from duetto.music.notes import Note
from duetto.music.timeline import Timeline
from duetto.tools.bench_report import (Answers, BandSpeed, Hearing, Jack, LatencyReport, Machine, Notochord,
                                       Response, Steadiness, StepFigures, Summary, Throughput, ratio)
from duetto.tools.duet_rig import ClockSender, DuetRig, Player, wait_until
from duetto.tools.jack_server import PrivateJackServer
from duetto.tools.note_cost import NoteLoop, notochord_event_seconds, note_step_seconds

BENCH_GAP = 0.1
BENCH_RESPONSE_SECONDS = 0.3
ARRIVAL_WINDOW = 0.5  # a message not at the client half a second after it was sent counts as lost
BASELINES_ONCE = "run once, beside the first device's figures"  # why a second device's rows have none
CONTEXTS = (128, 256, 512)  # cache sizes at which a transformer's step is timed
HEARING_NOTES_PER_SECOND = 8.0  # the line played while hearing is timed: sixteenths at 120 BPM
LOAD_BPM = 120.0  # the MIDI Clock the bot follows while its steadiness is measured
LOAD_RESPONSE_SECONDS = 1.0  # answers long enough for the spread of their notes' timing
PARTS = ("steps", "throughput", "hearing", "band", "jack", "load")  # what a run measures (`--only`)


@dataclass
class BenchSettings:
    model: str
    checkpoint: str | None
    steps: int = 2000
    window: int = 256
    recompute_repeats: int = 50
    phrases: int = 200
    period: int = 64
    batch: int = 32
    hearing_notes: int = 240  # notes of the line played while hearing is timed (about 1,200 tokens)
    device: str = "auto"  # auto: the CPU, and CUDA beside it when ONNX Runtime can use a GPU here
    seed: int = 0
    step_models: list[str] = field(default_factory=list)  # models whose step is timed (the main one first)
    parts: tuple[str, ...] = PARTS  # 1-3 and 5 are "jack"


# -- 1. model step -------------------------------------------------------------------------------------
def closed_loop_step_times(model: StepModel, steps: int, seed: int, slots: int | None = None,
                           ) -> tuple[list[int], list[float]]:
    """Step the model on its own samples; returns the tokens fed and the time of each step. A cache of
    `slots` steps is re-started when full, as the live context re-primes it."""
    sampler = Sampler(seed=seed)
    capacity = slots or model.info.max_steps
    state, used = model.initial_state(slots=slots), 0
    token, tokens, times = 1, [], []
    for _ in range(steps):
        if capacity is not None and used == capacity:
            state, used = model.initial_state(slots=slots), 0
        started = time.perf_counter()
        logits, state = model.step(token, state)
        times.append(time.perf_counter() - started)
        used += 1
        tokens.append(token)
        token = sampler.sample(logits)
    return tokens, times


def bench_step(model: StepModel, checkpoint: str | None, settings: BenchSettings, slots: int | None = None,
               baselines: bool = True) -> StepFigures:
    """One model's step, in ONNX Runtime and (given its checkpoint, and `baselines`) in PyTorch, stepped
    and recomputed. `slots`: the size of a transformer's cache, which is also the window it recomputes."""
    steps = min(settings.steps, slots - 1) if slots else settings.steps
    tokens, ort_times = closed_loop_step_times(model, steps, settings.seed, slots)
    result = StepFigures(model.info.family, model.path.name, slots, model.provider, Summary.of(ort_times))
    reference = torch_reference(checkpoint) if baselines else BASELINES_ONCE
    if isinstance(reference, str):
        result.torch_unavailable = reference
        return result
    result.torch_eager = Summary.of(reference.step_seconds(tokens, model.initial_state(slots=slots), model.info.state))
    window = slots or settings.window
    window_tokens = (tokens * (window // max(1, len(tokens)) + 1))[:window]
    result.recompute_window = Summary.of(reference.recompute_seconds(window_tokens, window, settings.recompute_repeats))
    result.window_tokens = window
    return result


ONNX_TYPES = {"tensor(int64)": np.int64, "tensor(float)": np.float32, "tensor(int32)": np.int32}


def zero_feeds(model: StepModel) -> dict[str, np.ndarray]:
    """Every input besides the state, all zeros in the graph's shape (batch 1): enough to time a step
    whose cost does not depend on the values, as a recurrent cell's does not."""
    state_inputs = {spec.input for spec in model.info.state}
    return {item.name: np.zeros([dim if isinstance(dim, int) else 1 for dim in item.shape], ONNX_TYPES[item.type])
            for item in model.session.get_inputs() if item.name not in state_inputs}


def bench_feature_step(model: StepModel, settings: BenchSettings, baselines: bool = True) -> StepFigures:
    """The step of a family fed more than a token (melody, notes, biaxial), in ONNX Runtime and in
    PyTorch eager. Recomputing a window would need each family's own windows, so that baseline is left
    to the token families. A biaxial step is one key of one frame."""
    feeds, state, times = zero_feeds(model), model.initial_state(), []
    for _ in range(settings.steps):
        started = time.perf_counter()
        _, state = model.run(feeds, state)
        times.append(time.perf_counter() - started)
    result = StepFigures(model.info.family, model.path.name, None, model.provider, Summary.of(times),
                         inputs=sorted(feeds))
    if not baselines:
        result.torch_unavailable = BASELINES_ONCE
        return result
    try:
        from duetto.export.torch_reference import feature_step_seconds
    except ImportError as error:
        result.torch_unavailable = f"PyTorch baseline needs the train extra ({error.name} missing)"
        return result
    result.torch_eager = Summary.of(feature_step_seconds(model.info, settings.steps))
    return result


def bench_note_step(model: StepModel, settings: BenchSettings) -> StepFigures:
    """A metrical model's step, which is one whole note, closed loop at its live cache."""
    return StepFigures(model.info.family, model.path.name, model.info.max_steps, model.provider,
                       Summary.of(note_step_seconds(model, settings.steps, settings.seed)), per_note=True)


def bench_notochord(steps: list[StepFigures]) -> Notochord:
    """Notochord's cost per event beside the metrical models' cost per note, timed in this process."""
    timed = notochord_event_seconds()
    if isinstance(timed, str):
        return Notochord(unavailable=timed)
    query_feed, feed, millions = timed
    event = Summary.of(query_feed)
    return Notochord(millions, event, Summary.of(feed),
                     {step.model: ratio(step.onnxruntime, event) for step in steps if step.per_note})


def bench_devices(device: str, model_path: str) -> tuple[list[str], str | None]:
    """The devices to time steps and throughput on, and why the GPU is not among them (None if it is):
    `auto` is the CPU, with CUDA beside it whenever ONNX Runtime can really run a model there."""
    if device != "auto":
        return [device], None
    try:
        StepModel(model_path, device="cuda")
    except ModelError as error:
        return ["cpu"], str(error)
    return ["cpu", "cuda"], None


def bench_steps(settings: BenchSettings, devices: list[str]) -> list[StepFigures]:
    """The step of every model asked for on each device: a bounded-state model at each context size it
    can hold. The PyTorch baselines run once, beside the first device's figures."""
    results = []
    for device in devices:
        for path in settings.step_models:
            model = StepModel(path, device=device)
            if model.info.encoding == metrical.ENCODING_NAME:
                results.append(bench_note_step(model, settings))
                continue
            if model.info.inputs != ["token"]:
                results.append(bench_feature_step(model, settings, baselines=device == devices[0]))
                continue
            # the main model's checkpoint may be named; the others' lie beside them
            checkpoint = settings.checkpoint if path == settings.model else str(Path(path).with_suffix(".pt"))
            capacity = model.info.max_steps
            for slots in [None] if capacity is None else [c for c in CONTEXTS if c <= capacity]:
                results.append(bench_step(model, checkpoint, settings, slots, baselines=device == devices[0]))
    return results


def torch_reference(checkpoint: str | None):
    """The PyTorch baseline, or a one-line reason why it cannot run here."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return f"no checkpoint at {checkpoint} (pass --checkpoint best.pt)"
    try:
        from duetto.export.torch_reference import TorchReference
    except ImportError as error:
        return f"PyTorch baseline needs the train extra ({error.name} missing)"
    return TorchReference(checkpoint)


# -- 2 and 3. response latency and jitter over JACK -------------------------------------------------------
def one_way_transport(backend: Backend, count: int) -> list[float]:
    """Send notes straight from one client to another: the transport's own latency, no Duetto in between."""
    arrivals: dict[int, float] = {}
    probe = backend.open_input("Bench Probe", lambda message, stamp: arrivals.setdefault(message[1], stamp),
                               virtual=True)
    sender = backend.open_output("Bench Probe")
    time.sleep(DuetRig.SETTLE_SECONDS)
    rng = np.random.default_rng(0)
    latencies = []
    try:
        for index in range(count):
            arrivals.clear()
            pitch = index % 128
            sent = time.perf_counter()
            sender.send(messages.note_on(0, pitch, 64))
            deadline = sent + 0.05
            while pitch not in arrivals and time.perf_counter() < deadline:
                time.sleep(0)
            if pitch in arrivals:
                latencies.append(arrivals[pitch] - sent)
            sender.send(messages.note_off(0, pitch))
            time.sleep(rng.uniform(0.001, 0.004))  # land at different points of the JACK period
    finally:
        sender.close()
        probe.close()
    return latencies


class InferenceLoad:
    """A second model session stepping flat out on its own thread, as speculative generation would."""

    def __init__(self, model_path: str, device: str) -> None:
        self._model = StepModel(model_path, device=device)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-load", daemon=True)
        self.steps = 0
        self.error: Exception | None = None

    def _run(self) -> None:
        capacity = self._model.info.max_steps
        state, used, token = self._model.initial_state(), 0, 1
        notes = NoteLoop(self._model, 0) if self._model.info.encoding == metrical.ENCODING_NAME else None
        try:
            while not self._stop.is_set():
                if notes is not None:  # a metrical model draws a whole note a step
                    notes.step()
                    self.steps += 1
                    continue
                if used == capacity:  # a full cache starts afresh, as the live context re-primes it
                    state, used = self._model.initial_state(), 0
                logits, state = self._model.step(token, state)
                token = int(np.argmax(logits))
                used += 1
                self.steps += 1
        except Exception as error:  # noqa: BLE001 - handed to the benchmark, which must not go on without load
            self.error = error

    def __enter__(self) -> "InferenceLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"the inference load stopped: {self.error}") from self.error


def arrival_lateness(timeline, heard, compensation: float) -> tuple[list[float], int]:
    """For each message the scheduler sent, its arrival at the client minus the time it was meant to
    land (the scheduler aimed `compensation` earlier, to make up for the transport); and how many never
    arrived within ARRIVAL_WINDOW of being sent."""
    arrivals = defaultdict(deque)
    for item in heard:
        arrivals[item.message].append(item.stamp)
    lateness, lost = [], 0
    for intended, sent_at, message in timeline:
        if message is None:
            continue
        pending = arrivals[message]
        while pending and pending[0] < sent_at:
            pending.popleft()
        if pending and pending[0] - sent_at < ARRIVAL_WINDOW:
            lateness.append(pending.popleft() - (intended + compensation))
        else:
            lost += 1
    return lateness, lost


def answer_phrases(model: StepModel, settings: BenchSettings, backend: Backend, compensation: float) -> Answers:
    """Play phrases into a bot and time each answer: from the end of the phrase gap (the player's last
    key-up as sent, plus the gap) to the answer's first note at the client, split into its parts."""
    # free time: the engine's own latency, not the wait for the next beat of the pulse it would hear
    jam_settings = JamSettings(phrase_gap=BENCH_GAP, response_seconds=BENCH_RESPONSE_SECONDS,
                               seed=settings.seed, follow_player=False, latency_compensation=compensation)
    rig = DuetRig(backend, model, jam_settings, name="Bench")
    parts = {name: [] for name in ("response_latency", "trip_in", "first_note_leaves_late", "trip_out")}
    missed = 0
    try:
        with InferenceLoad(settings.model, settings.device) as load:
            for index in range(settings.phrases):
                root = 55 + index % 12
                phrase = [Note(0.0, 0.04, root, 90), Note(0.05, 0.09, root + 4, 80)]
                last_release = rig.player.play(phrase)
                rig.wait_until_answered(last_release, timeout=BENCH_GAP + BENCH_RESPONSE_SECONDS + 2.0)
                first = rig.recorder.first_note_on(since=last_release)
                engine = rig.engine
                if first is None or engine.mode.phrase_ended_at is None:
                    missed += 1
                else:
                    parts["response_latency"].append(first - (last_release + BENCH_GAP))
                    parts["trip_in"].append(engine.mode.phrase_ended_at - last_release)
                    due = engine.mode.phrase_ended_at + BENCH_GAP - compensation
                    parts["first_note_leaves_late"].append(engine.answer_began_at - due)
                    parts["trip_out"].append(first - engine.answer_began_at)
                time.sleep(0.02)
            load_steps = load.steps
    finally:
        rig.close()
    arrived, lost = arrival_lateness(list(rig.engine.scheduler.timeline), rig.recorder.heard, compensation)
    return Answers(compensation * 1000, **{name: Summary.of(values) for name, values in parts.items()},
                   sender_lateness=Summary.of(rig.engine.scheduler.lateness), arrival_lateness=Summary.of(arrived),
                   unanswered=missed, messages_lost_in_transport=lost, concurrent_inference_steps=load_steps)


def bench_response(model: StepModel, settings: BenchSettings, backend: Backend, transport: Summary) -> Response:
    """Answers as `duetto jam` plays them on JACK (sent early by the transport's mean trip, both ways),
    against the same bot with no compensation as the baseline, in the same run."""
    compensated = JamSettings()
    compensated.compensate_transport(backend.transport_latency())
    uncompensated = answer_phrases(model, settings, backend, 0.0)
    shipped = answer_phrases(model, settings, backend, compensated.latency_compensation)
    return Response(**vars(shipped), phrases=settings.phrases, phrase_gap_ms=BENCH_GAP * 1000,
                    uncompensated=uncompensated, transport_median_ms=transport.median_ms)


# -- 4. throughput --------------------------------------------------------------------------------------
def tokens_per_second(model: StepModel, batch: int, steps: int, seed: int) -> float:
    """Offline generation rate: `batch` sequences stepped together, each next token sampled from its row."""
    rng = np.random.default_rng(seed)
    state = model.initial_state(batch)
    tokens = np.ones(batch, dtype=np.int64)
    started = time.perf_counter()
    for _ in range(steps):
        logits, state = model.step_batch(tokens, state)
        tokens = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)  # Gumbel-max: one sample a row
    return steps * batch / (time.perf_counter() - started)


def bench_throughput(model: StepModel, settings: BenchSettings) -> Throughput:
    steps = max(50, settings.steps // 4)
    if model.info.encoding == metrical.ENCODING_NAME:  # a step is a note, drawn in the graph one sequence at a time
        seconds = note_step_seconds(model, steps, settings.seed)
        return Throughput(model.provider, len(seconds) / sum(seconds), 1, None, unit="notes")
    return Throughput(model.provider, tokens_per_second(model, 1, steps, settings.seed), settings.batch,
                      tokens_per_second(model, settings.batch, steps, settings.seed))


# -- 6. hearing while re-priming --------------------------------------------------------------------------
def bench_hearing(model: StepModel, settings: BenchSettings) -> Hearing:
    """Play a line into the model's voice in real time, as the engine thread would hear it (with its idle
    moments given to `prime_some`), and time each key event's hearing while the state re-primes; a model
    whose voice keeps no rolling state (a piano roll's) is not timed here."""
    from duetto.families import make_voice
    from duetto.jam.engine import PRIME_SLICE_TOKENS

    voice = make_voice(model, Sampler(seed=settings.seed))
    if not hasattr(voice, "rolling"):
        return Hearing(unavailable=f"a {model.info.family} voice keeps no rolling state")
    gap = 1.0 / HEARING_NOTES_PER_SECOND
    hearing, refreshes, was_refreshing = [], 0, False
    begun = time.perf_counter()
    for index in range(settings.hearing_notes):
        for offset, velocity in ((0.0, 90), (gap * 0.8, 0)):
            due = begun + index * gap + offset
            while time.perf_counter() < due:
                if voice.priming:
                    voice.prime_some(PRIME_SLICE_TOKENS)
                else:
                    time.sleep(min(0.002, max(0.0, due - time.perf_counter())))
            started = time.perf_counter()
            voice.hear(index * gap + offset, 60 + (index * 7) % 24, velocity)
            hearing.append(time.perf_counter() - started)
            refreshes += voice.rolling.refreshing and not was_refreshing
            was_refreshing = voice.rolling.refreshing
    voice.close()
    return Hearing(HEARING_NOTES_PER_SECOND, voice.rolling.steps_in_state, refreshes, Summary.of(hearing))


BAND_BPM = 140.0  # a brisk tempo: the band's composing has the least time
BAND_BEATS = 48


def bench_band(model: StepModel, settings: BenchSettings) -> list[BandSpeed]:
    """A three-part band accompanying a melody of eighth notes at BAND_BPM, composed half a beat ahead (as
    `jam --mode band` does) and a beat ahead, on one core: each chunk's composing time against its lead. Only
    a model that plays parts (a metrical one) has a band."""
    from duetto.jam.band import DEFAULT_PARTS, make_band
    from duetto.offline.band import accompany

    if model.info.family != "metrical":
        return []
    timeline = Timeline.steady(BAND_BPM)
    rng = np.random.default_rng(settings.seed)
    scale = [0, 2, 4, 5, 7, 9, 11]
    walk = np.abs(np.cumsum(rng.choice([-2, -1, 1, 2], size=2 * (BAND_BEATS + 8)))) % 14  # two octaves up from C5
    melody = [Note(timeline.seconds(index / 2), timeline.seconds(index / 2 + 0.45),
                   int(72 + 12 * (degree // 7) + scale[degree % 7]), 80) for index, degree in enumerate(walk)]
    band = make_band(DEFAULT_PARTS, None, None, 0, None).request(None)
    speeds = []
    for chunk in (0.5, 1.0):
        take = accompany(model, melody, timeline, band, 4.0, 4.0 + BAND_BEATS, Sampler(seed=settings.seed),
                         chunk_beats=chunk)
        lead = take.chunk_seconds
        speeds.append(BandSpeed(BAND_BPM, len(band.parts), chunk, Summary.of(take.compose_seconds), lead * 1000,
                                float(np.mean([seconds <= lead for seconds in take.compose_seconds])),
                                len(take.notes) / len(take.compose_seconds), Summary.of(take.follow_seconds)))
    return speeds


# -- 5. memory ------------------------------------------------------------------------------------------
def peak_rss_of_jam(backend: Backend, settings: BenchSettings) -> float:
    """Run a real `duetto jam`, let it answer three phrases, and read its peak resident memory (MB)."""
    name = f"Bench Jam {os.getpid()}"
    jam = subprocess.Popen([sys.executable, "-m", "duetto", "jam", "--backend", "jack", "--name", name, "--model",
                            settings.model, "--phrase-gap", "100", "--response-seconds", "0.5",
                            "--device", settings.device], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.perf_counter() + 30
        while not any(f"{name} In" in port for port in backend.output_names()):
            if jam.poll() is not None or time.perf_counter() > deadline:
                raise PortError(f"duetto jam did not open its ports: {jam.stderr.read()[-300:]}")
            time.sleep(0.1)
        port = backend.open_output(f"{name} In")
        time.sleep(DuetRig.SETTLE_SECONDS)
        player = Player(port)
        for root in (60, 62, 65):
            player.play([Note(0.0, 0.1, root, 90), Note(0.15, 0.3, root + 3, 90)])
            time.sleep(0.8)
        port.close()
        peak_kb = read_status_kb(jam.pid, "VmHWM")
    finally:
        jam.send_signal(signal.SIGINT)
        try:
            jam.wait(timeout=10)
        except subprocess.TimeoutExpired:
            jam.kill()
    return peak_kb / 1024


def read_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise PortError(f"/proc/{pid}/status has no {field}")


# -- 7. under load ---------------------------------------------------------------------------------------
class BusyCores:
    """Every core kept busy by a process of normal priority doing pure Python work, as a DAW and synths
    keep a laptop's: `with BusyCores(): ...`."""

    def __init__(self) -> None:
        self.count = os.cpu_count() or 2
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> "BusyCores":
        self._processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.count)]
        return self

    def __exit__(self, *exc_info) -> None:
        for process in self._processes:
            process.kill()
            process.wait()


def beat_offset(grid, clock: ClockSender, now: float) -> float:
    """Seconds from the clock's beat nearest the bot's next beat to that beat (positive: the bot is late)."""
    beat = clock.tick_seconds * 24
    ours = grid.next_beat(now)
    return ours - (clock.first_tick + round((ours - clock.first_tick) / beat) * beat)


def steadiness(model: StepModel, settings: BenchSettings, backend: Backend, compensation: float,
               busy: bool) -> Steadiness:
    """Play phrases into a bot following MIDI Clock, every core busy or not, and time what it plays."""
    lines: list[str] = []
    jam_settings = JamSettings(phrase_gap=BENCH_GAP, response_seconds=LOAD_RESPONSE_SECONDS, seed=settings.seed,
                               follow_player=False, latency_compensation=compensation)
    load = BusyCores() if busy else contextlib.nullcontext()
    with load:
        rig = DuetRig(backend, model, jam_settings, name="Bench Steady", log=lines.append)
        clock = ClockSender(backend.open_output("Bench Steady In"), LOAD_BPM).start()
        engine, late, offsets, missed = rig.engine, [], [], 0
        try:
            wait_until(lambda: engine.status is not None and engine.status.tempo_source == "midi clock", 10)
            for index in range(settings.phrases):
                root = 55 + index % 12
                last_release = rig.player.play([Note(0.0, 0.04, root, 90), Note(0.05, 0.09, root + 4, 80)])
                rig.wait_until_answered(last_release, timeout=BENCH_GAP + LOAD_RESPONSE_SECONDS + 3.0)
                first = rig.recorder.first_note_on(since=last_release)
                if first is None:
                    missed += 1
                else:
                    late.append(first - (engine.mode.answer_starts + compensation))
                status = engine.status
                if status is not None and status.grid is not None and status.tempo_source == "midi clock":
                    offsets.append(beat_offset(status.grid, clock, time.perf_counter()))
                time.sleep(0.02)
        finally:
            clock.stop()
            clock.port.close()
            rig.close()
    heard = rig.recorder.heard
    timing, _ = arrival_lateness(list(engine.scheduler.timeline), heard, compensation)
    middle = float(np.median(timing)) if timing else 0.0
    return Steadiness(load.count if busy else 0, settings.phrases, Summary.of(late), Summary.of(offsets),
                      Summary.of(timing), Summary.of(abs(value - middle) for value in timing),
                      answers_cut_short=engine.overruns.count,
                      lines_about_it=sum("fell behind" in line for line in lines), unanswered=missed,
                      stuck_notes=rig.recorder.unmatched_note_ons(all_notes_off_releases=False),
                      messages_lost_in_transport=rig.messages_lost_in_transport())


# -- the whole run ----------------------------------------------------------------------------------------
def machine() -> Machine:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return Machine(cpu, os.cpu_count(), platform.python_version(),
                   _version("onnxruntime") or _version("onnxruntime-gpu"))


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def run_latency_bench(settings: BenchSettings, command: str) -> LatencyReport:
    parts = settings.parts
    devices, no_gpu = bench_devices(settings.device, settings.model)
    model = StepModel(settings.model, device=settings.device)  # as `duetto jam` would run it
    report = LatencyReport(command, time.strftime("%Y-%m-%d %H:%M"), machine(), model.describe(), devices,
                           gpu_unavailable=no_gpu)
    if "steps" in parts:
        report.steps = bench_steps(settings, devices)
    if "throughput" in parts:
        report.throughput = [bench_throughput(StepModel(settings.model, device=device), settings) for device in devices]
    if "hearing" in parts:
        report.hearing = bench_hearing(model, settings)
    if "band" in parts:
        report.band = bench_band(model, settings)
    if any(step.per_note for step in report.steps):
        report.notochord = bench_notochord(report.steps)
    try:
        with PrivateJackServer(period=settings.period) as server:
            backend = open_backend("jack")
            transport = Summary.of(one_way_transport(backend, max(20, settings.phrases)))
            report.jack = Jack(server.rate, server.period, server.realtime, server.period_seconds * 1000, transport)
            if "jack" in parts:
                report.response = bench_response(model, settings, backend, transport)
                report.peak_rss_mb = peak_rss_of_jam(backend, settings)
            if "load" in parts:
                shipped = JamSettings()  # its notes sent early as `duetto jam` sends them
                shipped.compensate_transport(backend.transport_latency())
                report.steadiness = [steadiness(model, settings, backend, shipped.latency_compensation, busy)
                                     for busy in (False, True)]
    except PortError as error:
        report.jack_unavailable = str(error)
    return report
