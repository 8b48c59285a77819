"""`duetto`: the command line. Thin on purpose: parse, then call into the modules that do the work.

Runtime commands (jam, generate, ports, demo, panic) need only the runtime. The producer commands (data,
train, export) import the training side, which needs the `train` extra; without it they say so in one line.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

from duetto.jam.config import ConfigError
from duetto.jam.synth import SynthError
from duetto.midi.files import MidiFileError
from duetto.midi.messages import DRUM_CHANNEL
from duetto.midi.ports.base import PortError
from duetto.model.step_model import ModelError
from duetto.models import DEFAULT_MODEL
from duetto.offline.audio import AudioError
from duetto.offline.plots import PlotError
from duetto.voices.in_kind import TEXTURE_CHOICES
from duetto.voices.limits import Limits

PORT_CHECK_SECONDS = 0.5  # how often ports connected by name are checked for their program quitting
SYNTH_DEFAULT = "auto"  # `--synth` without a soundfont: the system's General MIDI one
SAID_LINES = 50  # what the jam says while the live view covers the terminal, printed after it


PRODUCERS = {"data": "build a training dataset (needs the train extra)",
             "train": "train a model (needs the train extra)",
             "export": "export a checkpoint to ONNX (needs the train extra)"}


class UsageError(Exception):
    """Bad input from the user, reported in one line."""


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="ONNX model (default: the shipped one)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where ONNX Runtime runs the model (auto: CUDA when usable)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass (default 0.95)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for repeatable answers")
    parser.add_argument("--lowest", type=int, default=21, help="lowest note the bot may play (MIDI number)")
    parser.add_argument("--highest", type=int, default=108, help="highest note the bot may play")
    parser.add_argument("--max-polyphony", type=int, default=6, help="most notes the bot holds at once")
    kind = parser.add_argument_group("the answer's kind (`duetto styles` lists what a model knows)")
    kind.add_argument("--style", default="auto",
                      help="a style the model was trained on, or auto (default): none is said, and the model "
                           "hears it in your playing")
    kind.add_argument("--texture", default="auto", choices=TEXTURE_CHOICES,
                      help="auto (default): the texture of your latest phrase, a line answers a line and chords "
                           "answer chords; free: the model's choice; or line, voices, chords")


def add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto",
                        help="MIDI system: auto, alsa, jack, coremidi, windows (or loopback for the demo)")
    parser.add_argument("--phrase-gap", type=float, default=600, metavar="MS",
                        help="silence that ends the player's phrase, in milliseconds (default 600)")
    parser.add_argument("--response-seconds", type=float, default=4.0, metavar="S",
                        help="length of each answer in seconds (default 4)")
    parser.add_argument("--channel", type=int, default=None,
                        help="MIDI channel the bot plays on, 1-16 (default 1; with --synth 2, apart from yours)")
    parser.add_argument("--in-channel", type=int, default=None, metavar="N",
                        help="listen to this MIDI channel only, 1-16 (default: all)")
    parser.add_argument("--passthrough", action="store_true",
                        help="send your playing (notes, pedals, bends, unmapped CCs) to the output too")
    parser.add_argument("--phrase-end", default="silence", metavar="HOW",
                        help="what ends your phrase: silence (default), pedal (sustain released), "
                             "cc:N (CC N pressed) or key:N (key N struck)")
    time_group = parser.add_argument_group("time (MIDI Clock is followed when it comes in)")
    time_group.add_argument("--bpm", type=float, default=None,
                            help="tempo when there is no MIDI Clock and your own pulse is unclear")
    time_group.add_argument("--free-time", action="store_true",
                            help="do not follow your pulse: answer the moment the phrase gap ends (MIDI Clock "
                                 "and --bpm still set a beat)")
    time_group.add_argument("--phrase-beats", type=float, default=None, metavar="BEATS",
                            help="silence that ends your phrase in beats, when a tempo is known")
    time_group.add_argument("--quantize", type=float, default=0.0, metavar="0-1",
                            help="pull the bot's notes onto the beat grid (0 off, 1 fully)")
    time_group.add_argument("--grid", type=int, default=4, metavar="STEPS",
                            help="grid lines per beat for --quantize (default 4: sixteenths)")
    time_group.add_argument("--swing", type=float, default=0.5, metavar="0.5-0.75",
                            help="where every second grid line falls in its pair (0.5 straight, 0.67 triplet)")
    time_group.add_argument("--humanize-ms", type=float, default=0.0, metavar="MS",
                            help="random timing spread of the bot's notes (standard deviation)")
    time_group.add_argument("--output-offset-ms", type=float, default=0.0, metavar="MS",
                            help="shift the bot's output in time; negative sends early for a slow synth")
    time_group.add_argument("--no-transport-compensation", action="store_true",
                            help="do not send the bot's notes early by JACK's mean MIDI transport time "
                                 "(one period: half on the way in, half on the way out)")
    music = parser.add_argument_group("music")
    music.add_argument("--key", default="auto",
                       help="the key, like C:major, A:minor, F#:dorian; auto hears it from your playing")
    music.add_argument("--scale-lock", action="store_true", help="the bot plays only notes of the key")
    music.add_argument("--density", type=float, default=1.0,
                       help="note density: below 1 sparser, above 1 busier (default 1)")
    music.add_argument("--velocity-follow", type=float, default=0.0, metavar="0-1",
                       help="how far the bot's dynamics follow yours (0: its own, 1: yours)")
    music.add_argument("--panic-keys", default=None, metavar="N,N",
                       help="MIDI note numbers that, held together, silence everything (e.g. 21,108)")


def add_port_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="Duetto",
                        help="name of the virtual ports, NAME In and NAME Out (default Duetto): two bots "
                             "side by side need two names")


def add_jam_options(jam: argparse.ArgumentParser) -> None:
    add_port_name_option(jam)
    jam.add_argument("--in", dest="input", default=None,
                     help="connect to this MIDI input instead of opening a virtual 'NAME In'")
    jam.add_argument("--out", dest="output", default=None,
                     help="connect to this MIDI output instead of opening a virtual 'NAME Out'")
    jam.add_argument("--record", default=None, metavar="FILE.mid",
                     help="write both parts of the session to a two-track MIDI file when it ends")
    jam.add_argument("--mode", default="call", choices=["call", "duet", "practice"],
                     help="call: answer each phrase (default); duet: play along continuously; "
                          "practice: play a phrase for you to echo, and score it")
    jam.add_argument("--view", action="store_true",
                     help="a full-screen live view to play from: the piano roll with the answer ahead of "
                          "time, tempo, key, the knobs and timings; keys for re-roll, undo, panic and more "
                          "(needs the view extra)")
    synth = jam.add_argument_group("a synth of its own (FluidSynth, for keyboard + laptop)")
    synth.add_argument("--synth", nargs="?", const=SYNTH_DEFAULT, default=None, metavar="SOUNDFONT",
                       help="start FluidSynth on the MIDI system in use and play both parts through it (your "
                            "notes pass through); SOUNDFONT: a .sf2 file (default: the system's General MIDI one)")
    synth.add_argument("--program", type=int, default=5, metavar="N",
                       help="the bot's General MIDI instrument, 1-128 (default 5, Electric Piano 1)")
    synth.add_argument("--player-program", type=int, default=1, metavar="N",
                       help="your instrument, 1-128 (default 1, Acoustic Grand Piano)")
    synth.add_argument("--synth-audio", default=None, metavar="DRIVER",
                       help="FluidSynth's audio driver: jack, pulseaudio, pipewire, alsa, coreaudio... (default: "
                            "jack on JACK, else coreaudio on macOS, pulseaudio where a server runs, else alsa)")
    add_live_options(jam)
    add_model_options(jam)


NOT_IN_CONFIG = {"help", "config", "preset"}


def jam_option_types() -> dict[str, type]:
    """Each `duetto jam` option a config file may set, by its name with underscores, and its type."""
    jam = argparse.ArgumentParser(add_help=False)
    add_jam_options(jam)
    return {action.dest: bool if action.nargs == 0 else action.type or str
            for action in jam._actions if action.dest not in NOT_IN_CONFIG}


def config_for(argv: list[str]):
    """The config file named by --config in a jam command line, and its --preset (None, None without)."""
    from duetto.jam.config import read_config

    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    early.add_argument("--preset")
    known, _ = early.parse_known_args(argv)
    if known.config is None:
        if known.preset is not None:
            raise UsageError("--preset needs --config FILE")
        return None, None
    return read_config(known.config, jam_option_types()), known.preset


def build_parser(jam_defaults: dict | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duetto", description="A real-time MIDI improvisation partner.")
    commands = parser.add_subparsers(dest="command", required=True)

    jam = commands.add_parser("jam", help="play call and response on MIDI ports")
    add_jam_options(jam)
    jam.add_argument("--config", default=None, metavar="FILE.toml",
                     help="read option defaults, CC mappings and presets from this file")
    jam.add_argument("--preset", default=None, help="a named preset of the config file")
    jam.set_defaults(**(jam_defaults or {}))

    learn = commands.add_parser("learn", help="map a control to the MIDI CC you move next")
    learn.add_argument("control", help="temperature, top_p, density, quantize, ..., or panic, reroll, undo")
    learn.add_argument("--config", default="duetto.toml", metavar="FILE.toml",
                       help="the config file to write the mapping to (default duetto.toml)")
    add_port_name_option(learn)
    learn.add_argument("--in", dest="input", default=None,
                       help="listen to this MIDI input instead of opening a virtual 'NAME In'")
    learn.add_argument("--backend", default="auto", help="MIDI system: auto (default), alsa, jack, coremidi, windows")
    learn.add_argument("--timeout", type=float, default=30.0, metavar="S",
                       help="how long to wait for a knob to move (default 30)")

    generate = commands.add_parser("generate", help="continue a MIDI file offline")
    generate.add_argument("--prompt", required=True, help="MIDI file to continue")
    generate.add_argument("--seconds", type=float, default=30.0,
                          help="length of the continuation in seconds, 0.1 to 3600 (default 30)")
    generate.add_argument("--out", required=True, help="MIDI file to write (prompt + continuation)")
    generate.add_argument("--plot", default=None, metavar="FILE.png",
                          help="also draw both tracks as a piano roll, as .png, .svg or .pdf (needs matplotlib: "
                               "pip install 'duetto[plot]')")
    generate.add_argument("--wav", default=None, metavar="FILE.wav",
                          help="also render the result to audio (needs FluidSynth and a GM soundfont)")
    generate.add_argument("--show-seconds", type=float, default=30.0, metavar="S",
                          help="how much of the prompt's end the picture and the audio cover before the "
                               "continuation, in seconds (default 30; the MIDI file always has it all)")
    generate.add_argument("--soundfont", default=None, help="soundfont for --wav (default: the system's GM one)")
    add_model_options(generate)

    styles = commands.add_parser("styles", help="list the styles and textures a model knows")
    styles.add_argument("--model", default=str(DEFAULT_MODEL), help="ONNX model (default: the shipped one)")

    ports = commands.add_parser("ports", help="list MIDI inputs and outputs")
    ports.add_argument("--backend", default="auto", help="auto, alsa, jack, coremidi or windows")

    demo = commands.add_parser("demo", help="run the live engine on a bundled phrase, headless")
    demo.add_argument("--out", default="out/demo.mid",
                      help="where to write the duet (default out/demo.mid); beside it go the duet as audio "
                           "(.wav, when FluidSynth is installed) and as a piano roll (.png, needs matplotlib)")
    demo.add_argument("--rounds", type=int, default=2, help="how many times the phrase is played")
    demo.add_argument("--soundfont", default=None, help="soundfont for the .wav (default: the system's GM one)")
    add_live_options(demo)
    add_model_options(demo)

    panic = commands.add_parser("panic", help="silence a MIDI output: note-offs and All Notes Off everywhere")
    panic.add_argument("--out", dest="output", required=True,
                       help="the synth or DAW port the bot was playing into")
    panic.add_argument("--backend", default="auto", help="MIDI system: auto (default), alsa, jack, coremidi, windows")

    bench = commands.add_parser("bench", help="measure latency or quality (see docs/benchmarks.md)")
    kinds = bench.add_subparsers(dest="what", required=True)
    latency = kinds.add_parser("latency", help="model step, response latency, jitter, throughput, memory")
    latency.add_argument("--model", default=str(DEFAULT_MODEL), help="ONNX model to time (default: the shipped one)")
    latency.add_argument("--checkpoint", default=str(DEFAULT_MODEL.with_suffix(".pt")),
                         help="the model's PyTorch checkpoint, for the PyTorch baselines")
    latency.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                         help="auto: the CPU, and the GPU beside it in the same run when CUDA is usable")
    latency.add_argument("--steps", type=int, default=2000, help="model steps timed")
    latency.add_argument("--phrases", type=int, default=200, help="phrases answered over JACK")
    latency.add_argument("--period", type=int, default=64, help="JACK period in frames at 48 kHz")
    latency.add_argument("--quick", action="store_true", help="a short smoke run (CI): few steps and phrases")
    latency.add_argument("--also", nargs="*", default=None, metavar="MODEL",
                         help="more models whose step to time (default: models/families/*.onnx); "
                              "each one's PyTorch baseline needs its .pt beside it")
    latency.add_argument("--json", default=None, help="also write the figures to this JSON file")
    quality = kinds.add_parser("quality", help="the model families compared on held-out music")
    quality.add_argument("--models", nargs="+", default=None,
                         help="ONNX models (default: models/default.onnx and models/families/*.onnx)")
    quality.add_argument("--data", default="data/all",
                         help="dataset folder whose test split is held out (default data/all, from "
                              "`duetto data build music21:all --out data/all`)")
    quality.add_argument("--pieces", type=int, default=38,
                         help="held-out pieces of each style to continue and score, at most (default 38)")
    quality.add_argument("--prompt-seconds", type=float, default=8.0,
                         help="seconds of each held-out piece given as the call (default 8)")
    quality.add_argument("--seconds", type=float, default=8.0,
                         help="length of each continuation in seconds (default 8)")
    quality.add_argument("--seed", type=int, default=0, help="random seed of the continuations (default 0)")
    quality.add_argument("--json", default=None, help="also write the figures to this JSON file")
    quality.add_argument("--markdown", default=None, help="also write the table to this markdown file")

    for name, help_text in PRODUCERS.items():  # listed for --help; their arguments are parsed in train.cli
        commands.add_parser(name, help=help_text)
    return parser


def load_model(args: argparse.Namespace):
    from duetto.model.step_model import StepModel

    model = StepModel(args.model, device=args.device, threads=args.threads)
    check_style(getattr(args, "style", "auto"), model)
    print(f"duetto: {model.describe()}", file=sys.stderr)
    # what exists now lives for the whole session: keep the collector from walking it mid-phrase
    gc.collect()
    gc.freeze()
    return model


def check_style(style: str, model) -> None:
    """A style must be one the model was trained on (auto always is)."""
    known = model.info.styles
    if style != "auto" and style not in known:
        listed = ", ".join(known) if known else "none: it was trained before styles (use auto)"
        raise UsageError(f"--style {style!r}: {model.path.name} knows {listed}")


def run_styles(args: argparse.Namespace) -> int:
    from duetto.model.step_model import StepModel

    model = StepModel(args.model, device="cpu")
    styles = model.info.styles
    print(f"{model.path.name} ({model.info.family}, {model.info.encoding} v{model.info.encoding_version})")
    print("styles: " + (", ".join(["auto", *styles]) if styles else "auto only (trained before styles)"))
    print("textures: " + ", ".join(TEXTURE_CHOICES))
    return 0


def check_model_options(args: argparse.Namespace) -> None:
    """The options every command that plays a model shares, each in its range."""
    check_range("--threads", args.threads, 1, 64)
    check_range("--temperature", args.temperature, 0, 5)
    check_range("--top-p", args.top_p, 0.01, 1)
    check_range("--max-polyphony", args.max_polyphony, 1, 32)
    make_limits(args)


def check_named_ports(backend, args: argparse.Namespace) -> None:
    """The ports named by --in and --out exist (or one line lists those that do), before anything loads."""
    from duetto.midi.ports.base import match_port

    if getattr(args, "input", None) is not None:
        match_port(args.input, backend.input_names(), "input")
    if getattr(args, "output", None) is not None:
        match_port(args.output, backend.output_names(), "output")


def make_limits(args: argparse.Namespace) -> Limits:
    if not 0 <= args.lowest <= args.highest <= 127:
        raise UsageError(f"--lowest {args.lowest} / --highest {args.highest}: need 0 <= lowest <= highest <= 127")
    return Limits(lowest=args.lowest, highest=args.highest, max_polyphony=args.max_polyphony)


def check_range(option: str, value: float | None, lowest: float, highest: float) -> None:
    if value is not None and not lowest <= value <= highest:
        raise UsageError(f"{option} {value:g}: use a value from {lowest:g} to {highest:g}")


def parse_panic_keys(text: str | None) -> frozenset[int]:
    if text is None:
        return frozenset()
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or not all(part.isdigit() and int(part) < 128 for part in parts):
        raise UsageError(f"--panic-keys {text!r}: give two or more MIDI note numbers, like 21,108")
    return frozenset(int(part) for part in parts)


def check_live_options(args: argparse.Namespace) -> None:
    """Every live option in its range: one line naming the first that is not, before any work starts."""
    from duetto.jam.controls import parse_phrase_end
    from duetto.music.key import parse_key

    check_model_options(args)
    check_range("--channel", args.channel, 1, 16)
    check_range("--in-channel", args.in_channel, 1, 16)
    check_range("--bpm", args.bpm, 20, 400)
    check_range("--phrase-beats", args.phrase_beats, 0.25, 64)
    check_range("--quantize", args.quantize, 0, 1)
    check_range("--grid", args.grid, 1, 12)
    check_range("--swing", args.swing, 0.5, 0.75)
    check_range("--humanize-ms", args.humanize_ms, 0, 100)
    check_range("--output-offset-ms", args.output_offset_ms, -500, 500)
    check_range("--density", args.density, 0.05, 20)
    check_range("--velocity-follow", args.velocity_follow, 0, 1)
    check_range("--phrase-gap", args.phrase_gap, 1, 60_000)
    check_range("--response-seconds", args.response_seconds, 0.1, 600)
    parse_phrase_end(args.phrase_end)
    parse_panic_keys(args.panic_keys)
    if args.key.strip().lower() != "auto":
        parse_key(args.key)


def bot_channel(args: argparse.Namespace) -> int:
    """The bot's channel, 1-16: the one asked for, else 1; with --synth, else the first apart from the
    player's (--in-channel, or 1 where keyboards play) and the drums', so each part keeps its instrument."""
    if args.channel is not None:
        return args.channel
    if getattr(args, "synth", None) is None:
        return 1
    player = args.in_channel or 1
    return next(channel for channel in range(1, 17) if channel not in (player, DRUM_CHANNEL + 1))


def check_jam_extras(args: argparse.Namespace) -> tuple[str, Path] | None:
    """What --view and --synth need, there before any work starts (or one line saying how to get it):
    Textual; FluidSynth and a soundfont, returned for `start_synth`."""
    from duetto.jam.synth import find_fluidsynth
    from duetto.offline.audio import find_soundfont

    if args.view:
        try:
            import textual  # noqa: F401
        except ImportError:
            raise UsageError("--view needs Textual, which is not installed: pip install 'duetto[view]'") from None
    if args.synth is None:
        return None
    if args.output is not None:
        raise UsageError("--synth plays into a FluidSynth of its own: leave out --out")
    check_range("--program", args.program, 1, 128)
    check_range("--player-program", args.player_program, 1, 128)
    return find_fluidsynth(), find_soundfont(None if args.synth == SYNTH_DEFAULT else args.synth)


def start_synth(args: argparse.Namespace, backend, setup: tuple[str, Path], settings):
    """FluidSynth on the MIDI system in use, Duetto's output connected to it and each part's instrument
    chosen on its channels; returns (synth, output)."""
    from duetto.jam.synth import FluidSynth, audio_driver, program_changes

    program, soundfont = setup
    audio = args.synth_audio or audio_driver(backend.name)
    known = backend.output_names()
    synth = FluidSynth(program, soundfont, backend.name, audio, f"{args.name} Synth")
    try:
        output = backend.open_output(synth.wait_for_port(backend.output_names, known))
    except BaseException:
        synth.close()
        raise
    players = range(16) if settings.input_channel is None else [settings.input_channel]
    for message in program_changes(settings.channel, args.program - 1, players, args.player_program - 1):
        output.send(message)
    print(f"duetto: FluidSynth (pid {synth.pid}) plays {soundfont.name} on channel {settings.channel + 1} "
          f"(program {args.program}) and yours (program {args.player_program}); its sound goes to {audio}",
          file=sys.stderr)
    return synth, output


def jam_settings(args: argparse.Namespace, model):
    from duetto.jam.controls import parse_phrase_end
    from duetto.jam.settings import JamSettings
    from duetto.music.groove import Feel
    from duetto.music.key import parse_key

    check_live_options(args)
    defaults = model.info.defaults
    limits = make_limits(args)
    limits.density = args.density
    return JamSettings(
        phrase_gap=args.phrase_gap / 1000.0,
        phrase_beats=args.phrase_beats,
        phrase_end=parse_phrase_end(args.phrase_end),
        response_seconds=args.response_seconds,
        temperature=defaults.get("temperature", 1.0) if args.temperature is None else args.temperature,
        top_p=defaults.get("top_p", 0.95) if args.top_p is None else args.top_p,
        seed=args.seed,
        channel=bot_channel(args) - 1,
        input_channel=None if args.in_channel is None else args.in_channel - 1,
        passthrough=args.passthrough or getattr(args, "synth", None) is not None,
        velocity_follow=args.velocity_follow,
        bpm=args.bpm, follow_player=not args.free_time,
        key=None if args.key.strip().lower() == "auto" else parse_key(args.key),
        scale_lock=args.scale_lock,
        feel=Feel(quantize=args.quantize, swing=args.swing, steps_per_beat=args.grid,
                  humanize_ms=args.humanize_ms, output_offset=args.output_offset_ms / 1000.0),
        panic_keys=parse_panic_keys(args.panic_keys),
        cc_map=getattr(args, "cc_map", {}),
        mode=getattr(args, "mode", "call"),
        style=args.style,
        texture=args.texture,
        style_choices=("auto", *model.info.styles),
        limits=limits,
    )


def run_jam(args: argparse.Namespace) -> int:
    from duetto.jam.engine import Engine
    from duetto.jam.modes import make_mode
    from duetto.jam.recording import SessionRecording
    from duetto.jam.synth import midi_driver
    from duetto.midi.ports import open_backend
    from duetto.midi.ports.reconnect import KeptInput, KeptOutput

    check_live_options(args)  # before the model loads: bad input costs nothing
    synth_setup = check_jam_extras(args)
    backend = open_backend(args.backend, own_name=args.name)
    check_named_ports(backend, args)
    if synth_setup is not None:
        midi_driver(backend.name)  # a MIDI system FluidSynth can be started on
    model = load_model(args)
    settings = jam_settings(args, model)
    if not args.no_transport_compensation:
        settings.compensate_transport(backend.transport_latency())
    said: deque[str] = deque(maxlen=SAID_LINES)  # with the view on screen, what the jam says waits here
    log = said.append if args.view else lambda line: print(line, file=sys.stderr)
    engine = None
    source = None
    output = None
    synth = None
    kept = []  # ports connected by name, reopened when their program comes back
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    recording = SessionRecording() if args.record else None

    def chores() -> None:
        for port in kept:
            port.check()
        if synth is not None:
            synth.check()

    try:
        if synth_setup is not None:
            synth, output = start_synth(args, backend, synth_setup, settings)
        elif args.output is None:
            output = backend.open_output(f"{args.name} Out", virtual=True)
        else:
            output = KeptOutput(backend, args.output, lambda: engine.request("panic"), log)
            kept.append(output)
        engine = Engine(model, output, settings, log=log, recording=recording, mode=make_mode(settings.mode))
        if args.input is None:
            source = backend.open_input(f"{args.name} In", engine.receive, virtual=True)
        else:
            source = KeptInput(backend, args.input, engine.receive, engine.player_port_lost, log)
            kept.append(source)
        engine.start()
        early = (f", notes sent {1000 * settings.latency_compensation:.2f} ms early for the transport"
                 if settings.latency_compensation else "")
        print(f"duetto: listening on {source.name!r}, answering on {output.name!r} ({backend.name}{early}); "
              f"Ctrl-C to stop", file=sys.stderr)
        if args.view:
            from duetto.jam.view import run_view

            run_view(engine, stop, chores, said)
        else:
            while not stop.wait(PORT_CHECK_SECONDS):
                chores()
    finally:
        if source is not None:
            source.close()
        if engine is not None:
            engine.stop()
            if recording is not None:
                notes = recording.write(args.record, engine.session_seconds)
                print(f"duetto: recorded {notes} notes to {args.record}", file=sys.stderr)
        if output is not None:
            output.close()
        if synth is not None:
            synth.close()  # after the engine's last note-offs reached it
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for line in said if args.view else ():  # what the view showed, kept once it is gone
            print(line, file=sys.stderr)
    summary = engine.mode.summary()
    if summary:
        print(summary)
    stats = engine.stats
    print(f"duetto: stopped; {stats.notes_in} notes heard, {stats.answers} answers, "
          f"{stats.notes_out} notes played, {stats.barge_ins} barge-ins", file=sys.stderr)
    return 0


def run_learn(args: argparse.Namespace) -> int:
    from duetto.jam.config import Config, read_config, write_config
    from duetto.jam.controls import check_name
    from duetto.jam.learn import listen_for_cc
    from duetto.midi.ports import open_backend

    name = check_name(args.control)
    path = Path(args.config)
    config = read_config(path, jam_option_types()) if path.exists() else Config()
    backend = open_backend(args.backend, own_name=args.name)
    port = args.input or f"{args.name} In"
    print(f"duetto: move the knob, fader or pedal for {name} (listening on {port!r}, {backend.name})",
          file=sys.stderr)
    number = listen_for_cc(backend, port, virtual=args.input is None, timeout=args.timeout)
    if number is None:
        raise UsageError(f"no control change arrived in {args.timeout:g} s; nothing was mapped")
    replaced = [other for other, mapped in config.cc.items() if mapped == number and other != name]
    for other in replaced:
        del config.cc[other]
    config.cc[name] = number
    write_config(path, config)
    note = f" (it was mapped to {', '.join(replaced)})" if replaced else ""
    print(f"duetto: {name} is now CC {number}{note}; saved in {path}")
    return 0


def check_writable(option: str, path: str, suffixes: tuple[str, ...]) -> None:
    """An output file's name and folder, checked before any work: the right kind of name, and a folder
    that exists (or can be made) and may be written in."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: name it {' or '.join(suffixes)}")
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder")
    folder = next(parent for parent in [target.parent.absolute(), *target.parent.absolute().parents] if parent.exists())
    try:  # the only sure test, whoever the user is: write something there
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        raise UsageError(f"{option} {path}: cannot write in {folder}") from None


