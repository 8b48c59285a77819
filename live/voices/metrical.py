"""The metrical voice: hears every note in beats on the session's grid and answers on the same grid, one
model call per note.

The session's grid (MIDI Clock, Link, else the player's pulse, else `--bpm`; see duetto.music.clock)
reaches the voice through `keep_time`; with none yet, the voice keeps time by the pulse of what it heard
(the median gap between onsets, brought into 70-140 BPM), never by a tempo nobody played, and an answer's
start is its downbeat. A grid's origin is taken as a bar line.

A note is heard once its length is known (at its release), in onset order, as the notes voice does. The
model's step reads the previous note and draws the next, so the latest note heard waits in `latest`
until the next one pushes it into the state; an answer starts by reading it. Each drawn onset counts in
ticks from the note before, so the answer's notes fall on the grid by construction: the first one lands
on the answer's start when the answer should begin at once (the call's answer, the duet's beat: the
engine puts that start on a beat when it knows the grid), else at it or after it, and the answer ends when
its time is up.

A band (`AnswerKind.band`) plays several parts in one stream of notes: the model draws each note's part
with the rest of it, and a note drawn outside its part's register is drawn again with that part (and onset)
held, from that register alone. The player's notes are heard as the melody, the band's own with the parts
that played them. The model draws a note's onset before its part, so its onsets are those of the whole
texture, the tune's among them: a band kept to its own parts took the tune's onsets too (twice the notes of
real accompaniment, off the beat). So the band draws every part, and a note of a part it does not play
(the tune it expects, above all) is imagined: it stays in the answer's state and time, is never played, and
is forgotten when the answer ends, for the tune the player really plays is heard instead. So is the beat
before a band's answer: composed just ahead, the band has not heard what the player plays there, and taking
it for silence told the model the music had stopped; it imagines that beat, and plays from its start on.

Composed ahead, most of a band's notes strike with a tune note nobody has heard yet. Tunes mostly repeat a
note or move by step, so the band leans off the pitches that would rub against where the tune most likely
goes from its last note (`tune_lean`), as an accompanist keeps out of the tune's way.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable, Iterator

import numpy as np

from duetto.encodings import metrical as encoding
from duetto.model.rolling_state import RollingState, RollingVoice
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.clock import FASTEST_BPM, SLOWEST_BPM
from duetto.music.chords import CONSONANT_INTERVALS, Chord
from duetto.music.key import Key
from duetto.music.motion import next_pitch_classes
from duetto.music.notes import CHORD_SECONDS, KeyEvent, Note
from duetto.music.parts import BASS, MELODY, OTHER, part_roles
from duetto.music.texture import TEXTURES
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind, BandRequest
from duetto.voices.common import Phrase, Touch, answer_limits, key_lean, playable_pitches
from duetto.voices.limits import Limits

ROLE_MEMORY = 16  # notes whose texture decides the part of the next one heard
FOUR_FOUR = encoding.meter_index((4, 4))
UNPLAYABLE = -1e9
TEXTURE_PULL = 3.0  # nats added to striking with the last note while a moment is thinner than its texture asks
CHORD_NOTES = 3  # the notes struck together that a "chords" texture leans to
# nats taken from a band note outside the chord it leans to (held, or the melody's). On 60 held-out band
# pieces, with the band imagining the tune (docs/quality.md, 2026-12-05), consonance with the melody [with the
# chords held] over seeds 0 and 1: 4 nats 0.760, 0.762 [0.828, 0.834]; 8 nats 0.766, 0.773 [0.842, 0.852].
# At 8 a note outside the chord is all but ruled out; a band with no chord to lean to still passes freely
CHORD_TONE_PULL = 8.0
# nats taken from a band note that would rub (a second, the tritone, a seventh) against a melody note held as
# it is composed: an accompanist keeps off the note the tune holds (a lean: a passing rub still passes)
MELODY_CLASH_PULL = 4.0
# nats taken from a band note times the log of its chance of sounding consonant with the tune's next note,
# guessed from the tune's last one (duetto.music.motion): most band notes strike with a melody note not yet
# heard, and tunes mostly move by step, so an accompanist keeps off the notes a step from where the tune is.
# On 60 held-out band pieces (docs/quality.md, 2026-12-05), consonance with the melody over seeds 0 and 1:
# 0 nats 0.766, 0.773; 15 0.825, 0.816; 20 0.838, 0.848 (goal 0.819); the band's notes with each other stay
# about as consonant as real accompaniment's; at 25 (seed 0: 0.846) it kept to the two or three safest pitch
# classes and played a tenth fewer notes
TUNE_STEP_PULL = 20.0
ROOT_PULL = 1.0  # nats added to the chord's root (and half of it to its fifth) for a bass note drawn again
# nats added to the odds of the second line's part when a band asks for one: in the band music the model
# learned from, a line plays under a tenth of the band's notes, and a line asked for should be heard
# (measured on held-out band pieces: 2% of the band's notes without it, a third with it)
LINE_PULL = 1.5
BAND_GRID_TICKS = encoding.TICKS_PER_BEAT // 4
PITCH_CLASSES = np.arange(encoding.PITCHES) % 12  # the pitch class of each pitch the model draws
# [a, b]: whether pitch classes a and b sound consonant together (the same either way round)
CONSONANT_CLASSES = np.isin((np.arange(12)[None, :] - np.arange(12)[:, None]) % 12, list(CONSONANT_INTERVALS))  # a band's notes start on sixteenths
BAND_ENTRY_BEATS = 4  # a band none of whose parts was heard for this long comes in, striking at once


def texture_pull(texture: str | None, struck_together: int, most: int) -> float:
    """What to add to the odds of striking another note with the last (onset 0), for the texture asked:
    a line never does, voices lean to two notes at a time, chords to CHORD_NOTES; never past `most`."""
    if struck_together >= most or texture == "line":
        return UNPLAYABLE
    wanted = {"voices": 2, "chords": CHORD_NOTES}.get(texture or "", 0)
    return TEXTURE_PULL if struck_together < wanted else 0.0


class MetricalVoice(RollingVoice):
    plays_band = True  # hears notes with their parts, and answers as a band (`AnswerKind.band`)

    def __init__(self, model: StepModel, sampler: Sampler, limits: Limits, window_tokens: int) -> None:
        self.model = model
        self.sampler = sampler
        self.limits = limits
        self.touch = Touch()
        self.timeline: Timeline | None = None  # the session's grid as a timeline, once one is known
        self.pending: deque[list] = deque()  # [onset, pitch, velocity, release or None, part], in onset order
        self.recent: deque[Note] = deque(maxlen=ROLE_MEMORY)
        self.latest_heard = 0.0
        self.band_struck: float | None = None  # when a band part was last heard striking a note
        self.last_melody: int | None = None  # the pitch of the melody's latest note struck
        self.writer = encoding.NoteWriter(Timeline())
        self.latest: dict[str, np.ndarray] | None = None  # the last note heard, not yet in the state
        self.rolling = RollingState(model, encoding.step_inputs(encoding.START_FIELDS, 0, FOUR_FOUR,
                                                                 4 * encoding.TICKS_PER_BEAT), window_tokens)

    # -- time ------------------------------------------------------------------------------------------
    def keep_time(self, timeline: Timeline | None) -> None:
        """Where beats and bars fall, in the voice's seconds (None: nobody knows yet)."""
        self.timeline = timeline

    def _timeline(self, anchor: float | None = None) -> Timeline:
        """The grid in force, else the pulse of what was heard, with a bar line at `anchor` (an answer's
        start: with no grid to keep, the answer sets the downbeat) or else at the first onset heard."""
        if self.timeline is not None:
            return self.timeline
        bpm = 60.0 / self.touch.interval
        while bpm > FASTEST_BPM:
            bpm /= 2
        while bpm < SLOWEST_BPM:
            bpm *= 2
        first = self.recent[0].start if self.recent else 0.0
        return Timeline.steady(bpm, origin=first if anchor is None else anchor)

    # -- hearing ---------------------------------------------------------------------------------------
    def hear(self, seconds: float, pitch: int, velocity: int, part: int | None = None) -> None:
        """A key event; `part` is who played it in a band (None: judged from the notes around it)."""
        self.latest_heard = max(self.latest_heard, seconds)
        for note in self.pending:
            if note[1] == pitch and note[3] is None:
                note[3] = seconds
        if velocity > 0:
            if part not in (None, MELODY):
                self.band_struck = seconds
            if part == MELODY:
                self.last_melody = pitch
            if not self.pending or seconds - self.pending[-1][0] >= CHORD_SECONDS:
                self.touch.onset(seconds)
            self.pending.append([seconds, pitch, velocity, None, part])
        while self.pending and self.pending[0][3] is not None:
            onset, pitch, velocity, release, part = self.pending.popleft()
            feeds = self._read(Note(onset, release, pitch, velocity), self.writer, self.recent, part)
            if self.latest is not None:
                self.rolling.step(self.latest)
            self.latest = feeds

    def _melody_held(self) -> set[int]:
        """The pitches of the melody's notes sounding now: heard struck as the melody, not yet let go."""
        return {pitch for _, pitch, _, release, part in self.pending if release is None and part == MELODY}

    def _read(self, note: Note, writer: encoding.NoteWriter, recent: deque[Note], part: int | None
              ) -> dict[str, np.ndarray]:
        """The inputs of the step that reads `note` (its part as given, else judged among the `recent`
        notes, which it joins), on the timeline in force."""
        recent.append(note)
        writer.timeline = self._timeline()
        fields, bar, meter, length = writer.row(note, part_roles(list(recent))[-1] if part is None else part)
        return encoding.step_inputs(np.array(fields), bar, meter, length)

    # -- answering -------------------------------------------------------------------------------------
    def answer(self, seconds: float, should_stop: Callable[[], bool] = lambda: False,
               trim_leading_silence: bool = True, kind: AnswerKind | None = None,
               start: float | None = None) -> Iterator[KeyEvent]:
        """An answer of `seconds` from `start` (the voice's seconds; default: the first beat after the
        latest moment heard, so an answer placed on a beat later stays on the grid).
        Notes still held are heard first, on a copy of the state, as long as they have lasted.
        A band's answer is a stretch of music already going (half a beat of it, composed just ahead): its
        first note falls where the model draws it, not forced onto the stretch's start (which struck a
        note on every half beat, off the beat as often as on it), unless the band is coming in (none of its
        parts heard for a bar): hearing the tune alone, the model took the music for a tune alone and could
        leave the band out for bars."""
        latest, writer, state, room = self._all_heard()
        timeline = self._timeline()
        begin = timeline.seconds(math.ceil(timeline.beats(self.latest_heard) - 1e-9)) if start is None else start
        kind = kind or AnswerKind()
        at_once = trim_leading_silence if kind.band is None else (
            self.band_struck is None or timeline.beats(begin) - timeline.beats(self.band_struck) >= BAND_ENTRY_BEATS)
        return self._play(latest, writer.previous_start, state, room, begin, seconds, kind, at_once, should_stop)

    def _all_heard(self) -> tuple[dict[str, np.ndarray] | None, encoding.NoteWriter, list[np.ndarray], int | None]:
        """A copy of the state that has heard every note, those still held too (as long as they have
        lasted), but the latest, whose step inputs are returned to be read next; the writer that placed
        them; the cache's room left (None: no bound)."""
        _, state = self.rolling.snapshot()
        writer = encoding.NoteWriter(self.writer.timeline)
        writer.previous_start = self.writer.previous_start
        recent, latest, room = deque(self.recent, maxlen=ROLE_MEMORY), self.latest, self.rolling.room
        for onset, pitch, velocity, _, part in self.pending:
            if room is not None and room <= 1:
                break  # held notes past the cache's room go unheard: the answer needs the room more
            feeds = self._read(Note(onset, max(self.latest_heard, onset + CHORD_SECONDS), pitch, velocity),
                               writer, recent, part)
            if latest is not None:
                _, state = self.model.run(latest, state)
                room = None if room is None else room - 1
            latest = feeds
        return latest, writer, state, room

    def revoice(self, notes: list[Note], kind: AnswerKind) -> list[Note]:
        """A band's notes composed ahead (each note's channel its part), their pitches drawn again from
        everything heard since: when, how long, how loud and which part each plays stay as they were.

        An accompanist who hears the tune strike a note keeps its rhythm going and changes the notes that
        would rub against it; composing those notes again from scratch moved them too (a sixteenth behind
        the tune's notes, where the model's notes struck with them could no longer go)."""
        latest, writer, state, room = self._all_heard()
        if latest is None or kind.band is None:
            return list(notes)
        writer.timeline = self._timeline()
        fixed, biases = self._fixed_inputs(kind), self._biases(answer_limits(self.limits, kind), kind)
        revoiced = []
        for index, note in enumerate(notes):
            if room is not None and room <= 1:
                return revoiced + list(notes[index:])  # no room left to draw in: the rest as composed
            fields, _, _, _ = writer.row(note, note.channel)
            forced = np.array([fields], dtype=np.int64)
            forced[0, encoding.PITCH] = -1
            pitch = part_pitch_bias(biases["pitch_bias"], note.channel, kind.band)
            pitch[0, [other.pitch for other in revoiced if other.start == note.start]] = UNPLAYABLE  # one key, one note
            feeds = dict(latest, **fixed, **dict(biases, pitch_bias=pitch), forced=forced,
                         uniforms=self.sampler.rng.random((1, 5), dtype=np.float32))
            (drawn, _, bar), state = self.model.run(feeds, state)
            room = None if room is None else room - 1
            revoiced.append(Note(note.start, note.end, int(drawn[0][encoding.PITCH]), note.velocity, note.channel))
            latest = dict(latest, previous=drawn.astype(np.int64), previous_bar=bar.astype(np.int64))
        return revoiced

    def _fixed_inputs(self, kind: AnswerKind) -> dict[str, np.ndarray]:
        """The step inputs that stay the same through an answer: its style and texture, and sampling's
        temperature and top-p."""
        return dict(style=np.array([0 if kind.style is None else 1 + kind.style]),
                    texture=np.array([0 if kind.texture is None else 1 + TEXTURES.index(kind.texture)]),
                    temperature=np.array([max(self.sampler.temperature, 1e-3)], dtype=np.float32),
                    top_p=np.array([self.sampler.top_p], dtype=np.float32))

    def _biases(self, limits: Limits, kind: AnswerKind) -> dict[str, np.ndarray]:
        """What the answer's limits and kind add to each field's logits: pitches outside the register or
        the scale lock ruled out and the key leaned to; density favouring (or not) onsets under a beat."""
        biases = {f"{name}_bias": np.zeros((1, size), dtype=np.float32)
                  for name, size in zip(encoding.FIELDS, encoding.FIELD_SIZES)}
        pitch = key_lean(kind, encoding.PITCHES)
        pitch[~playable_pitches(limits, encoding.PITCHES)] = UNPLAYABLE
        if kind.band is not None:
            pitch += chord_lean(kind.band.chord) + melody_lean(self._melody_held())
            pitch += tune_lean(self.last_melody, kind.key)
            lowest, highest = min(low for low, _ in kind.band.registers), max(high for _, high in kind.band.registers)
            pitch[:lowest], pitch[highest + 1:] = UNPLAYABLE, UNPLAYABLE
            if OTHER in kind.band.parts:
                biases["part_bias"][0, OTHER] = LINE_PULL
        biases["pitch_bias"][0] = pitch
        under_a_beat = 1 - np.minimum(np.arange(encoding.ONSETS), encoding.TICKS_PER_BEAT) / encoding.TICKS_PER_BEAT
        biases["onset_bias"][0] = math.log(max(limits.density, 1e-3)) * under_a_beat
        return biases

    def _play(self, latest: dict | None, last_start: float | None, state: list[np.ndarray], room: int | None,
              begin: float, seconds: float, kind: AnswerKind, at_once: bool, should_stop: Callable[[], bool]
              ) -> Iterator[KeyEvent]:
        """Draw notes after `latest` (which started at `last_start`) until `seconds` after `begin`, or until
        the state has no `room` left (None: no bound)."""
        limits = answer_limits(self.limits, kind)
        phrase = Phrase(limits, seconds)
        timeline = self._timeline(anchor=begin)
        tick_seconds = 60.0 / timeline.bpm_at(begin) / encoding.TICKS_PER_BEAT
        begin_tick = math.ceil(timeline.beats(begin) * encoding.TICKS_PER_BEAT - 1e-6)
        if latest is None:  # nothing heard: the answer opens the music, on a bar line
            bar_line = timeline.seconds(math.ceil(timeline.beats(begin) / 4 - 1e-9) * 4)
            latest = encoding.step_inputs(encoding.START_FIELDS, 0, FOUR_FOUR, 4 * encoding.TICKS_PER_BEAT)
            tick = round(timeline.beats(bar_line) * encoding.TICKS_PER_BEAT)
        else:
            tick = round(timeline.beats(last_start) * encoding.TICKS_PER_BEAT)
        length = int(latest["bar_length"][0])
        if begin_tick - tick >= encoding.ONSETS:  # a long rest: shortened by whole bars, as in training
            tick += (begin_tick - tick - encoding.ONSETS) // length * length + length
        fixed, biases = self._fixed_inputs(kind), self._biases(limits, kind)
        rng = self.sampler.rng
        first, struck_together = True, 0  # notes struck on the latest onset so far
        for _ in range(1 << 30 if room is None else room):
            if should_stop():
                return
            feeds = dict(latest, **fixed, forced=np.full((1, 5), -1, dtype=np.int64),
                         uniforms=rng.random((1, 5), dtype=np.float32), **biases)
            onset_bias = biases["onset_bias"].copy()
            if first:  # the first note lands at the answer's start (the first tick from it), or after it
                early = max(0, min(encoding.ONSETS - 1, begin_tick - tick))
                if kind.band is not None and not at_once:  # or in the beat before it, unheard: imagined
                    early = max(0, early - encoding.TICKS_PER_BEAT)
                onset_bias[0, :early] = UNPLAYABLE
                if at_once:
                    onset_bias[0, early + 1:] = UNPLAYABLE
                    if kind.band is not None:  # a band coming in strikes
                        feeds["part_bias"] = band_parts_only(biases["part_bias"], kind.band)
            else:
                onset_bias[0, 0] += texture_pull(kind.texture, struck_together, limits.max_polyphony)
            if kind.band is not None:
                off_grid = off_the_band_grid(tick)
                if (onset_bias[0, ~off_grid] > UNPLAYABLE).any():  # never every onset ruled out
                    onset_bias[0, off_grid] = UNPLAYABLE
            feeds["onset_bias"] = onset_bias
            (note, _, bar), drawn = self.model.run(feeds, state)
            struck_together = 1 if first or note[0, encoding.ONSET] else struck_together + 1
            tick += int(note[0, encoding.ONSET])
            at = timeline.seconds(tick / encoding.TICKS_PER_BEAT) - begin
            if at >= seconds or not phrase.fits(at):
                break
            first = False
            part = None if kind.band is None else int(note[0, encoding.PART])
            imagined = part is not None and (at < 0 or part not in kind.band.parts)
            if part is not None and not imagined and not fits_its_part(note[0], kind.band):
                (note, _, bar), drawn = self._redraw_in_part(feeds, state, note[0], kind.band)
            state = drawn
            fields = note[0]
            latest = dict(latest, previous=note.astype(np.int64), previous_bar=bar.astype(np.int64))
            if imagined:  # see the module's docstring
                continue
            duration = encoding.DURATION_TICKS[fields[encoding.DURATION]] * tick_seconds
            yield from phrase.strike(at, int(fields[encoding.PITCH]), encoding.bin_velocity(int(fields[encoding.VELOCITY])),
                                     duration, part)
        yield from phrase.release_all()

    def _redraw_in_part(self, feeds: dict[str, np.ndarray], state: list[np.ndarray], drawn: np.ndarray,
                        band: BandRequest) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The note drawn again from the state before it, its onset and part held, its pitch from its
        part's register alone (the first draw could only keep to the band's registers all together), and
        a bass note leaning to the chord's root and fifth."""
        pitch = part_pitch_bias(feeds["pitch_bias"], int(drawn[encoding.PART]), band)
        forced = np.full((1, 5), -1, dtype=np.int64)
        forced[0, [encoding.ONSET, encoding.PART]] = drawn[[encoding.ONSET, encoding.PART]]
        return self.model.run(dict(feeds, pitch_bias=pitch, forced=forced), state)


