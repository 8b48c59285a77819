"""The options of the commands that play a model (`jam`, `demo`, `generate`): declared, checked once, and
turned into the settings of a jam.

Every check happens here and before any work starts, so bad input costs nothing and reads as one line
naming the option (a `UsageError`). The declarations return the `argparse.Action`s they add, so a config
file learns each option's name and type from the same place the command line does.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from duetto.errors import UsageError, usage
from duetto.fluidsynth import find_fluidsynth, find_soundfont
from duetto.jam.band import DEFAULT_PARTS, ROLES, Band, make_band, parse_parts
from duetto.jam.controls import CONTROLS, parse_phrase_end
from duetto.jam.modes import MODES
from duetto.jam.osc import LOCAL_HOST, OscPlan, check_plan, parse_destination
from duetto.jam.settings import JamSettings
from duetto.jam.synth import SynthPlan
from duetto.midi.messages import DRUM_CHANNEL
from duetto.midi.ports.base import Backend, match_port
from duetto.model.step_model import StepModel
from duetto.models import DEFAULT_MODEL
from duetto.music.groove import Feel
from duetto.music.key import Key, parse_key
from duetto.music.notes import parse_note_name
from duetto.voices.in_kind import TEXTURE_CHOICES
from duetto.voices.limits import Limits

SYNTH_DEFAULT = "auto"  # `--synth` without a soundfont: the system's General MIDI one
NOT_IN_CONFIG = {"help", "config", "preset"}


# -- the declarations -------------------------------------------------------------------------------------
def add_model_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """What every command that plays a model reads: the model, where it runs, how it samples, what the bot
    may play, and the kind of answer asked for."""
    kind = parser.add_argument_group("the answer's kind (`duetto styles` lists what a model knows)")
    return [
        parser.add_argument("--model", default=str(DEFAULT_MODEL), help="ONNX model (default: the shipped one)"),
        parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                            help="where ONNX Runtime runs the model (auto: CUDA when usable)"),
        parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)"),
        parser.add_argument("--temperature", type=float, default=None,
                            help="sampling temperature (0 = greedy; default: the model's)"),
        parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass (default: the model's)"),
        parser.add_argument("--seed", type=int, default=None, help="random seed for repeatable answers"),
        parser.add_argument("--lowest", type=int, default=21, help="lowest note the bot may play (MIDI number)"),
        parser.add_argument("--highest", type=int, default=108, help="highest note the bot may play"),
        parser.add_argument("--max-polyphony", type=int, default=6, help="most notes the bot holds at once"),
        kind.add_argument("--style", default="auto",
                          help="a style the model was trained on, or auto (default): none is said, and the model "
                               "hears it in your playing"),
        kind.add_argument("--texture", default="auto", choices=TEXTURE_CHOICES,
                          help="auto (default): the texture of your latest phrase, a line answers a line and "
                               "chords answer chords; free: the model's choice; or line, voices, chords"),
    ]


def add_live_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """What a bot playing live reads (`jam` and `demo`): its MIDI system, phrasing, time and music."""
    time_group = parser.add_argument_group("time (MIDI Clock is followed when it comes in)")
    music = parser.add_argument_group("music")
    return [
        parser.add_argument("--backend", default="auto",
                            help="MIDI system: auto, alsa, jack, coremidi, windows (or loopback for the demo)"),
        parser.add_argument("--phrase-gap", type=float, default=600, metavar="MS",
                            help="silence that ends the player's phrase, in milliseconds (default 600)"),
        parser.add_argument("--response-seconds", type=float, default=4.0, metavar="S",
                            help="length of each answer in seconds (default 4)"),
        parser.add_argument("--channel", type=int, default=None,
                            help="MIDI channel the bot plays on, 1-16 (default 1; with --synth 2, apart from yours)"),
        parser.add_argument("--in-channel", type=int, default=None, metavar="N",
                            help="listen to this MIDI channel only, 1-16 (default: all)"),
        parser.add_argument("--passthrough", action="store_true",
                            help="send your playing (notes, pedals, bends, unmapped CCs) to the output too"),
        parser.add_argument("--phrase-end", default="silence", metavar="HOW",
                            help="what ends your phrase: silence (default), pedal (sustain released), "
                                 "cc:N (CC N pressed) or key:N (key N struck)"),
        time_group.add_argument("--bpm", type=float, default=None,
                                help="tempo when there is no MIDI Clock and your own pulse is unclear"),
        time_group.add_argument("--free-time", action="store_true",
                                help="do not follow your pulse: answer the moment the phrase gap ends (MIDI Clock "
                                     "and --bpm still set a beat)"),
        time_group.add_argument("--phrase-beats", type=float, default=None, metavar="BEATS",
                                help="silence that ends your phrase in beats, when a tempo is known"),
        time_group.add_argument("--quantize", type=float, default=0.0, metavar="0-1",
                                help="pull the bot's notes onto the beat grid (0 off, 1 fully)"),
        time_group.add_argument("--grid", type=int, default=4, metavar="STEPS",
                                help="grid lines per beat for --quantize (default 4: sixteenths)"),
        time_group.add_argument("--swing", type=float, default=0.5, metavar="0.5-0.75",
                                help="where every second grid line falls in its pair (0.5 straight, 0.67 triplet)"),
        time_group.add_argument("--humanize-ms", type=float, default=0.0, metavar="MS",
                                help="random timing spread of the bot's notes (standard deviation)"),
        time_group.add_argument("--output-offset-ms", type=float, default=0.0, metavar="MS",
                                help="shift the bot's output in time; negative sends early for a slow synth"),
        time_group.add_argument("--no-transport-compensation", action="store_true",
                                help="do not send the bot's notes early by JACK's mean MIDI transport time "
                                     "(one period: half on the way in, half on the way out)"),
        music.add_argument("--key", default="auto",
                           help="the key, like C:major, A:minor, F#:dorian; auto hears it from your playing"),
        music.add_argument("--scale-lock", action="store_true", help="the bot plays only notes of the key"),
        music.add_argument("--density", type=float, default=1.0,
                           help="note density: below 1 sparser, above 1 busier (default 1)"),
        music.add_argument("--velocity-follow", type=float, default=0.0, metavar="0-1",
                           help="how far the bot's dynamics follow yours (0: its own, 1: yours)"),
        music.add_argument("--panic-keys", default=None, metavar="N,N",
                           help="MIDI note numbers that, held together, silence everything (e.g. 21,108)"),
    ]


def add_port_name_option(parser: argparse.ArgumentParser) -> argparse.Action:
    return parser.add_argument("--name", default="Duetto",
                               help="name of the virtual ports, NAME In and NAME Out (default Duetto): two bots "
                                    "side by side need two names")


def add_jam_options(jam: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every option of `duetto jam` a config file may set too."""
    synth = jam.add_argument_group("a synth of its own (FluidSynth, for keyboard + laptop)")
    band = jam.add_argument_group("the band (--mode band)")
    osc = jam.add_argument_group("Open Sound Control (needs the osc extra)")
    return [
        add_port_name_option(jam),
        jam.add_argument("--in", dest="input", default=None,
                         help="connect to this MIDI input instead of opening a virtual 'NAME In'"),
        jam.add_argument("--out", dest="output", default=None,
                         help="connect to this MIDI output instead of opening a virtual 'NAME Out'"),
        jam.add_argument("--jack-wait", type=float, default=30.0, metavar="S",
                         help="on JACK, how long to wait for a server that went away before stopping "
                              "(default 30; with --synth the jam stops at once)"),
        jam.add_argument("--record", default=None, metavar="FILE.mid",
                         help="write both parts of the session to a two-track MIDI file when it ends"),
        jam.add_argument("--prompt", default=None, metavar="FILE.mid",
                         help="a piece the bot hears before your first key (its end, as much as the model's "
                              "window holds), so its first answer continues it; its tempo is the jam's until "
                              "MIDI Clock, Link or your playing sets one"),
        jam.add_argument("--mode", default="call", choices=list(MODES),
                         help="call: answer each phrase (default); duet: play along continuously; "
                              "practice: play a phrase for you to echo, and score it; band: bass, chords and a "
                              "second line play along, each on its own channel"),
        band.add_argument("--band", default=",".join(DEFAULT_PARTS), metavar="PARTS",
                          help=f"the band's parts, from {', '.join(ROLES)} (default: all three)"),
        band.add_argument("--band-channels", default=None, metavar="N,N,...",
                          help="each part's MIDI channel, 1-16 (default: the first ones apart from yours and "
                               "the drums')"),
        band.add_argument("--band-programs", default=None, metavar="N,N,...",
                          help="with --synth, each part's General MIDI instrument, 1-128 (default: "
                               + ", ".join(f"{name} {role.program}" for name, role in ROLES.items()) + ")"),
        band.add_argument("--band-ports", action="store_true",
                          help="each part also on a port of its own (NAME Bass, NAME Chords, NAME Line), for a "
                               "DAW track or a synth each"),
        band.add_argument("--vamp", action="store_true",
                          help="the band plays on when you stop, until your phrase-end signal (see --phrase-end) "
                               "or a panic"),
        band.add_argument("--split", default=None, metavar="NOTE",
                          help="arranger split, like C4 or 60: your keys below it are chords that steer the "
                               "band (not played), those above it your melody"),
        jam.add_argument("--view", action="store_true",
                         help="a full-screen live view to play from: the piano roll with the answer ahead of "
                              "time, tempo, key, the knobs and timings; keys for re-roll, undo, panic and more "
                              "(needs the view extra)"),
        jam.add_argument("--link", action="store_true",
                         help="join the Ableton Link session on the network: its tempo and beats set the grid "
                              "(needs the link extra)"),
        osc.add_argument("--osc", type=int, default=None, metavar="PORT",
                         help="listen for OSC on this UDP port: /duetto/<control> VALUE, /duetto/panic, ..."),
        osc.add_argument("--osc-host", default=None, metavar="ADDRESS",
                         help=f"the address OSC listens on (default {LOCAL_HOST}, this machine only: anyone who "
                              "can reach it can drive the bot)"),
        osc.add_argument("--osc-send", default=None, metavar="HOST:PORT",
                         help="send OSC status there: each note, each answer's begin and end, tempo and key"),
        synth.add_argument("--synth", nargs="?", const=SYNTH_DEFAULT, default=None, metavar="SOUNDFONT",
                           help="start FluidSynth on the MIDI system in use and play both parts through it (your "
                                "notes pass through); SOUNDFONT: a .sf2 file (default: the system's General MIDI "
                                "one)"),
        synth.add_argument("--program", type=int, default=5, metavar="N",
                           help="the bot's General MIDI instrument, 1-128 (default 5, Electric Piano 1)"),
        synth.add_argument("--player-program", type=int, default=1, metavar="N",
                           help="your instrument, 1-128 (default 1, Acoustic Grand Piano)"),
        synth.add_argument("--synth-audio", default=None, metavar="DRIVER",
                           help="FluidSynth's audio driver: jack, pulseaudio, pipewire, alsa, coreaudio... "
                                "(default: jack on JACK, else coreaudio on macOS, pulseaudio where a server runs, "
                                "else alsa)"),
        *add_live_options(jam),
        *add_model_options(jam),
    ]


