"""Pictures a musician reads at a glance, drawn with matplotlib: the shared machinery and the piano roll.

matplotlib is an optional extra (`duetto[plot]`): the runtime never needs it to play, so it is imported
only when a picture is asked for, and `require_matplotlib` lets a command say so in one line before any
work starts. Figures are built as plain `Figure` objects on the Agg canvas, never through pyplot, so
drawing opens no window, keeps no global state and works on a machine without a display.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from duetto.atomic import write_atomically
from duetto.errors import DuettoError
from duetto.midi.messages import DRUM_CHANNEL
from duetto.music.key import NAMES
from duetto.music.notes import Note

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PICTURE_SUFFIXES = (".png", ".svg", ".pdf")  # what a picture's file name may ask for
PART_COLOURS = ("#1f6fb4", "#e8590c", "#2b8a3e", "#862e9c")  # the player's blue, Duetto's orange, then more
MARK_COLOUR = "#343a40"
BLACK_KEYS = {1, 3, 6, 8, 10}
BEATS_PER_BAR = 4
MINUTES_AFTER_SECONDS = 120.0  # a time axis reaching further reads as minutes and seconds
DPI = 120


class PlotError(DuettoError):
    """A picture cannot be drawn here; the message is one line saying what to install."""


def require_matplotlib() -> None:
    """Raise PlotError, in one line, when matplotlib is not installed; a command calls this before its work."""
    try:
        import matplotlib  # noqa: F401 - only whether it is there
    except ImportError:
        raise PlotError("drawing pictures needs matplotlib: pip install 'duetto[plot]'") from None


def new_figure(width: float, height: float) -> "Figure":
    """An empty figure on the Agg canvas (no pyplot, no window), `width` × `height` inches."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: "Figure", path: str | os.PathLike) -> None:
    """Write `figure` in the format its file name asks for (.png, .svg, .pdf), atomically. The first
    title on it goes into the file's metadata too, so a viewer lists what the picture shows."""
    suffix = Path(path).suffix.lower()
    if suffix not in PICTURE_SUFFIXES:
        raise PlotError(f"{path}: a picture is named {', '.join(PICTURE_SUFFIXES)}")
    titles = (axes.get_title(loc=place) for axes in figure.axes for place in ("left", "center", "right"))
    title = next((title for title in titles if title), "")
    metadata = {"Title": title} if title else {}
    write_atomically(path, lambda handle: figure.savefig(handle, format=suffix[1:], metadata=metadata))


@dataclass(frozen=True)
class Mark:
    """A moment worth a vertical line and a word: where the continuation starts, where an answer begins.
    Naming the part that begins there draws the line in that part's colour."""

    seconds: float
    label: str
    part: str | None = None


def pitch_name(pitch: int) -> str:
    """A MIDI note number as a musician names it: 60 is C4."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def bar_starts(tempos: Sequence[tuple[float, float]], until: float) -> list[float]:
    """The seconds at which bars begin up to `until`, bar 1 at time 0, following a tempo map of (seconds,
    BPM). MIDI files rarely carry a metre worth trusting, so a bar is BEATS_PER_BAR beats."""
    changes = [(at, bpm) for at, bpm in tempos if at < until] or list(tempos[:1])
    times, beats = [0.0], [0.0]  # where the beat count is known; it grows linearly in between
    for (_, bpm), following in zip(changes, [at for at, _ in changes[1:]] + [until]):
        beats.append(beats[-1] + (following - times[-1]) * bpm / 60.0)
        times.append(following)
    bars = np.arange(0.0, beats[-1] + 1e-9, BEATS_PER_BAR)
    return [float(at) for at in np.interp(bars, beats, times)]


def piano_roll_figure(parts: dict[str, Sequence[Note]], marks: Sequence[Mark] = (),
                      tempos: Sequence[tuple[float, float]] | None = None, since: float = 0.0,
                      title: str = "") -> "Figure":
    """Each part's notes as bars in its own colour (shaded by velocity) against time in seconds and
    pitch names, with black-key rows shaded as on a keyboard, a legend naming the parts, a dashed line
    at each mark, and bar numbers along the top when a tempo map is given. Only what sounds from `since`
    on is drawn (a long prompt shows its end); drum-channel notes are left out, their numbers being
    instruments, not pitches. The figure grows with the time and pitch range shown, within bounds."""
    shown = {name: [n for n in notes if n.end > since and n.channel != DRUM_CHANNEL] for name, notes in parts.items()}
    every = [note for notes in shown.values() for note in notes]
    if not every:
        raise PlotError("nothing to draw: no pitched notes")
    end = max([n.end for n in every] + [mark.seconds for mark in marks])
    low, high = min(n.pitch for n in every) - 2, max(n.pitch for n in every) + 2
    seconds = end - since
    figure = new_figure(width=min(16.0, max(7.0, 2.0 + 0.45 * seconds)),
                        height=min(9.0, max(3.2, 1.6 + 0.11 * (high - low))))
    axes = figure.add_subplot()
    draw_keyboard_rows(axes, low, high)
    draw_notes(axes, shown, since)
    if tempos:
        draw_bars(axes, bar_starts(tempos, end), since)
    colours = part_colours(parts)
    for mark in marks:
        draw_mark(axes, mark, colours.get(mark.part, MARK_COLOUR))
    axes.set_xlim(since, end + 0.02 * seconds)
    axes.set_ylim(low - 0.5, high + 0.5)
    if end > MINUTES_AFTER_SECONDS:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 3, 5, 6, 10], integer=True))  # whole seconds, minutes
        axes.xaxis.set_major_formatter(FuncFormatter(lambda at, _: f"{int(at) // 60}:{int(at) % 60:02d}"))
    axes.set_xlabel("time (m:ss)" if end > MINUTES_AFTER_SECONDS else "time (s)")
    axes.set_ylabel("pitch")
    axes.set_title(title, loc="left")
    return figure


def part_colours(parts: dict[str, Sequence[Note]]) -> dict[str, str]:
    """Each part's colour, by its place: the player (or prompt) first in blue, Duetto next in orange."""
    return {name: PART_COLOURS[index % len(PART_COLOURS)] for index, name in enumerate(parts)}


