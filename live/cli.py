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
from pathlib import Path

from duetto.jam.config import ConfigError
from duetto.midi.files import MidiFileError
from duetto.midi.ports.base import PortError
from duetto.model.step_model import ModelError
from duetto.models import DEFAULT_MODEL
from duetto.offline.audio import AudioError
from duetto.voices.in_kind import TEXTURE_CHOICES
from duetto.voices.limits import Limits

PORT_CHECK_SECONDS = 0.5  # how often ports connected by name are checked for their program quitting


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
    parser.add_argument("--channel", type=int, default=1, help="MIDI channel the bot plays on, 1-16")
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
                     help="show mode, tempo, key, notes and timings live in the terminal")
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
                          help="also draw both tracks as a piano roll (prompt blue, continuation red)")
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
    demo.add_argument("--out", default="out/demo.mid", help="where to write the duet (default out/demo.mid)")
    demo.add_argument("--rounds", type=int, default=2, help="how many times the phrase is played")
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
        channel=args.channel - 1,
        input_channel=None if args.in_channel is None else args.in_channel - 1,
        passthrough=args.passthrough,
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
    from duetto.jam.view import TerminalView
    from duetto.midi.ports import open_backend
    from duetto.midi.ports.reconnect import KeptInput, KeptOutput

    check_live_options(args)  # before the model loads: bad input costs nothing
    backend = open_backend(args.backend, own_name=args.name)
    check_named_ports(backend, args)
    model = load_model(args)
    settings = jam_settings(args, model)
    if not args.no_transport_compensation:
        settings.compensate_transport(backend.transport_latency())
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    engine = None
    source = None
    view = None
    kept = []  # ports connected by name, reopened when their program comes back
    if args.output is None:
        output = backend.open_output(f"{args.name} Out", virtual=True)
    else:
        output = KeptOutput(backend, args.output, lambda: engine.request("panic"), log)
        kept.append(output)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    recording = SessionRecording() if args.record else None
    try:
        engine = Engine(model, output, settings, recording=recording, mode=make_mode(settings.mode))
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
            view = TerminalView(lambda: engine.status)
            view.start()
        while not stop.wait(PORT_CHECK_SECONDS):
            for port in kept:
                port.check()
    finally:
        if view is not None:
            view.stop()
        if source is not None:
            source.close()
        if engine is not None:
            engine.stop()
            if recording is not None:
                notes = recording.write(args.record, engine.session_seconds)
                print(f"duetto: recorded {notes} notes to {args.record}", file=sys.stderr)
        output.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
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
    from duetto.offline.generate import continue_midi, shown
    from duetto.offline.plots import piano_roll, write_png

    check_model_options(args)
    check_range("--seconds", args.seconds, 0.1, 3600)
    check_range("--show-seconds", args.show_seconds, 0, 36_000)
    check_writable("--out", args.out, (".mid", ".midi"))
    if args.plot:
        check_writable("--plot", args.plot, (".png",))
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
    tracks = shown(continued, args.show_seconds)
    if args.plot:
        write_png(args.plot, piano_roll(tracks))
        print(f"wrote {args.plot}")
    if args.wav:
        with tempfile.TemporaryDirectory() as folder:
            excerpt = Path(folder) / "shown.mid"
            write_midi(excerpt, tracks, programs=continued.score.programs)
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

    model = load_model(args)
    print(demo(model, jam_settings(args, model), args.backend, args.out, args.rounds))
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
        settings.steps, settings.phrases, settings.recompute_repeats = 200, 10, 5
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
    except (ModelError, PortError, MidiFileError, UsageError, AudioError, ConfigError, FileNotFoundError,
            ValueError) as error:
        print(f"duetto: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

