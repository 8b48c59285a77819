"""The event vocabulary: MIDI written as a text of tokens, and read back.

Vocabulary ("duetto-events", version 2), in token order:

    PAD, START                      specials (START opens every training sequence)
    NOTE_ON(0..127)                 a key goes down, at the current velocity
    NOTE_OFF(0..127)                a key comes up
    TIME_SHIFT(1..100)              time moves on by that many 10 ms steps
    VELOCITY(0..31)                 velocity bin for the note-ons that follow
    STYLE(0..15)                    the style of what follows: 0 withheld, k + 1 the style of index k
    TEXTURE(0..2)                   the texture of the phrase that follows: line, voices, chords

Version 1 is the same vocabulary without STYLE and TEXTURE (390 tokens); its models keep loading and
playing, and never hear or say a conditioning token. In version 2 training data, every phrase opens with
its conditioning pair, STYLE then TEXTURE (`encode_conditioned`), so a model learns to read them wherever
they stand; live, the voice says the pair it wants just before an answer.

A round trip notes -> tokens -> notes is exact for notes already in canonical form (`quantize`): times on
the 10 ms grid, velocities at their bin's representative value, at least one step long, and no two notes
of one pitch overlapping.  Training data, live input and generated output all pass through the same
`EventWriter` and `EventReader`, so what the model learns is exactly what it hears and says at run time.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from duetto.music.notes import KeyEvent, Note, notes_from_events
from duetto.music.texture import TEXTURES, texture_of

ENCODING_NAME = "duetto-events"
ENCODING_VERSION = 2

STEP_SECONDS = 0.01
MAX_SHIFT_STEPS = 100
VELOCITY_BINS = 32
PITCHES = 128

PAD = 0
START = 1
NOTE_ON = 2
NOTE_OFF = NOTE_ON + PITCHES
TIME_SHIFT = NOTE_OFF + PITCHES  # token TIME_SHIFT + k means a shift of k + 1 steps
VELOCITY = TIME_SHIFT + MAX_SHIFT_STEPS
STYLE = VELOCITY + VELOCITY_BINS  # STYLE: withheld; STYLE + 1 + k: the style of index k
STYLE_SLOTS = 16
TEXTURE = STYLE + STYLE_SLOTS
VOCAB_SIZE = TEXTURE + len(TEXTURES)
V1_VOCAB_SIZE = STYLE  # version 1 ends before the conditioning tokens
VOCAB_SIZES = {1: V1_VOCAB_SIZE, 2: VOCAB_SIZE}

PHRASE_REST_SECONDS = 0.3  # a silence this long after every key is up opens a new phrase
LONGEST_PHRASE_SECONDS = 8.0  # past this, the next strike opens a new phrase (music with no rests)


def velocity_to_bin(velocity: int) -> int:
    return min(VELOCITY_BINS - 1, max(1, velocity) * VELOCITY_BINS // 128)


def bin_to_velocity(velocity_bin: int) -> int:
    """The representative velocity of a bin: the middle of the 4 values it covers."""
    return velocity_bin * (128 // VELOCITY_BINS) + 2


def to_step(seconds: float) -> int:
    return max(0, round(seconds / STEP_SECONDS))


def describe(token: int) -> str:
    """A readable name for a token, for debugging and error messages."""
    if token == PAD:
        return "PAD"
    if token == START:
        return "START"
    if NOTE_ON <= token < NOTE_OFF:
        return f"NOTE_ON({token - NOTE_ON})"
    if NOTE_OFF <= token < TIME_SHIFT:
        return f"NOTE_OFF({token - NOTE_OFF})"
    if TIME_SHIFT <= token < VELOCITY:
        return f"TIME_SHIFT({token - TIME_SHIFT + 1})"
    if VELOCITY <= token < STYLE:
        return f"VELOCITY({token - VELOCITY})"
    if STYLE <= token < TEXTURE:
        return f"STYLE({token - STYLE})"
    if TEXTURE <= token < VOCAB_SIZE:
        return f"TEXTURE({TEXTURES[token - TEXTURE]})"
    raise ValueError(f"token {token} is outside the vocabulary of {VOCAB_SIZE}")


def quantize(notes: Iterable[Note]) -> list[Note]:
    """Put notes in canonical form: the exact set of notes the encoding can express.

    Times snap to the 10 ms grid, velocities to their bin, every note lasts at least one step, a pitch
    struck again while still sounding is released at the new onset, and channels merge into one stream.
    """
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for note in notes:
        start = to_step(note.start)
        end = max(start + 1, to_step(note.end))
        velocity = bin_to_velocity(velocity_to_bin(note.velocity))
        by_pitch.setdefault(note.pitch, []).append((start, end, velocity))
    canonical = []
    for pitch, spans in by_pitch.items():
        spans.sort()
        for (start, end, velocity), following in zip(spans, spans[1:] + [None]):
            if following is not None:
                if following[0] == start:
                    continue  # a duplicate onset: the later copy wins
                end = min(end, following[0])
            canonical.append(Note(start * STEP_SECONDS, end * STEP_SECONDS, pitch, velocity))
    return sorted(canonical)


class EventWriter:
    """Turns timed key events into tokens, one event at a time (live input uses this directly).

    It tracks the clock and the current velocity bin, so each call emits only the tokens needed:
    time shifts up to the event, a velocity token when the bin changes, then the note token.
    """

    def __init__(self, start_seconds: float = 0.0) -> None:
        self.step = to_step(start_seconds)
        self.velocity_bin: int | None = None
        self.sounding: dict[int, int] = {}  # pitch -> onset step

    def advance_to(self, seconds: float) -> list[int]:
        """Time-shift tokens that bring the clock to `seconds` (never backwards)."""
        target = to_step(seconds)
        tokens = []
        while target > self.step:
            shift = min(MAX_SHIFT_STEPS, target - self.step)
            tokens.append(TIME_SHIFT + shift - 1)
            self.step += shift
        return tokens

    def shorten_rest(self, seconds: float, longest: float) -> None:
        """Let a silence up to `seconds` count as at most `longest` seconds: the clock jumps ahead with no
        tokens. A player back after an hour away is simply after a long rest, not 3,600 time shifts later."""
        if not self.sounding:
            self.step = max(self.step, to_step(seconds - longest))

    def note_on(self, seconds: float, pitch: int, velocity: int) -> list[int]:
        tokens = self.advance_to(seconds)
        if pitch in self.sounding:
            tokens.append(NOTE_OFF + pitch)  # a re-strike ends the sounding note first
        velocity_bin = velocity_to_bin(velocity)
        if velocity_bin != self.velocity_bin:
            tokens.append(VELOCITY + velocity_bin)
            self.velocity_bin = velocity_bin
        tokens.append(NOTE_ON + pitch)
        self.sounding[pitch] = self.step
        return tokens

    def note_off(self, seconds: float, pitch: int) -> list[int]:
        if pitch not in self.sounding:
            return []  # a release with no press says nothing musical
        # a tap shorter than one step still lasts one, as in `quantize`
        tokens = self.advance_to(max(seconds, (self.sounding[pitch] + 1) * STEP_SECONDS))
        tokens.append(NOTE_OFF + pitch)
        del self.sounding[pitch]
        return tokens


class EventReader:
    """Reads tokens back into key events, one token at a time (live generation uses this directly).

    Tolerant of what a sampled model may say: a release of a silent key is ignored, and a key struck
    while sounding is released first.
    """

    def __init__(self, start_seconds: float = 0.0, velocity: int = 64) -> None:
        self.step = to_step(start_seconds)
        self.velocity = bin_to_velocity(velocity_to_bin(velocity))
        self.sounding: dict[int, int] = {}  # pitch -> onset step

    @property
    def seconds(self) -> float:
        return self.step * STEP_SECONDS

    def read(self, token: int) -> list[KeyEvent]:
        if NOTE_ON <= token < NOTE_OFF:
            pitch = token - NOTE_ON
            events = []
            if pitch in self.sounding:
                events.append(KeyEvent(self.seconds, pitch, 0))
            self.sounding[pitch] = self.step
            events.append(KeyEvent(self.seconds, pitch, self.velocity))
            return events
        if NOTE_OFF <= token < TIME_SHIFT:
            pitch = token - NOTE_OFF
            if self.sounding.pop(pitch, None) is None:
                return []
            return [KeyEvent(self.seconds, pitch, 0)]
        if TIME_SHIFT <= token < VELOCITY:
            self.step += token - TIME_SHIFT + 1
        elif VELOCITY <= token < STYLE:
            self.velocity = bin_to_velocity(token - VELOCITY)
        return []

    def release_all(self) -> list[KeyEvent]:
        """Key-ups for everything still sounding, at the current time."""
        events = [KeyEvent(self.seconds, pitch, 0) for pitch in sorted(self.sounding)]
        self.sounding.clear()
        return events


def key_events(notes: Iterable[Note]) -> list[KeyEvent]:
    """Notes as key-downs and key-ups in time order; at equal times releases come first."""
    events = []
    for note in notes:
        events.append(KeyEvent(note.start, note.pitch, note.velocity))
        events.append(KeyEvent(note.end, note.pitch, 0))
    events.sort(key=lambda event: (to_step(event.seconds), event.velocity > 0, event.pitch))
    return events


def encode(notes: Iterable[Note]) -> list[int]:
    """Canonical notes -> tokens (without START; the dataset adds it)."""
    writer = EventWriter()
    tokens: list[int] = []
    for event in key_events(quantize(notes)):
        if event.velocity > 0:
            tokens += writer.note_on(event.seconds, event.pitch, event.velocity)
        else:
            tokens += writer.note_off(event.seconds, event.pitch)
    return tokens


def style_token(index: int | None) -> int:
    """The STYLE token for a style index (None: withheld)."""
    if index is None:
        return STYLE
    if not 0 <= index < STYLE_SLOTS - 1:
        raise ValueError(f"style index {index} is outside the {STYLE_SLOTS - 1} styles this encoding holds")
    return STYLE + 1 + index


def texture_token(texture: str) -> int:
    return TEXTURE + TEXTURES.index(texture)


def is_conditioning(token: int) -> bool:
    return STYLE <= token < VOCAB_SIZE


def conditioning(style: int | None, texture: str | None) -> list[int]:
    """The tokens that say what follows: its style (None: withheld), then its texture if one is asked for."""
    return [style_token(style)] + ([texture_token(texture)] if texture is not None else [])


def phrases(notes: Sequence[Note]) -> list[list[Note]]:
    """Notes in time order cut into phrases: a new one opens at a strike after PHRASE_REST_SECONDS of
    silence, or at the first strike once a phrase has run LONGEST_PHRASE_SECONDS."""
    cut: list[list[Note]] = []
    sounding_until = float("-inf")
    for note in sorted(notes, key=lambda note: (note.start, note.pitch)):
        opens = (not cut or note.start - sounding_until >= PHRASE_REST_SECONDS
                 or note.start - cut[-1][0].start >= LONGEST_PHRASE_SECONDS)
        if opens and (not cut or note.start > cut[-1][-1].start):
            cut.append([])
        cut[-1].append(note)
        sounding_until = max(sounding_until, note.end)
    return cut


def encode_conditioned(notes: Iterable[Note], style: int | None) -> list[int]:
    """Canonical notes -> tokens (without START), each phrase opened by its conditioning pair: the style
    (None: withheld) and the phrase's own texture."""
    canonical = quantize(notes)
    openings = {to_step(phrase[0].start): texture_of(phrase) for phrase in phrases(canonical)}
    writer = EventWriter()
    tokens: list[int] = []
    for event in key_events(canonical):
        if event.velocity > 0:
            texture = openings.pop(to_step(event.seconds), None)
            if texture is not None:
                tokens += writer.advance_to(event.seconds) + conditioning(style, texture)
            tokens += writer.note_on(event.seconds, event.pitch, event.velocity)
        else:
            tokens += writer.note_off(event.seconds, event.pitch)
    return tokens


def decode(tokens: Sequence[int]) -> list[Note]:
    """Tokens -> notes. Notes left sounding at the end are released there."""
    reader = EventReader()
    events = [event for token in tokens for event in reader.read(token)]
    events += reader.release_all()
    return sorted(notes_from_events(events))
