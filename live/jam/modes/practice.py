"""`--mode practice`: the bot plays a short phrase, the player echoes it, Duetto scores the echo.

Each round the bot composes a line in the key and makes of it a phrase a learner can echo: `length` single
notes on the eighth-note grid of the tempo, none shorter than an eighth, within an octave and a half around
the player's register (the middle of the keyboard until the player has played), moving mostly by step and
never by more than a fifth. The model gives the phrase its rhythm and contour; the rules keep it playable.

Then it listens. The echo may begin up to PATIENCE_BEATS after the phrase ends and lasts as long as the
phrase did, plus the phrase gap: a long note let go early or a rest is no end to it. Pitch accuracy is the
share of the phrase's notes found in order in the echo (longest common subsequence); timing accuracy, on
the matched notes alone, is how close their onsets, measured from the first match, are to the phrase's (a
miss by half a beat or more scores nothing). So a wrong note costs pitch, never timing. A round with no
echo is missed; after MISSES_BEFORE_WAITING rounds in a row in which the player struck no key, the bot waits
for the player: it plays no more phrases until they play something.
The bot never begins a phrase while the player plays: the next one comes PAUSE_SECONDS after they stop.

A clean echo makes the next phrase a note longer and a little wilder; a poor one makes it shorter and
tamer. The summary at the end gives the rounds, the missed ones, the averages and the longest clean echo.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

from duetto.jam.modes.base import Mode, Stage
from duetto.music.clock import Grid
from duetto.music.key import Key, parse_key
from duetto.music.notes import CHORD_SECONDS, KeyEvent, Note

FIRST_LENGTH, SHORTEST, LONGEST = 4, 3, 12  # notes per phrase
LONGEST_NOTE_EIGHTHS = 4  # a phrase's notes last an eighth to a half note
RANGE_SEMITONES = 18  # the phrase stays within an octave and a half...
MIDDLE_C = 60  # ...around the player's register, or middle C before the player has played
REGISTER_NOTES = 16  # the player's register: the median of this many of their latest notes
LARGEST_LEAP = 7  # semitones (a fifth)
STEPS_BETWEEN_LEAPS = 2  # a leap (beyond the next note of the scale) comes only after this many steps
FALLBACK_BPM = 90.0
DEFAULT_KEY = "C:major"
PAUSE_SECONDS = 1.0  # between the score (or the player's last key) and the next phrase
LEAD_SECONDS = 0.3  # the phrase starts on the first beat at least this far ahead
PATIENCE_BEATS = 4  # the echo must begin within a bar of the phrase's end
MISSES_BEFORE_WAITING = 3  # missed rounds in a row, after which the bot waits for the player
CLEAN_PITCH, CLEAN_TIMING, POOR_PITCH = 0.9, 0.7, 0.6
TEMPERATURE_STEP, TAMEST, WILDEST = 0.1, 0.5, 1.2
SOURCE_FALLBACK = "practice default"


@dataclass(frozen=True)
class Score:
    notes: int  # in the phrase
    echoed: int  # notes in the echo; 0: the round was missed
    pitch: float  # 0..1
    timing: float | None  # 0..1, over the matched notes; None when no note matched

    @property
    def missed(self) -> bool:
        return self.echoed == 0

    @property
    def clean(self) -> bool:
        return self.pitch >= CLEAN_PITCH and self.timing is not None and self.timing >= CLEAN_TIMING


def matched_pairs(target: list[int], echo: list[int]) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence of two pitch sequences."""
    rows, cols = len(target), len(echo)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            table[i][j] = (table[i + 1][j + 1] + 1 if target[i] == echo[j]
                           else max(table[i + 1][j], table[i][j + 1]))
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        if target[i] == echo[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def score_echo(phrase: list[tuple[float, int]], echo: list[tuple[float, int]], beat: float) -> Score:
    """Score an echo against the phrase; both are (onset seconds, pitch) in order. Pitch and timing are
    judged apart: timing only on the notes that match, so a wrong or missing note is counted once."""
    pairs = matched_pairs([pitch for _, pitch in phrase], [pitch for _, pitch in echo])
    if not pairs:
        return Score(len(phrase), len(echo), 0.0, None)
    pitch = len(pairs) / max(len(phrase), len(echo))
    phrase_zero, echo_zero = phrase[pairs[0][0]][0], echo[pairs[0][1]][0]
    errors = [abs((echo[j][0] - echo_zero) - (phrase[i][0] - phrase_zero)) for i, j in pairs]
    timing = statistics.mean(max(0.0, 1.0 - error / (beat / 2)) for error in errors)
    return Score(len(phrase), len(echo), pitch, timing)


def top_line(events: list[KeyEvent], count: int) -> list[Note]:
    """The first `count` notes of the highest voice: of the keys struck together (within CHORD_SECONDS of
    the first), the highest, held until it is released or the next note begins."""
    released: dict[int, list[float]] = {}
    groups: list[KeyEvent] = []  # each group's first onset, with its highest pitch
    for event in events:
        if event.velocity == 0:
            released.setdefault(event.pitch, []).append(event.seconds)
        elif groups and event.seconds - groups[-1].seconds < CHORD_SECONDS:
            if event.pitch > groups[-1].pitch:
                groups[-1] = KeyEvent(groups[-1].seconds, event.pitch, event.velocity)
        else:
            groups.append(event)
    melody = groups[:count]
    line = []
    for note, following in zip(melody, melody[1:] + [None]):
        ends = [t for t in released.get(note.pitch, []) if t > note.seconds]
        end = min(ends + ([following.seconds] if following is not None else []), default=note.seconds)
        line.append(Note(note.seconds, end, note.pitch, note.velocity))
    return line


def singable_scale(key: Key, centre: int) -> list[int]:
    """The key's pitches, low to high, within RANGE_SEMITONES around `centre`."""
    low = centre - RANGE_SEMITONES // 2
    return [pitch for pitch in range(low, low + RANGE_SEMITONES + 1) if pitch % 12 in key.pitch_classes]


def followable_pitches(pitches: list[int], scale: list[int]) -> list[int]:
    """A line's pitches redrawn on `scale` the way a learner can follow them.

    The first note is the model's, moved by octaves to the middle of the scale. Each move after it goes
    where the model's went (by the nearest octave, so a leap of 19 semitones counts as one of 7), to the
    scale note nearest there, but no further than the next scale note (a step) unless STEPS_BETWEEN_LEAPS
    steps came first, and never beyond LARGEST_LEAP; a move that would leave the scale turns back instead.
    So at least half the moves are steps.
    """
    middle = scale[len(scale) // 2]
    first = pitches[0] + 12 * round((middle - pitches[0]) / 12)
    at = min(range(len(scale)), key=lambda index: abs(scale[index] - first))
    line, steps = [scale[at]], 0
    for previous, pitch in zip(pitches, pitches[1:]):
        interval = (pitch - previous) - 12 * round((pitch - previous) / 12)
        wanted = scale[at] + interval
        if not scale[0] <= wanted <= scale[-1]:
            wanted = scale[at] - interval
        reach = [index for index in range(len(scale)) if abs(index - at) <= 1
                 or (steps >= STEPS_BETWEEN_LEAPS and abs(scale[index] - scale[at]) <= LARGEST_LEAP)]
        to = min(reach, key=lambda index: (abs(scale[index] - wanted), abs(index - at)))
        steps = steps + 1 if abs(to - at) <= 1 else 0
        at = to
        line.append(scale[at])
    return line


def practice_phrase(line: list[Note], scale: list[int], eighth: float) -> list[KeyEvent]:
    """Key events of a phrase to echo, timed from 0: the line's notes one after another on the eighth-note
    grid, with the pitches of `followable_pitches`. Each lasts until the next begins, as many eighths (one
    to LONGEST_NOTE_EIGHTHS) as the model's time from its onset to the next rounds to: the model's rhythm,
    without its grace notes and flams."""
    pitches = followable_pitches([note.pitch for note in line], scale)
    ends = [following.start for following in line[1:]] + [line[-1].end]
    events, at = [], 0
    for note, end, pitch in zip(line, ends, pitches):
        eighths = min(LONGEST_NOTE_EIGHTHS, max(1, round((end - note.start) / eighth)))
        events += [KeyEvent(at * eighth, pitch, note.velocity), KeyEvent((at + eighths) * eighth, pitch, 0)]
        at += eighths
    return events


class PracticeMode(Mode):
    name = "practice"

    def __init__(self) -> None:
        super().__init__()
        self._chosen_key: Key | None = None
        self.length = FIRST_LENGTH
        self.scores: list[Score] = []
        self.phrase: list[tuple[float, int]] = []  # (onset, pitch) of the phrase to echo
        self._phrase_seconds = 0.0  # from its first onset to its last note's end
        self._echo: list[tuple[float, int]] = []
        self._listening = False
        self._beat = 60.0 / FALLBACK_BPM
        self._register: deque[int] = deque(maxlen=REGISTER_NOTES)  # the player's latest pitches
        self._missed_in_a_row = 0  # rounds missed since the player last struck a key

    def begin(self, stage: Stage) -> None:
        super().begin(stage)
        self._chosen_key = stage.settings.key
        self.change(("scale_lock",), True)
        self.change(("feel", "quantize"), 1.0)  # on the eighth-note grid
        self.change(("feel", "steps_per_beat"), 2)
        self.wake_at = stage.now() + PAUSE_SECONDS

    def _grid(self, now: float) -> Grid:
        grid = self.stage.grid()
        return grid if grid is not None else Grid(60.0 / FALLBACK_BPM, now, SOURCE_FALLBACK)

    def tick(self, now: float) -> None:
        if self._listening:
            self._score()
        elif self.stage.keys_held:
            self.wake_at = math.inf  # the player is playing: the key-up reschedules (`player_note`)
        else:
            self._play_phrase(now)

    def _play_phrase(self, now: float) -> None:
        stage = self.stage
        key = self._chosen_key or stage.heard_key or parse_key(DEFAULT_KEY)
        self.change(("key",), key)
        seconds = 2 * self.length * self._grid(now).beat  # room for `length` notes of up to a beat each
        line = self._compose_line(seconds)
        if not line:  # composing was cut short: try again after a pause
            self.wake_at = now + PAUSE_SECONDS
            return
        # the whole phrase is composed before it is played, which can take longer than the lead: its
        # first beat is chosen once composing is done, or its first notes would be due already
        now = stage.now()
        grid = self._grid(now)
        self._beat = grid.beat
        start = grid.next_beat(now + LEAD_SECONDS)
        centre = round(statistics.median(self._register)) if self._register else MIDDLE_C
        events = practice_phrase(line, singable_scale(key, centre), grid.beat / 2)
        self.phrase = stage.perform(lambda: events, start, grid)
        self._phrase_seconds = events[-1].seconds
        self._echo = []
        self._listening = True
        self.wake_at = start + self._phrase_seconds + PATIENCE_BEATS * grid.beat

    def _compose_line(self, seconds: float) -> list[Note]:
        """The model's line for the next phrase. Composing stops as soon as a note after the phrase's
        last has begun (that onset is where the last note ends), not after `seconds` of music."""
        events: list[KeyEvent] = []
        for event in self.stage.compose(seconds, lambda: self.stage.stopping, texture="line"):
            events.append(event)
            if event.velocity > 0 and len(top_line(events, self.length + 1)) > self.length:
                break
        return top_line(events, self.length)

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        if velocity > 0:
            self._register.append(pitch)
            self._missed_in_a_row = 0
        if not self._listening:
            # between rounds (or waiting for the player): the next phrase comes once they have stopped
            self.wake_at = math.inf if keys_down else stamp + PAUSE_SECONDS
        elif velocity > 0 and stamp >= self.phrase[-1][0]:  # playing along with the phrase is not echoing it
            if not self._echo:
                self.wake_at = stamp + self._phrase_seconds + self.stage.settings.phrase_gap
            self._echo.append((stamp, pitch))

    def _score(self) -> None:
        stage = self.stage
        score = score_echo(self.phrase, self._echo, self._beat)
        self.scores.append(score)
        self._listening = False
        self.wake_at = stage.now() + PAUSE_SECONDS
        if score.missed:
            self._missed_in_a_row += 1
            result = "missed (no echo)"
            if self._missed_in_a_row >= MISSES_BEFORE_WAITING:
                self.wake_at = math.inf  # until the player plays (`player_note`)
                result += f"; {self._missed_in_a_row} missed in a row: waiting for you to play"
        else:
            self._adapt(score)
            timing = "n/a" if score.timing is None else f"{score.timing:.0%}"
            result = (f"pitch {score.pitch:.0%}, timing {timing} ({score.notes} notes)"
                      f"{' - clean!' if score.clean else ''}; next phrase: {self.length} notes")
        stage.log(f"duetto practice: round {len(self.scores)}: {result}")

    def _adapt(self, score: Score) -> None:
        """A clean echo: the next phrase a note longer and a little wilder; a poor one: shorter, tamer."""
        temperature = self.stage.settings.temperature
        if score.clean:
            self.length = min(LONGEST, self.length + 1)
            self.change(("temperature",), min(WILDEST, temperature + TEMPERATURE_STEP))
        elif score.pitch < POOR_PITCH:
            self.length = max(SHORTEST, self.length - 1)
            self.change(("temperature",), max(TAMEST, temperature - TEMPERATURE_STEP))

    def summary(self) -> str | None:
        if not self.scores:
            return "duetto practice: no rounds finished"
        echoed = [score for score in self.scores if not score.missed]
        rounds = f"duetto practice: {len(self.scores)} rounds, {len(self.scores) - len(echoed)} missed"
        if not echoed:
            return rounds
        timed = [score.timing for score in echoed if score.timing is not None]
        timing = f"{statistics.mean(timed):.0%}" if timed else "n/a"
        clean = [score.notes for score in echoed if score.clean]
        return (f"{rounds}; pitch {statistics.mean(score.pitch for score in echoed):.0%} and timing {timing} "
                f"on average, {len(clean)} clean echoes, longest clean phrase {max(clean, default=0)} notes")
