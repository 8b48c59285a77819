"""`duetto`: the command line. Thin on purpose: it declares the commands, and each runner checks its
options (duetto.jam.options), builds the pieces and hands them over.

Runtime commands (jam, generate, ports, demo, panic) need only the runtime. The producer commands (data,
train, export) import the training side, which needs the `train` extra; without it they say so in one line.
A `DuettoError` is the user's to fix and prints as one line (status 1); anything else is a bug, and shows
as one.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from duetto.errors import DuettoError, UsageError, usage
from duetto.jam.options import add_jam_options, add_live_options, add_model_options, add_port_name_option
from duetto.midi.files import MidiFileError, MidiScore
from duetto.model.step_model import StepModel
from duetto.models import DEFAULT_MODEL
from duetto.voices.in_kind import TEXTURE_CHOICES

if TYPE_CHECKING:
    from duetto.jam.prompt import Prompt
    from duetto.jam.settings import JamSettings
    from duetto.model.sampler import Sampler

PRODUCERS = {"data": "build a training dataset (needs the train extra)",
             "train": "train a model (needs the train extra)",
             "export": "export a checkpoint to ONNX (needs the train extra)"}
# what the user can fix: MidiFileError too, until duetto.midi.files (another branch's) takes DuettoError as its base
USER_ERRORS = (DuettoError, MidiFileError)


def say(line: str) -> None:
    print(line, file=sys.stderr)


def build_parser(jam_defaults: dict | None = None) -> argparse.ArgumentParser:
    """Every command and its options; `jam_defaults` (a config file's) replace the built-in defaults."""
    parser = argparse.ArgumentParser(prog="duetto", description="A real-time MIDI improvisation partner.")
    commands = parser.add_subparsers(dest="command", required=True)

    jam = commands.add_parser("jam", help="play call and response on MIDI ports")
    add_jam_options(jam)
    jam.add_argument("--config", default=None, metavar="FILE.toml",
                     help="read option defaults, CC mappings and presets from this file")
    jam.add_argument("--preset", default=None, help="a named preset of the config file")
    jam.set_defaults(**{"cc_map": {}, **(jam_defaults or {})})

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
    generate.add_argument("--band", nargs="?", const="bass,chords,line", default=None, metavar="PARTS",
                          help="instead of continuing it, accompany the file's melody (its top part) with a band "
                               "as `jam --mode band` would, beat by beat: bass, chords and line by default")
    add_model_options(generate)

    score = commands.add_parser("score", help="bits per note of MIDI files through a model (a yardstick)")
    score.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER", help="MIDI files, or folders of them")
    score.add_argument("--model", default=str(DEFAULT_MODEL), help="ONNX model (default: the shipped one)")
    score.add_argument("--per-part", action="store_true", help="one line per MIDI channel instead of per file")
    score.add_argument("--style", default="auto", help="the style to tell the model (default: none said)")
    score.add_argument("--json", default=None, metavar="FILE.json", help="also write the lines as JSON")

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
    latency.add_argument("--only", nargs="+", default=None,
                         choices=["steps", "throughput", "hearing", "band", "jack", "load"],
                         help="measure only these parts (default all): model steps, throughput, hearing, a band "
                              "composing ahead of the beat, the answers over JACK with peak memory, steadiness "
                              "with and without load")
    latency.add_argument("--json", default=None, help="also write the figures to this JSON file")
    soak = kinds.add_parser("soak", help="a long session with the view on: memory, step time, stuck notes")
    soak.add_argument("--minutes", type=float, default=60.0, help="how long the player plays (default 60)")
    soak.add_argument("--seed", type=int, default=0, help="the player's phrases and the bot's (default 0)")
    soak.add_argument("--json", default=None, help="also write the figures to this JSON file")
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
    quality.add_argument("--band-pieces", type=int, default=6,
                         help="held-out band pieces of each band style to accompany with a metrical model's band "
                              "(default 6; 0: none)")
    quality.add_argument("--json", default=None, help="also write the figures to this JSON file")
    quality.add_argument("--markdown", default=None, help="also write the table to this markdown file")

    for name, help_text in PRODUCERS.items():  # listed for --help; their arguments are parsed in train.cli
        commands.add_parser(name, help=help_text)
    return parser


def play_in_time() -> None:
    """Python hands the interpreter between threads every 5 ms by default; a bot playing live cannot wait
    that long for its scheduler and its ports."""
    sys.setswitchinterval(0.0005)


def load_model(args: argparse.Namespace) -> StepModel:
    model = StepModel(args.model, device=args.device, threads=args.threads)
    say(f"duetto: {model.describe()}")
    # what exists now lives for the whole session: keep the collector from walking it mid-phrase
    gc.collect()
    gc.freeze()
    return model


def config_for(argv: list[str]):
    """The config file named by --config in a jam command line, and its --preset (None, None without)."""
    from duetto.jam.config import read_config
    from duetto.jam.options import jam_option_types

    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    early.add_argument("--preset")
    known, _ = early.parse_known_args(argv)
    if known.config is None:
        if known.preset is not None:
            raise UsageError("--preset needs --config FILE")
        return None, None
    return read_config(known.config, jam_option_types()), known.preset


def run_jam(args: argparse.Namespace) -> int:
    from duetto.jam.options import check_jam_extras, check_named_ports, fit_to_model, live_settings
    from duetto.jam.session import JamSession
    from duetto.offline.generate import read_prompt
    from duetto.jam.synth import midi_driver
    from duetto.midi.ports import open_backend

    extras = check_jam_extras(args)  # every option, before the model loads: bad input costs nothing
    settings = live_settings(args, synth=extras.synth is not None, mode=args.mode, cc_map=args.cc_map)
    score = None if args.prompt is None else read_prompt(args.prompt, lambda line: say(f"duetto: {line}"))
    backend = open_backend(args.backend, own_name=args.name)
    check_named_ports(backend, args.input, args.output)
    if extras.synth is not None:
        midi_driver(backend.name)  # a MIDI system FluidSynth can be started on
    model = load_model(args)
    fit_to_model(settings, args, model)
    prompt = None if score is None else jam_prompt(args.prompt, score, model, settings)
    if not args.no_transport_compensation:
        settings.compensate_transport(backend.transport_latency())
    play_in_time()
    with JamSession(backend, model, settings, name=args.name, input=args.input, output=args.output,
                    synth=extras.synth, record=extras.record, view=args.view, link=extras.link,
                    osc=extras.osc, prompt=prompt, stop_on_signals=True, jack_wait=args.jack_wait) as session:
        say(f"duetto: {session.describe()}; Ctrl-C to stop")
        session.run()
    engine = session.engine
    summary = engine.mode.summary()
    if summary:
        print(summary)
    stats = engine.stats
    say(f"duetto: stopped; {stats.notes_in} notes heard, {stats.answers} answers, "
        f"{stats.notes_out} notes played, {stats.barge_ins} barge-ins")
    return 0


def jam_prompt(path: str, score: MidiScore, model: StepModel, settings: JamSettings) -> Prompt:
    """What the bot hears of `--prompt` before the first key (as `generate` would), and its tempo as the
    jam's, unless --bpm names one; said in one line."""
    from duetto.jam.prompt import Prompt
    from duetto.offline.generate import hear_of

    notes, heard, timeline, grid = hear_of(score, model)
    prompt = Prompt.of(heard, timeline)
    if settings.bpm is None:
        settings.bpm = prompt.bpm
    part = "all of it" if len(heard) == len(notes) else f"its last {len(heard)} of {len(notes)} notes (the model's window)"
    say(f"duetto: heard {path} before the first key: {part}, {prompt.seconds:.1f} s, on {grid}; "
        f"tempo {settings.bpm:.1f} BPM until a clock or your playing sets one")
    return prompt


def run_learn(args: argparse.Namespace) -> int:
    from duetto.jam.config import Config, read_config, write_config
    from duetto.jam.controls import check_name
    from duetto.jam.learn import listen_for_cc
    from duetto.jam.options import jam_option_types
    from duetto.midi.ports import open_backend

    name = usage(check_name, args.control)
    path = Path(args.config)
    config = read_config(path, jam_option_types()) if path.exists() else Config()
    backend = open_backend(args.backend, own_name=args.name)
    port = args.input or f"{args.name} In"
    say(f"duetto: move the knob, fader or pedal for {name} (listening on {port!r}, {backend.name})")
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
    from duetto.jam.options import check_range, check_style, model_limits
    from duetto.midi.files import write_midi
    from duetto.offline.audio import find_renderer, render_wav
    from duetto.model.sampler import Sampler
    from duetto.offline.generate import continuation_figure, continue_midi, read_prompt, shown
    from duetto.offline.plots import PICTURE_SUFFIXES, require_matplotlib, save_figure

    limits = model_limits(args)
    check_range("--seconds", args.seconds, 0.1, 3600)
    check_range("--show-seconds", args.show_seconds, 0, 36_000)
    check_writable("--out", args.out, (".mid", ".midi"))
    if args.plot:
        check_writable("--plot", args.plot, PICTURE_SUFFIXES)
        require_matplotlib()
    if args.wav:
        check_writable("--wav", args.wav, (".wav",))
        find_renderer(args.soundfont)  # say what is missing before generating, not after
    score = read_prompt(args.prompt, lambda line: say(f"duetto: {line}"))
    model = load_model(args)
    check_style(args.style, model)
    temperature, top_p = model.info.sampling(args.temperature, args.top_p)
    if args.band is not None:
        return generate_band(args, model, score, Sampler(temperature, top_p, args.seed))
    continued = continue_midi(model, score, args.out, args.seconds, temperature=temperature, top_p=top_p,
                              seed=args.seed, limits=limits, style=args.style, texture=args.texture)
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


def generate_band(args: argparse.Namespace, model: StepModel, score: MidiScore, sampler: "Sampler") -> int:
    """`duetto generate --band`: a band's take over the prompt's melody, and its picture and sound."""
    from duetto.jam.band import make_band, parse_parts
    from duetto.offline.audio import render_wav
    from duetto.offline.band import band_midi
    from duetto.offline.plots import Mark, piano_roll_figure, save_figure

    if model.info.family != "metrical":
        raise UsageError(f"--band needs a model that plays parts (a metrical one): {model.path.name} is a "
                         f"{model.info.family} model")
    band = make_band(usage(parse_parts, args.band), None, None, 0, None)
    made = band_midi(model, score, args.out, band, sampler, args.style)
    print(made.summary)
    if args.plot:
        figure = piano_roll_figure(made.tracks, [Mark(made.band_starts, "the band comes in", "Bass")], made.tempos,
                                   title=f"{Path(args.prompt).name}: the melody and Duetto's band")
        save_figure(figure, args.plot)
        print(f"wrote {args.plot}")
    if args.wav:
        render_wav(args.out, args.wav, args.soundfont)
        print(f"wrote {args.wav}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    import json

    from duetto.atomic import write_atomically
    from duetto.jam.options import check_style
    from duetto.offline.score import midi_files, pooled, score_paths

    if args.json:
        check_writable("--json", args.json, (".json",))
    usage(midi_files, args.paths)
    model = StepModel(args.model, device="cpu")
    check_style(args.style, model)
    style = model.info.styles.index(args.style) if args.style in model.info.styles else None
    lines, skipped = usage(score_paths, model, args.paths, args.per_part, style)
    if not lines:
        raise UsageError(f"no notes to score in {' '.join(args.paths)} ({len(skipped)} files unreadable)")
    for line in [*lines, pooled(lines)]:
        print(f"{line.bits_per_note:8.3f} bits/note  {line.notes:7d} notes  {line.name}")
    if skipped:
        say(f"duetto: skipped {len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''}: "
            + "; ".join(f"{path.name} ({reason})" for path, reason in skipped[:3]) + ("; ..." if len(skipped) > 3 else ""))
    if args.json:
        rows = [{"name": line.name, "notes": line.notes, "bits_per_note": line.bits_per_note}
                for line in [*lines, pooled(lines)]]
        write_atomically(args.json, lambda handle: json.dump({"model": args.model, "lines": rows,
                                                              "skipped": [str(path) for path, _ in skipped]},
                                                             handle, indent=1), mode="w")
    return 0


def run_styles(args: argparse.Namespace) -> int:
    model = StepModel(args.model, device="cpu")
    styles = model.info.styles
    print(f"{model.path.name} ({model.info.family}, {model.info.encoding} v{model.info.encoding_version})")
    print("styles: " + (", ".join(["auto", *styles]) if styles else "auto only (trained before styles)"))
    print("textures: " + ", ".join(TEXTURE_CHOICES))
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
    from duetto.jam.options import fit_to_model, live_settings
    from duetto.tools.demo import run_demo as demo

    settings = live_settings(args)
    check_writable("--out", args.out, (".mid", ".midi"))
    model = load_model(args)
    fit_to_model(settings, args, model)
    play_in_time()
    print(demo(model, settings, args.backend, args.out, args.rounds, args.soundfont))
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
    if args.what == "soak":
        return run_soak_bench(args)
    from duetto.tools.bench import BenchSettings, run_latency_bench
    from duetto.tools.bench_report import format_report, write_json

    also = family_models() if args.also is None else args.also
    settings = BenchSettings(model=args.model, checkpoint=args.checkpoint, steps=args.steps,
                             phrases=args.phrases, period=args.period, device=args.device,
                             step_models=[args.model] + also)
    if args.only:
        settings.parts = tuple(args.only)
    if args.quick:
        settings.steps, settings.phrases, settings.recompute_repeats, settings.hearing_notes = 200, 10, 5, 40
    report = run_latency_bench(settings, command="duetto " + " ".join(sys.argv[1:]))
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return 0


def run_soak_bench(args: argparse.Namespace) -> int:
    """The soak's figures and goals; exit 1 when a goal was missed, so a script can tell."""
    from duetto.tools.soak import format_soak, run_soak, write_soak

    report = run_soak(args.minutes, command="duetto " + " ".join(sys.argv[1:]), seed=args.seed)
    print(format_soak(report))
    if args.json:
        write_soak(args.json, report)
    return 0 if all(report.goals().values()) else 1


def family_models() -> list[str]:
    """The shipped models of the other families, beside the default one."""
    return sorted(str(path) for path in (DEFAULT_MODEL.parent / "families").glob("*.onnx"))


def run_quality_bench(args: argparse.Namespace) -> int:
    from duetto.tools.quality import QualitySettings, format_quality, write_quality
    from duetto.tools.quality import run_quality_bench as bench

    models = args.models or [str(DEFAULT_MODEL)] + family_models()
    settings = QualitySettings(models=models, data=args.data, pieces=args.pieces,
                               prompt_seconds=args.prompt_seconds, seconds=args.seconds, seed=args.seed,
                               band_pieces=args.band_pieces)
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
    # the training side still tells bad input by a one-line ValueError; until it raises DuettoErrors, its
    # ValueErrors are the user's
    return usage(producer_main, command, rest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runners = {"jam": run_jam, "learn": run_learn, "generate": run_generate, "ports": run_ports,
               "demo": run_demo, "panic": run_panic, "bench": run_bench, "styles": run_styles, "score": run_score}
    try:
        if argv and argv[0] in PRODUCERS:
            return run_producer(argv[0], argv[1:])
        config, preset = config_for(argv[1:]) if argv and argv[0] == "jam" else (None, None)
        defaults = {**config.options(preset), "cc_map": config.cc_map()} if config else None
        args = build_parser(defaults).parse_args(argv)
        return runners[args.command](args)
    except USER_ERRORS as error:
        say(f"duetto: error: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