def run_generate(args: argparse.Namespace) -> int:
    from duetto.midi.files import write_midi
    from duetto.offline.audio import find_renderer, render_wav
    from duetto.offline.generate import continuation_figure, continue_midi, shown
    from duetto.offline.plots import PICTURE_SUFFIXES, require_matplotlib, save_figure

    check_model_options(args)
    check_range("--seconds", args.seconds, 0.1, 3600)
    check_range("--show-seconds", args.show_seconds, 0, 36_000)
    check_writable("--out", args.out, (".mid", ".midi"))
    if args.plot:
        check_writable("--plot", args.plot, PICTURE_SUFFIXES)
        require_matplotlib()
    if args.wav:
        check_writable("--wav", args.wav, (".wav",))
        find_renderer(args.soundfont)  # say what is missing before generating, not after
    if not Path(args.prompt).is_file():
        raise UsageError(f"--prompt {args.prompt}: no such file")
    model = load_model(args)
    defaults = model.info.defaults
    continued = continue_midi(
        model, args.prompt, args.out, args.seconds,
        temperature=defaults.get("temperature", 1.0) if args.temperature is None else args.temperature,
        top_p=defaults.get("top_p", 0.95) if args.top_p is None else args.top_p,
        seed=args.seed, limits=make_limits(args), style=args.style, texture=args.texture)
    print(continued.summary)
    if args.plot:
        save_figure(continuation_figure(continued, args.show_seconds, Path(args.prompt).name), args.plot)
        print(f"wrote {args.plot}")
    if args.wav:
        with tempfile.TemporaryDirectory() as folder:
            excerpt = Path(folder) / "shown.mid"
            write_midi(excerpt, shown(continued, args.show_seconds), programs=continued.score.programs)
            render_wav(excerpt, args.wav, args.soundfont)
        print(f"wrote {args.wav}")
    return 0


