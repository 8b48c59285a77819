"""`--mode practice`: the bot plays a short phrase, the player echoes it, Duetto scores the echo.

Each round the bot composes a passage in the key, on an eighth-note grid in the current tempo, and plays
its top line, `length` notes, as the phrase (one note at a time, so it can be echoed). Then it listens: the echo ends after the phrase gap of
silence, or counts as missed if nothing comes in time. Pitch accuracy is the share of the phrase's
notes found in order in the echo (longest common subsequence); timing accuracy is how close the matched
notes' onsets, measured from each part's first note, are to the phrase's (a miss by half a beat or
more scores nothing). A clean echo makes the next phrase a note longer and a little wilder; a poor one
makes it shorter and tamer. The summary at the end gives the averages and the longest clean echo.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from duetto.encodings.events import STEP_SECONDS
from duetto.jam.modes.base import Mode, Stage
from duetto.music.clock import CHORD_SECONDS, Grid
from duetto.music.key import parse_key
from duetto.music.notes import KeyEvent

FIRST_LENGTH, SHORTEST, LONGEST = 4, 3, 12  # notes per phrase
FALLBACK_BPM = 90.0
DEFAULT_KEY = "C:major"
PAUSE_SECONDS = 1.0  # between the score and the next phrase
LEAD_SECONDS = 0.3  # the phrase starts on the first beat at least this far ahead
PATIENCE_SECONDS = 4.0  # waiting for the echo to begin, after the phrase ends
CLEAN_PITCH, CLEAN_TIMING, POOR_PITCH = 0.9, 0.7, 0.6
TEMPERATURE_STEP, TAMEST, WILDEST = 0.1, 0.5, 1.2
SOURCE_FALLBACK = "practice default"


@dataclass(frozen=True)
class Score:
    notes: int  # in the phrase
    pitch: float  # 0..1
    timing: float  # 0..1

    @property
    def clean(self) -> bool:
        return self.pitch >= CLEAN_PITCH and self.timing >= CLEAN_TIMING


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
    """Score an echo against the phrase; both are (onset seconds, pitch) in order."""
    if not phrase or not echo:
        return Score(len(phrase), 0.0, 0.0)
    pairs = matched_pairs([pitch for _, pitch in phrase], [pitch for _, pitch in echo])
    pitch = len(pairs) / max(len(phrase), len(echo))
    if not pairs:
        return Score(len(phrase), 0.0, 0.0)
    phrase_zero, echo_zero = phrase[pairs[0][0]][0], echo[pairs[0][1]][0]
    errors = [abs((echo[j][0] - echo_zero) - (phrase[i][0] - phrase_zero)) for i, j in pairs]
    timing = statistics.mean(max(0.0, 1.0 - error / (beat / 2)) for error in errors) * len(pairs) / len(phrase)
    return Score(len(phrase), pitch, timing)


def top_line(events: list[KeyEvent], count: int) -> list[KeyEvent]:
    """The first `count` notes of the highest voice: of the keys struck together (within CHORD_SECONDS of
    the first), the highest, held until it is released or the next note begins."""
    released: dict[int, list[float]] = {}
    groups: list[tuple[float, KeyEvent]] = []  # (when the group began, its highest note)
    for event in events:
        if event.velocity == 0:
            released.setdefault(event.pitch, []).append(event.seconds)
        elif groups and event.seconds - groups[-1][0] < CHORD_SECONDS:
            if event.pitch > groups[-1][1].pitch:
                groups[-1] = (groups[-1][0], KeyEvent(groups[-1][0], event.pitch, event.velocity))
        else:
            groups.append((event.seconds, event))
    melody = [note for _, note in groups[:count]]
    line = []
    for note, following in zip(melody, melody[1:] + [None]):
        end = min([t for t in released.get(note.pitch, []) if t > note.seconds] or [note.seconds + STEP_SECONDS])
        if following is not None:
            end = min(end, following.seconds)
        line += [note, KeyEvent(end, note.pitch, 0)]
    return sorted(line, key=lambda event: (event.seconds, event.velocity > 0))


class PracticeMode(Mode):
    name = "practice"

    def __init__(self) -> None:
        super().__init__()
        self._chosen_key = None
        self.length = FIRST_LENGTH
        self.scores: list[Score] = []
        self.phrase: list[tuple[float, int]] = []  # (onset, pitch) of the phrase to echo
        self._echo: list[tuple[float, int]] = []
        self._listening = False
        self._beat = 60.0 / FALLBACK_BPM

    def begin(self, stage: Stage) -> None:
        super().begin(stage)
        settings = stage.settings
        self._chosen_key = settings.key
        settings.scale_lock = True
        settings.feel.quantize, settings.feel.steps_per_beat = 1.0, 2  # on the eighth-note grid
        self.wake_at = stage.now() + PAUSE_SECONDS

    def _grid(self, now: float) -> Grid:
        grid = self.stage.grid()
        return grid if grid is not None else Grid(60.0 / FALLBACK_BPM, now, SOURCE_FALLBACK)

    def tick(self, now: float) -> None:
        if self._listening:
            self._score()
        else:
            self._play_phrase(now)

    def _play_phrase(self, now: float) -> None:
        stage = self.stage
        stage.settings.key = self._chosen_key or stage.heard_key or parse_key(DEFAULT_KEY)
        grid = self._grid(now)
        self._beat = grid.beat
        start = grid.next_beat(now + LEAD_SECONDS)
        seconds = 2 * self.length * grid.beat  # room for `length` notes of up to a beat each
        events = top_line(list(stage.compose(seconds, lambda: stage.stopping, texture="line")), self.length)
        self.phrase = stage.perform(lambda: events, start, grid)
        self._echo = []
        self._listening = True
        ends = max((event.seconds for event in events), default=0.0) + start
        self.wake_at = ends + PATIENCE_SECONDS + stage.settings.phrase_gap

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        if not self._listening or not self.phrase or stamp < self.phrase[-1][0]:
            return  # playing along with the phrase is not echoing it
        if velocity > 0:
            self._echo.append((stamp, pitch))
            self.wake_at = math.inf  # until the keys are up again
        elif not keys_down and self._echo:
            self.wake_at = stamp + self.stage.settings.phrase_gap

    def _score(self) -> None:
        stage = self.stage
        score = score_echo(self.phrase, self._echo, self._beat)
        self.scores.append(score)
        settings = stage.settings
        if score.clean:
            self.length = min(LONGEST, self.length + 1)
            settings.temperature = min(WILDEST, settings.temperature + TEMPERATURE_STEP)
        elif score.pitch < POOR_PITCH:
            self.length = max(SHORTEST, self.length - 1)
            settings.temperature = max(TAMEST, settings.temperature - TEMPERATURE_STEP)
        stage.log(f"duetto practice: round {len(self.scores)}: pitch {score.pitch:.0%}, timing {score.timing:.0%} "
                   f"({score.notes} notes){' - clean!' if score.clean else ''}; next phrase: {self.length} notes")
        self._listening = False
        self.wake_at = stage.now() + PAUSE_SECONDS

    def summary(self) -> str | None:
        if not self.scores:
            return "duetto practice: no rounds finished"
        clean = [score.notes for score in self.scores if score.clean]
        return (f"duetto practice: {len(self.scores)} rounds, pitch {statistics.mean(s.pitch for s in self.scores):.0%}"
                f" and timing {statistics.mean(s.timing for s in self.scores):.0%} on average, "
                f"{len(clean)} clean echoes, longest clean phrase {max(clean, default=0)} notes")
