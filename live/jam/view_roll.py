"""The live view's piano roll, drawn from one `Status`: the last few bars of the duet and the bot's plan.

In band mode each band part is a lane of its own colour (bass green, chords yellow, line blue) in the
register it keeps to, its plan drawn ahead of the now line as the bot's is.

Time runs left to right past a "now" line two thirds of the way across; what lies right of it is the
answer the scheduler holds queued, drawn before it sounds (as a waterfall shows what is coming), so the
player can hear ahead. With a tempo the window is measured in beats and the beats are drawn; without, in
seconds. The pitch axis fits the notes in view. Each part has a glyph of its own as well as a colour, so
the roll reads on any terminal and in a plain text capture. Pure: a status in, rich Text out, no terminal.
"""

from __future__ import annotations

import math

from rich.text import Text

from duetto.jam.intake import BOT, PLAYER
from duetto.jam.status import RollNote, Status
from duetto.music.key import NAMES

PAST_BEATS, AHEAD_BEATS = 12, 6  # with a tempo: three bars of 4/4 behind, a bar and a half ahead
PAST_SECONDS, AHEAD_SECONDS = 8.0, 4.0  # without one
LABEL = 4  # columns for the pitch names
MIDDLE = 66  # the pitch the roll centres on while nothing is in view
PLAYED, PLANNED = "played", "planned"
LANES = {PLAYER: ("█", "▒", "cyan"), BOT: ("▓", "░", "magenta"),  # played and planned glyphs, colour
         "bass": ("▓", "░", "green"), "chords": ("▓", "░", "yellow"), "line": ("▓", "░", "blue")}
GLYPHS = {(lane, kind): (glyph, f"bold {colour}" if kind == PLAYED else colour)
          for lane, (played, planned, colour) in LANES.items() for kind, glyph in ((PLAYED, played), (PLANNED, planned))}
BLACK_KEYS = (1, 3, 6, 8, 10)  # pitch classes
NOW_GLYPH, BEAT_GLYPH = ("│", "bold white"), ("┊", "grey39")
LEGEND = [("█ you", "bold cyan"), ("▓ Duetto", "bold magenta"), ("░ Duetto's plan", "magenta"),
          ("│ now", "bold white"), ("┊ beat", "grey39")]
BAND_LEGEND = [("█ you", "bold cyan"), ("▓ bass", "bold green"), ("▓ chords", "bold yellow"), ("▓ line", "bold blue"),
               ("░ plan", "white"), ("│ now", "bold white"), ("┊ beat", "grey39")]


def legend(mode: str) -> list[tuple[str, str]]:
    """The roll's key: the band's lanes in band mode, else the duet's two parts."""
    return BAND_LEGEND if mode == "band" else LEGEND


def pitch_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def window(status: Status) -> tuple[float, float]:
    """The seconds shown before now and after it."""
    if status.grid is None:
        return PAST_SECONDS, AHEAD_SECONDS
    return PAST_BEATS * status.grid.beat, AHEAD_BEATS * status.grid.beat


def pitch_rows(notes: list[RollNote], rows: int) -> list[int]:
    """The pitches of the rows, top (highest) first: the notes' range, padded, centred in `rows`."""
    if notes:
        lowest, highest = min(note.pitch for note in notes), max(note.pitch for note in notes)
    else:
        lowest = highest = MIDDLE
    middle = (lowest + highest + 1) // 2
    bottom = min(max(0, middle - rows // 2), max(0, 128 - rows))
    return list(range(min(127, bottom + rows - 1), bottom - 1, -1))


def draw(status: Status, width: int, height: int) -> Text:
    """The roll for `status`, `width` columns by `height` rows (a time ruler on top)."""
    columns, rows = max(8, width - LABEL), max(1, height - 1)
    past, ahead = window(status)
    begin = status.now - past
    step = (past + ahead) / columns

    def column(at: float) -> int:
        return math.floor((at - begin) / step)

    shown = [(note, PLAYED) for note in status.notes] + [(note, PLANNED) for note in status.plan]
    shown = [(note, kind) for note, kind in shown
             if note.start < begin + past + ahead and (note.end is None or note.end > begin)]
    pitches = pitch_rows([note for note, _ in shown], rows)
    row_of = {pitch: index for index, pitch in enumerate(pitches)}
    cells = [[(" ", "")] * columns for _ in pitches]
    if status.grid is not None:
        beat = status.grid.next_beat(begin)
        while beat < begin + past + ahead:
            for row in cells:
                row[column(beat)] = BEAT_GLYPH
            beat += status.grid.beat
    now = column(status.now)
    for row in cells:
        row[now] = NOW_GLYPH
    # the plan first, then the bot's notes, the player's last: where two meet, the player's shows
    for note, kind in sorted(shown, key=lambda item: (item[1] == PLAYED, item[0].part == PLAYER)):
        if note.pitch not in row_of:
            continue
        # still sounding: up to now; planned, its release not yet queued: one cell
        end = note.end if note.end is not None else (status.now if kind == PLAYED else note.start)
        first, last = max(0, column(note.start)), min(columns - 1, max(column(note.start), column(end - 1e-9)))
        glyph = GLYPHS[(note.part, kind)]
        for index in range(first, last + 1):
            cells[row_of[note.pitch]][index] = glyph
    text = Text(no_wrap=True, overflow="crop")
    text.append(" " * LABEL + ruler(columns, now, step, status.grid is not None), style="grey50")
    for pitch, row in zip(pitches, cells):
        text.append("\n")
        text.append(f"{pitch_name(pitch):<{LABEL}}", style="grey50" if pitch % 12 in BLACK_KEYS else "white")
        for glyph, style in _runs(row):
            text.append(glyph, style=style)
    return text


def ruler(columns: int, now: int, step: float, beats: bool) -> str:
    """The top line: seconds before and after now, every two seconds."""
    line = [" "] * columns
    label = "now (beats ┊)" if beats else "now"
    for index, char in enumerate(label):
        if now + index < columns:
            line[now + index] = char
    for offset in range(-30, 31, 2):
        if offset == 0:
            continue
        at = now + round(offset / step)
        mark = f"{offset:+d}s"
        free = all(char == " " for char in line[max(0, at - 1):at + len(mark) + 1])
        if 0 <= at and at + len(mark) <= columns and free:
            line[at:at + len(mark)] = mark
    return "".join(line)


def _runs(row: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Neighbouring cells of one style joined, so the Text holds a few spans, not one a cell."""
    runs: list[tuple[str, str]] = []
    for glyph, style in row:
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + glyph, style)
        else:
            runs.append((glyph, style))
    return runs