def jam_option_types() -> dict[str, type]:
    """Each `duetto jam` option a config file may set, by its name with underscores, and its type."""
    actions = add_jam_options(argparse.ArgumentParser(add_help=False))
    return {action.dest: bool if action.nargs == 0 else action.type or str
            for action in actions if action.dest not in NOT_IN_CONFIG}


# -- the checks -------------------------------------------------------------------------------------------
def check_range(option: str, value: float | None, lowest: float, highest: float) -> None:
    if value is not None and not lowest <= value <= highest:
        raise UsageError(f"{option} {value:g}: use a value from {lowest:g} to {highest:g}")


def check_controls(args: argparse.Namespace) -> None:
    """Every option a control moves (`--density` moves density) in that control's range: the range a CC,
    OSC and the live view's keys keep it in, so none of them clamps a value the command line took."""
    for control in CONTROLS.values():
        value = getattr(args, control.name, None)
        if control.type in (int, float):
            check_range(f"--{control.name.replace('_', '-')}", value, control.lowest, control.highest)


def model_limits(args: argparse.Namespace) -> Limits:
    """The options every command that plays a model shares, each in its range (and those of the live ones
    a command has); what the bot may play."""
    check_range("--threads", args.threads, 1, 64)
    check_controls(args)
    check_range("--max-polyphony", args.max_polyphony, 1, 32)
    if not 0 <= args.lowest <= args.highest <= 127:
        raise UsageError(f"--lowest {args.lowest} / --highest {args.highest}: need 0 <= lowest <= highest <= 127")
    return Limits(lowest=args.lowest, highest=args.highest, max_polyphony=args.max_polyphony)