def part_pitch_bias(pitch_bias: np.ndarray, part: int, band: BandRequest) -> np.ndarray:
    """The pitch logits' bias for a note of a known part: the band's, kept to that part's register, and
    for a bass note over a known chord leaning to its root and fifth."""
    pitch = pitch_bias.copy()
    lowest, highest = band.register(part)
    pitch[0, :lowest], pitch[0, highest + 1:] = UNPLAYABLE, UNPLAYABLE
    if part == BASS and band.chord is not None:
        pitch[0] += bass_lean(band.chord)
    return pitch


def band_parts_only(part_bias: np.ndarray, band: BandRequest) -> np.ndarray:
    """The part logits' bias with every part the band does not play ruled out."""
    only = np.full_like(part_bias, UNPLAYABLE)
    only[0, list(band.parts)] = part_bias[0, list(band.parts)]
    return only


def off_the_band_grid(tick: int) -> np.ndarray:
    """The onsets (ticks after `tick`) that would put a band note off the sixteenth grid. MMA renders its
    grooves with a little random timing, and a model that learned from them strays to odd 24ths of a beat;
    a band keeps the grid, and the session's feel (swing, humanize) is laid on it as it plays."""
    return (tick + np.arange(encoding.ONSETS)) % BAND_GRID_TICKS != 0


