"""`duetto jam --view`: a full-screen live view to play from, built on Textual (the `view` extra).

Everything it shows comes from one immutable `Status` at a time, which the engine thread publishes every
0.1 s (the roll's notes and the bot's plan included); the view never reads the engine's own state. Its
keys reach the engine the way a CC does, through the inbox: `request` for panic, re-roll and undo,
`adjust` for the knobs and the mode; the engine thread carries them out, so it alone owns its settings.

Textual runs its event loop in the main thread, so the view also does the main thread's chores while it
runs (`chore`: the ports connected by name and the synth are checked twice a second) and ends when a
signal sets `stop`, or on q or Ctrl-C; the session (duetto.jam.session) then stops the jam as it always
does.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Protocol

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

from duetto.jam import view_roll
from duetto.jam.status import STATUS_SECONDS, Status

CHORE_SECONDS = 0.5
SAID_LINES = 3  # the latest lines the engine logged, shown under the roll
KEYS = [("r", "re-roll"), ("u", "undo"), ("p", "panic"), ("+/-", "temperature"), ("m", "mode"), ("s", "style"),
        ("x", "texture"), ("t", "pass-through"), ("q", "quit")]


class Jam(Protocol):
    """What the view needs of the engine: its published status, and the two ways to ask it for things."""

    @property
    def status(self) -> Status | None: ...

    def request(self, action: str) -> None: ...

    def adjust(self, name: str, steps: int) -> None: ...


def _pair(values: tuple[float, float] | None) -> str:
    return "-" if values is None else f"{values[0]:.2f} / {values[1]:.2f} ms"


def describe(status: Status) -> list[str]:
    """The lines above the roll. How late each answer's first note left is shown in call mode only, where
    an answer is due the moment the phrase gap ends; elsewhere it means nothing (duet streams a beat at a
    time, each queued a beat ahead, so its "first note" is a note of the beat before)."""
    if status.bpm is None:
        tempo = "no tempo (silence ends phrases in ms)"
    else:
        transport = ", transport running" if status.tempo_source == "midi clock" and status.transport_running else ""
        tempo = f"{status.bpm:.1f} BPM from {status.tempo_source}{transport}"
    key = (status.key or "not heard yet") + (" (locked)" if status.key_locked else "")
    lateness = ""
    if status.mode == "call":
        lateness = f"   answer's first note after due p50/p99 {_pair(status.answer_late_ms)}"
    trouble = [] if status.output_trouble is None else [f"!! {status.output_trouble}"]
    return trouble + [
        f"mode {status.mode}   key {key}   tempo {tempo}",
        f"style {status.style}   texture {status.texture}   temperature {status.temperature:.2f}   "
        f"top-p {status.top_p:.2f}   density {status.density:.2f}   answers {status.response_seconds:.1f} s",
        f"quantize {status.quantize:.2f}   swing {status.swing:.2f}   velocity follow {status.velocity_follow:.2f}   "
        f"pass-through {'on' if status.passthrough else 'off'}",
        f"notes in {status.notes_in}   out {status.notes_out}   answers {status.answers}   "
        f"barge-ins {status.barge_ins}   re-rolls {status.rerolls}   undos {status.undos}   panics {status.panics}   "
        f"dropped {status.dropped}   errors {status.errors}",
        f"model step p50/p99 {_pair(status.step_ms)} on {status.provider}   answers behind {status.overruns}"
        f"{lateness}",
    ]


def legend(mode: str) -> Text:
    text = Text()
    for label, style in view_roll.legend(mode):
        text.append(label, style=style)
        text.append("   ")
    return text


def keys_line() -> Text:
    text = Text()
    for key, what in KEYS:
        text.append(f" {key} ", style="bold reverse")
        text.append(f" {what} ")
    return text


class Roll(Widget):
    """The piano roll (duetto.jam.view_roll), redrawn for each new status."""

    def __init__(self) -> None:
        super().__init__(id="roll")
        self.status: Status | None = None

    def render(self) -> Text:
        if self.status is None:
            return Text("waiting for the engine...")
        return view_roll.draw(self.status, self.size.width, self.size.height)


class LiveView(App):
    CSS = """
    Screen { layout: vertical; }
    #info { height: auto; color: $text; background: $boost; }
    #roll { height: 1fr; }
    #legend { height: 1; }
    #keys { height: auto; }
    #said { height: auto; color: $warning; }
    """
    BINDINGS = [
        Binding("r", "request('reroll')", "re-roll"),
        Binding("u", "request('undo')", "undo"),
        Binding("p", "request('panic')", "panic"),
        Binding("plus,equals_sign", "adjust('temperature', 1)", "temperature up"),
        Binding("minus", "adjust('temperature', -1)", "temperature down"),
        Binding("m", "adjust('mode', 1)", "mode"),
        Binding("s", "adjust('style', 1)", "style"),
        Binding("x", "adjust('texture', 1)", "texture"),
        Binding("t", "adjust('passthrough', 1)", "pass-through"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", priority=True),
    ]

    def __init__(self, jam: Jam, stop: threading.Event, chore: Callable[[], None], said: deque[str]) -> None:
        super().__init__()
        self._jam = jam
        self._stop = stop
        self._chore = chore
        self._said = said
        self._shown: Status | None = None
        self.error: Exception | None = None  # what a chore raised: the jam ends, and the command reports it

    def compose(self) -> ComposeResult:
        yield Static("duetto: starting", id="info")
        yield Roll()
        yield Static(legend("call"), id="legend")
        yield Static("", id="said")
        yield Static(keys_line(), id="keys")

    def on_mount(self) -> None:
        self.title = "duetto"
        self.set_interval(STATUS_SECONDS, self._redraw)
        self.set_interval(CHORE_SECONDS, self._do_chore)

    def _redraw(self) -> None:
        if self._stop.is_set():
            self.exit()
            return
        status = self._jam.status
        if status is None or status is self._shown:
            return
        self._shown = status
        self.query_one("#info", Static).update("\n".join(describe(status)))
        self.query_one("#said", Static).update("\n".join(list(self._said)[-SAID_LINES:]))
        self.query_one("#legend", Static).update(legend(status.mode))
        figure = self.query_one(Roll)
        figure.status = status
        figure.refresh()

    def _do_chore(self) -> None:
        try:
            self._chore()
        except Exception as error:  # noqa: BLE001 - raised again by run_view, once Textual has given the terminal back
            self.error = error
            self.exit()

    def action_request(self, action: str) -> None:
        self._jam.request(action)

    def action_adjust(self, name: str, steps: int) -> None:
        self._jam.adjust(name, steps)


def run_view(jam: Jam, stop: threading.Event, chore: Callable[[], None], said: deque[str]) -> None:
    """Show the view until q, Ctrl-C or `stop`; re-raise what a chore raised."""
    view = LiveView(jam, stop, chore, said)
    view.run()
    if view.error is not None:
        raise view.error