def run_ports(args: argparse.Namespace) -> int:
    from duetto.midi.ports import open_backend

    backend = open_backend(args.backend)
    print(f"backend: {backend.name}")
    print("inputs (Duetto can listen to):")
    for name in backend.input_names():
        print(f"  {name}")
    print("outputs (Duetto can play into):")
    for name in backend.output_names():
        print(f"  {name}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from duetto.tools.demo import run_demo as demo

    check_writable("--out", args.out, (".mid", ".midi"))
    model = load_model(args)
    print(demo(model, jam_settings(args, model), args.backend, args.out, args.rounds, args.soundfont))
    return 0


def run_panic(args: argparse.Namespace) -> int:
    from duetto.midi.messages import panic_everything
    from duetto.midi.ports import open_backend

    backend = open_backend(args.backend)
    output = backend.open_output(args.output)
    try:
        for message in panic_everything():
            output.send(message)
    finally:
        output.close()
    print(f"duetto: sent note-offs and All Notes Off on all 16 channels of {output.name!r}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    if args.what == "quality":
        return run_quality_bench(args)
    from duetto.tools.bench import BenchSettings, format_report, run_latency_bench, write_json

    also = family_models() if args.also is None else args.also
    settings = BenchSettings(model=args.model, checkpoint=args.checkpoint, steps=args.steps,
                             phrases=args.phrases, period=args.period, device=args.device,
                             step_models=[args.model] + also)
    if args.quick:
        settings.steps, settings.phrases, settings.recompute_repeats, settings.hearing_notes = 200, 10, 5, 40
    report = run_latency_bench(settings, command="duetto " + " ".join(sys.argv[1:]))
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return 0


def family_models() -> list[str]:
    """The shipped models of the other families, beside the default one."""
    return sorted(str(path) for path in (DEFAULT_MODEL.parent / "families").glob("*.onnx"))


def run_quality_bench(args: argparse.Namespace) -> int:
    from duetto.tools.quality import QualitySettings, format_quality, write_quality
    from duetto.tools.quality import run_quality_bench as bench

    models = args.models or [str(DEFAULT_MODEL)] + family_models()
    settings = QualitySettings(models=models, data=args.data, pieces=args.pieces,
                               prompt_seconds=args.prompt_seconds, seconds=args.seconds, seed=args.seed)
    report = bench(settings, command="duetto " + " ".join(sys.argv[1:]))
    print(format_quality(report))
    write_quality(report, args.json, args.markdown)
    return 0


def run_producer(command: str, rest: list[str]) -> int:
    try:
        from duetto.train.cli import main as producer_main
    except ImportError as error:
        raise UsageError(f"`duetto {command}` needs the training extra ({error.name} is missing): "
                         "pip install 'duetto[train]'") from None
    return producer_main(command, rest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Python hands the interpreter between threads every 5 ms by default; the scheduler cannot wait that long
    sys.setswitchinterval(0.0005)
    runners = {"jam": run_jam, "learn": run_learn, "generate": run_generate, "ports": run_ports,
               "demo": run_demo, "panic": run_panic, "bench": run_bench,
               "styles": run_styles}
    try:
        if argv and argv[0] in PRODUCERS:
            return run_producer(argv[0], argv[1:])
        config, preset = config_for(argv[1:]) if argv and argv[0] == "jam" else (None, None)
        args = build_parser(config.options(preset) if config else None).parse_args(argv)
        if config is not None:
            args.cc_map = config.cc_map()
        return runners[args.command](args)
    except (ModelError, PortError, MidiFileError, UsageError, AudioError, PlotError, ConfigError, SynthError,
            FileNotFoundError, ValueError) as error:
        print(f"duetto: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