def check_style(style: str, model: StepModel) -> None:
    """A style must be one the model was trained on (auto always is)."""
    known = model.info.styles
    if style != "auto" and style not in known:
        listed = ", ".join(known) if known else "none: it was trained before styles (use auto)"
        raise UsageError(f"--style {style!r}: {model.path.name} knows {listed}")


def parse_panic_keys(text: str | None) -> frozenset[int]:
    if text is None:
        return frozenset()
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or not all(part.isdigit() and int(part) < 128 for part in parts):
        raise UsageError(f"--panic-keys {text!r}: give two or more MIDI note numbers, like 21,108")
    return frozenset(int(part) for part in parts)


def bot_channel(channel: int | None, in_channel: int | None, synth: bool) -> int:
    """The bot's channel, 1-16: the one asked for, else 1; with --synth, else the first apart from the
    player's (--in-channel, or 1 where keyboards play) and the drums', so each part keeps its instrument."""
    if channel is not None:
        return channel
    if not synth:
        return 1
    player = in_channel or 1
    return next(number for number in range(1, 17) if number not in (player, DRUM_CHANNEL + 1))


def live_settings(args: argparse.Namespace, *, synth: bool = False, mode: str = "call",
                  cc_map: dict[int, str] | None = None) -> JamSettings:
    """Every live option checked, once, and the settings of a jam made of them; the first option out of
    range is a UsageError. The sampling and the styles are the model's to settle (`fit_to_model`)."""
    limits = model_limits(args)
    check_range("--channel", args.channel, 1, 16)
    check_range("--in-channel", args.in_channel, 1, 16)
    check_range("--bpm", args.bpm, 20, 400)
    check_range("--grid", args.grid, 1, 12)
    check_range("--output-offset-ms", args.output_offset_ms, -500, 500)
    check_range("--phrase-gap", args.phrase_gap, 1, 60_000)
    limits.density = args.density
    key: Key | None = None if args.key.strip().lower() == "auto" else usage(parse_key, args.key)
    channel = bot_channel(args.channel, args.in_channel, synth) - 1
    return JamSettings(
        phrase_gap=args.phrase_gap / 1000.0,
        phrase_beats=args.phrase_beats,
        phrase_end=usage(parse_phrase_end, args.phrase_end),
        response_seconds=args.response_seconds,
        seed=args.seed,
        channel=channel,
        input_channel=None if args.in_channel is None else args.in_channel - 1,
        passthrough=args.passthrough or synth,
        velocity_follow=args.velocity_follow,
        bpm=args.bpm, follow_player=not args.free_time,
        key=key,
        scale_lock=args.scale_lock,
        feel=Feel(quantize=args.quantize, swing=args.swing, steps_per_beat=args.grid,
                  humanize_ms=args.humanize_ms, output_offset=args.output_offset_ms / 1000.0),
        panic_keys=parse_panic_keys(args.panic_keys),
        cc_map=cc_map or {},
        mode=mode,
        style=args.style,
        texture=args.texture,
        limits=limits,
        band=band_of(args, mode, player_channel=0 if args.in_channel is None else args.in_channel - 1),
    )