def draw_keyboard_rows(axes: "Axes", low: int, high: int) -> None:
    """Pitch names on the white keys (every one for a narrow range; C, E and G, or only C, for wider ones)
    and a grey band along each black key, so a note's pitch is read as on a DAW's piano roll."""
    span = high - low
    named = (0, 2, 4, 5, 7, 9, 11) if span <= 30 else (0, 4, 7) if span <= 60 else (0,)
    labelled = [pitch for pitch in range(low, high + 1) if pitch % 12 in named]
    axes.set_yticks(labelled, labels=[pitch_name(p) for p in labelled])
    for pitch in range(low, high + 1):
        if pitch % 12 in BLACK_KEYS:
            axes.axhspan(pitch - 0.5, pitch + 0.5, color="#f1f3f5", zorder=0, linewidth=0)
        if pitch % 12 == 0:
            axes.axhline(pitch - 0.5, color="#ced4da", linewidth=0.8, zorder=0.5)


def draw_notes(axes: "Axes", parts: dict[str, Sequence[Note]], since: float) -> None:
    """One rectangle per note in its part's colour, louder notes more opaque; a legend names the parts."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    handles = []
    for (name, notes), colour in zip(parts.items(), part_colours(parts).values()):
        boxes = [[(max(n.start, since), n.pitch - 0.4), (n.end, n.pitch - 0.4), (n.end, n.pitch + 0.4),
                  (max(n.start, since), n.pitch + 0.4)] for n in notes]
        faces = [to_rgba(colour, 0.35 + 0.65 * n.velocity / 127) for n in notes]
        axes.add_collection(PolyCollection(boxes, facecolors=faces, edgecolors=colour, linewidths=0.6, zorder=2))
        handles.append(Patch(facecolor=colour, edgecolor=colour, label=name))
    # beside the roll, not on it, so it never hides a note
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                title="darker: louder", title_fontsize=8)


def draw_bars(axes: "Axes", starts: Sequence[float], since: float) -> None:
    """A faint line where each bar begins and its number along the top, thinned to about 24 numbers
    (and the lines to four between numbers)."""
    visible = [(number, at) for number, at in enumerate(starts, start=1) if at >= since]
    if not visible:
        return
    every = 2 ** max(0, math.ceil(math.log2(max(1, len(visible) / 24))))
    for number, at in visible:
        if (number - 1) % max(1, every // 4) == 0:
            axes.axvline(at, color="#dee2e6", linewidth=0.8, zorder=1)
    top = axes.secondary_xaxis("top")
    labelled = [(number, at) for number, at in visible if (number - 1) % every == 0]
    top.set_xticks([at for _, at in labelled], labels=[str(number) for number, _ in labelled])
    top.set_xlabel(f"bar ({BEATS_PER_BAR} beats)")


def draw_mark(axes: "Axes", mark: Mark, colour: str) -> None:
    """A dashed line at the mark, its label beside it at the top of the roll."""
    axes.axvline(mark.seconds, color=colour, linestyle="--", linewidth=1.2, zorder=3, gid="mark")
    axes.annotate(mark.label, xy=(mark.seconds, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -4),
                  textcoords="offset points", ha="left", va="top", fontsize=9, color=colour,
                  bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
