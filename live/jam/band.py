"""The band of `--mode band`: which parts play beside the player, on which MIDI channels, in which registers,
with which General MIDI instruments, and where an arranger split divides the keyboard.

A band part is one of the note model's parts (duetto.music.parts): "bass" is the bass, "chords" the inner
part, "line" the other part (a second line). The player is always the melody. Registers are laid out so
the parts do not cross: the bass low, the chords in the middle, the line above them, near the player.
"""

from __future__ import annotations

from dataclasses import dataclass

from duetto.midi.messages import DRUM_CHANNEL
from duetto.music.chords import Chord, chord_of_keys
from duetto.music.parts import BASS, INNER, OTHER
from duetto.voices.base import BandRequest


@dataclass(frozen=True)
class PartRole:
    """What a band part is by default: its part in the model, register and General MIDI program (1-128)."""

    part: int
    register: tuple[int, int]
    program: int


ROLES: dict[str, PartRole] = {
    "bass": PartRole(BASS, (28, 52), 34),  # E1-E3; Electric Bass (finger)
    # the chords and the line overlap by a third only: with an octave shared, the chords sounded above the
    # line in 6% of beats (held-out band pieces); with a third, in under 1%
    "chords": PartRole(INNER, (48, 70), 5),  # C3-Bb4; Electric Piano 1
    "line": PartRole(OTHER, (67, 91), 66),  # G4-G6; Alto Sax
}
DEFAULT_PARTS = ("bass", "chords", "line")


@dataclass(frozen=True)
class BandPart:
    name: str
    part: int
    channel: int  # 0-15
    register: tuple[int, int]
    program: int  # 1-128


@dataclass(frozen=True)
class Band:
    """The band's parts, and the split below which the player's keys steer it (None: no split)."""

    parts: tuple[BandPart, ...]
    split: int | None = None
    vamp: bool = False  # play on when the player stops (band mode)
    ports: bool = False  # each part also on a port of its own, "NAME Bass" and so on (`--band-ports`)

    def channel_of(self, part: int) -> int | None:
        return next((member.channel for member in self.parts if member.part == part), None)

    def part_of_channel(self, channel: int) -> int | None:
        return next((member.part for member in self.parts if member.channel == channel), None)

    def request(self, chord: Chord | None) -> BandRequest:
        """What the voice is asked to play: these parts, in their registers, over the chord held."""
        return BandRequest(tuple(member.part for member in self.parts),
                           tuple(member.register for member in self.parts), chord)


def parse_parts(text: str) -> tuple[str, ...]:
    """`--band bass,chords,line` -> the part names, each known and named once; a ValueError otherwise."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in ROLES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"--band {text!r}: name each part once, from {', '.join(ROLES)}")
    return names


def port_name(session: str, part: BandPart) -> str:
    """The port a part plays on with `--band-ports`: "Duetto Bass", "Duetto Chords", "Duetto Line"."""
    return f"{session} {part.name.capitalize()}"


def free_channels(count: int, taken: set[int]) -> list[int]:
    """The first `count` channels (0-15) apart from those `taken` and the drums'."""
    free = [channel for channel in range(16) if channel not in taken and channel != DRUM_CHANNEL]
    return free[:count]


def make_band(names: tuple[str, ...], channels: list[int] | None, programs: list[int] | None,
              player_channel: int, split: int | None, vamp: bool = False, ports: bool = False) -> Band:
    """The band of the named parts: on the channels given (0-15), else on the first ones apart from the
    player's and the drums'; with the programs given (1-128), else each part's own."""
    channels = channels or free_channels(len(names), {player_channel})
    programs = programs or [ROLES[name].program for name in names]
    if len(channels) != len(names) or len(programs) != len(names):
        raise ValueError(f"--band names {len(names)} parts: give as many channels and programs")
    return Band(tuple(BandPart(name, ROLES[name].part, channel, ROLES[name].register, program)
                      for name, channel, program in zip(names, channels, programs)), split, vamp, ports)


class LeftHand:
    """The keys held below an arranger split, and the chord they spell (the latest one, kept when the
    hand lets go, as an arranger keyboard keeps playing the last chord). Engine thread only."""

    def __init__(self) -> None:
        self.held: set[int] = set()
        self.chord: Chord | None = None

    def key(self, pitch: int, velocity: int) -> None:
        """A key below the split went down or up; a key going down names the chord of the keys held."""
        if velocity == 0:
            self.held.discard(pitch)
            return
        self.held.add(pitch)
        # one key alone is its major chord, as an arranger keyboard's single-finger chords have it
        self.chord = chord_of_keys(self.held) or Chord(min(self.held) % 12, "")