def band_of(args: argparse.Namespace, mode: str, player_channel: int) -> Band | None:
    """The band the options ask for (None for a command without band options); a --split is the band
    mode's alone."""
    if getattr(args, "band", None) is None:
        return None
    split = None if args.split is None else usage(parse_note_name, args.split, "--split")
    if split is not None and mode != "band":
        raise UsageError("--split steers a band: use it with --mode band")
    names = usage(parse_parts, args.band)
    channels = numbers_of("--band-channels", args.band_channels, 1, 16)
    programs = numbers_of("--band-programs", args.band_programs, 1, 128)
    if channels is not None and (len(set(channels)) != len(channels) or DRUM_CHANNEL + 1 in channels):
        raise UsageError(f"--band-channels {args.band_channels}: one channel each, and not the drums' "
                         f"({DRUM_CHANNEL + 1})")
    if args.band_ports and (mode != "band" or getattr(args, "synth", None)):
        raise UsageError("--band-ports gives each part of --mode band a port for other programs; "
                         "not with --synth, which plays every part itself")
    return usage(make_band, names, None if channels is None else [number - 1 for number in channels], programs,
                 player_channel, split, args.vamp, args.band_ports)


def numbers_of(option: str, text: str | None, lowest: int, highest: int) -> list[int] | None:
    """'2,3,4' -> [2, 3, 4], each from `lowest` to `highest`; None when not given."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and lowest <= int(part) <= highest for part in parts):
        raise UsageError(f"{option} {text!r}: give numbers from {lowest} to {highest}, like 2,3,4")
    return [int(part) for part in parts]


def fit_to_model(settings: JamSettings, args: argparse.Namespace, model: StepModel) -> None:
    """What the model settles: its sampling where the command line left it open, and the styles a CC may
    choose among; a --style it does not know is a UsageError."""
    check_style(args.style, model)
    if settings.mode == "band" and model.info.family != "metrical":
        raise UsageError(f"--mode band needs a model that plays parts (a metrical one, like the shipped model): "
                         f"{model.path.name} is a {model.info.family} model")
    settings.temperature, settings.top_p = model.info.sampling(args.temperature, args.top_p)
    settings.style_choices = ("auto", *model.info.styles)


@dataclass(frozen=True)
class JamExtras:
    """What `duetto jam` needs beyond the live options, checked before any work starts."""

    synth: SynthPlan | None  # --synth: FluidSynth found, its soundfont, the programs
    record: Path | None
    link: bool = False
    osc: OscPlan | None = None  # --osc: where OSC is listened for and the status sent


def check_jam_extras(args: argparse.Namespace) -> JamExtras:
    """What --view, --link, --osc and --synth need, there before any work starts (or one line saying how
    to get it): Textual; Ableton Link's binding; python-osc and a free port; FluidSynth and a soundfont."""
    if args.view:
        need_extra("--view", "textual", "Textual", "view")
    if args.link:
        need_extra("--link", "link", "Ableton Link's binding (LinkPython-extern)", "link")
    osc = osc_plan(args)
    record = None if args.record is None else Path(args.record)
    if args.synth is None:
        return JamExtras(None, record, args.link, osc)
    if args.output is not None:
        raise UsageError("--synth plays into a FluidSynth of its own: leave out --out")
    check_range("--program", args.program, 1, 128)
    check_range("--player-program", args.player_program, 1, 128)
    plan = SynthPlan(find_fluidsynth(without="--synth has nothing to play through"),
                     find_soundfont(None if args.synth == SYNTH_DEFAULT else args.synth, "--synth FILE.sf2"),
                     bot_program=args.program, player_program=args.player_program, audio=args.synth_audio)
    return JamExtras(plan, record, args.link, osc)


def osc_plan(args: argparse.Namespace) -> OscPlan | None:
    """--osc, --osc-host and --osc-send checked, the port free to listen on; None without --osc."""
    if args.osc is None:
        if args.osc_host is not None or args.osc_send is not None:
            raise UsageError("--osc-host and --osc-send go with --osc PORT")
        return None
    need_extra("--osc", "pythonosc", "python-osc", "osc")
    check_range("--osc", args.osc, 1, 65535)
    plan = OscPlan(args.osc, args.osc_host or LOCAL_HOST,
                   None if args.osc_send is None else parse_destination(args.osc_send))
    check_plan(plan)
    return plan


def need_extra(option: str, module: str, what: str, extra: str) -> None:
    """An optional extra an option needs is installed, or a UsageError saying how to install it."""
    try:
        __import__(module)
    except ImportError:
        raise UsageError(f"{option} needs {what}, which is not installed: pip install 'duetto[{extra}]'") from None


def check_named_ports(backend: Backend, input_name: str | None, output_name: str | None) -> None:
    """The ports named by --in and --out exist (or one line lists those that do), before anything loads."""
    if input_name is not None:
        match_port(input_name, backend.input_names(), "input")
    if output_name is not None:
        match_port(output_name, backend.output_names(), "output")
