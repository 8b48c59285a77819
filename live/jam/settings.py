"""Everything that shapes a jam (`JamSettings`), and what it counts (`JamStats`).

The command line and the config file fill the settings in; once the engine runs, its thread owns them,
and a CC changes them only through the inbox. The port thread reads a few of them (the input channel,
pass-through, the CC map, the phrase-end key) to sort messages, which is safe for single attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duetto.jam.band import Band
from duetto.jam.controls import PhraseEnd
from duetto.model.rolling_state import WINDOW_TOKENS
from duetto.model.sampler import DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from duetto.music.groove import Feel
from duetto.music.key import Key
from duetto.voices.in_kind import TEXTURE_CHOICES
from duetto.voices.limits import Limits


@dataclass
class JamSettings:
    phrase_gap: float = 0.6  # seconds of silence that end a phrase...
    phrase_beats: float | None = None  # ...or this many beats, when a tempo is known
    phrase_end: PhraseEnd = field(default_factory=PhraseEnd)
    response_seconds: float = 4.0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    seed: int | None = None
    channel: int = 0
    input_channel: int | None = None  # listen to this channel only (None: all)
    passthrough: bool = False  # the player's notes go to the output too
    velocity_follow: float = 0.0  # 0: the model's dynamics, 1: the player's
    bpm: float | None = None  # the tempo when neither MIDI Clock nor the player gives one
    follow_player: bool = True  # find the beat in the player's own pulse (False: free time)
    key: Key | None = None  # None: detected from the player
    scale_lock: bool = False
    feel: Feel = field(default_factory=Feel)
    cc_map: dict[int, str] = field(default_factory=dict)  # CC number -> control or action name
    panic_keys: frozenset[int] = frozenset()  # held together by the player: panic
    window_tokens: int = WINDOW_TOKENS
    limits: Limits = field(default_factory=Limits)
    mode: str = "call"
    band: Band | None = None  # the band's parts, channels and split (`--mode band`; None: its default band)
    style: str = "auto"  # a style the model knows, or auto: none is said, and the model hears it in the music
    texture: str = "auto"  # auto: the texture of your latest phrase; free: the model's choice; line, voices, chords
    texture_choices: tuple[str, ...] = TEXTURE_CHOICES  # what a CC mapped to texture chooses among
    style_choices: tuple[str, ...] = ("auto",)  # what a CC mapped to style chooses among: the model's styles
    # seconds the bot's notes leave early, to make up for the MIDI transport (see `compensate_transport`)
    latency_compensation: float = 0.0

    def steers(self, pitch: int) -> bool:
        """Whether a key of the player's is below the band's arranger split: it steers the band's chords,
        and is neither played nor heard as music."""
        return self.mode == "band" and self.band is not None and self.band.split is not None and pitch < self.band.split

    def compensate_transport(self, one_way: float) -> None:
        """Make up for a transport whose trips take `one_way` seconds on average. The player's key
        reaches Duetto one trip after it was played, which delays every time the engine derives from it
        (the phrase's end, the beat), and the answer reaches the synth one trip after it leaves: so the
        bot's notes are sent two trips early, and land when they were meant to."""
        self.latency_compensation = 2 * one_way


@dataclass
class JamStats:
    notes_in: int = 0
    notes_out: int = 0
    answers: int = 0  # answers that began to sound
    barge_ins: int = 0
    dropped_messages: int = 0  # messages dropped because the inbox was full (key-ups of dropped key-downs too)
    errors: int = 0
    panics: int = 0
    rerolls: int = 0
    undos: int = 0
    cc_changes: int = 0