def fits_its_part(fields: np.ndarray, band: BandRequest) -> bool:
    """Whether a drawn note lies in its part's register and, for the bass over a known chord, on one of
    the chord's notes (a bass off the chord blurs the harmony every other part leans to). A note of a part
    the band does not play is imagined and never asked."""
    part, pitch = int(fields[encoding.PART]), int(fields[encoding.PITCH])
    lowest, highest = band.register(part)
    on_chord = part != BASS or band.chord is None or pitch % 12 in band.chord.pitch_classes
    return lowest <= pitch <= highest and on_chord


def chord_lean(chord: Chord | None) -> np.ndarray:
    """What a held chord adds to the band's pitch logits: notes outside it are taken CHORD_TONE_PULL nats
    (a lean: passing notes still pass)."""
    lean = np.zeros(encoding.PITCHES, dtype=np.float32)
    if chord is not None:
        outside = [pitch for pitch in range(encoding.PITCHES) if pitch % 12 not in chord.pitch_classes]
        lean[outside] = -CHORD_TONE_PULL
    return lean


def melody_lean(held: set[int]) -> np.ndarray:
    """What the melody's held notes add to the band's pitch logits: a note that would rub against one of
    them is taken MELODY_CLASH_PULL nats."""
    lean = np.zeros(encoding.PITCHES, dtype=np.float32)
    for pitch in held:
        lean[~CONSONANT_CLASSES[pitch % 12][PITCH_CLASSES]] -= MELODY_CLASH_PULL
    return lean


def tune_lean(last: int | None, key: Key | None) -> np.ndarray:
    """What the tune's likely next note adds to the band's pitch logits: each pitch TUNE_STEP_PULL times the
    log of its chance of sounding consonant with that note (nothing before the tune has struck one)."""
    if last is None:
        return np.zeros(encoding.PITCHES, dtype=np.float32)
    safe = next_pitch_classes(last, key) @ CONSONANT_CLASSES  # each class's chance of consonance with it
    return (TUNE_STEP_PULL * np.log(np.maximum(safe, 1e-3)))[PITCH_CLASSES].astype(np.float32)


def bass_lean(chord: Chord) -> np.ndarray:
    """What a bass note adds beside the chord's lean: the root most, the fifth half as much."""
    lean = np.zeros(encoding.PITCHES, dtype=np.float32)
    lean[chord.root::12] += ROOT_PULL
    lean[chord.fifth::12] += ROOT_PULL / 2
    return lean
