"""The musical controls a player can turn while jamming, and what a MIDI CC value means for each.

Every control names the setting it moves (a path into `JamSettings`), its range and its step: the one
table of them, read by the option check (`jam.options`), the CC mapping, OSC, the live view's keys and the
config file alike, so a value one of them accepts no other clamps. A CC value 0..127 maps onto the range
(linearly, or evenly in ratio for controls like density where 0.5 and 2 are equally far from 1); a key
press moves by the step (multiplies by it, for those in ratio). Actions (panic, re-roll, undo) fire when their CC rises past the middle, as a pedal or a
button does. The same names are the keys of the `[cc]` table in a config file and of `duetto learn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duetto.midi.messages import SWITCH_ON

ACTIONS = ("panic", "reroll", "undo")
PRESSED = SWITCH_ON  # a CC value at or above this is a pressed button or pedal


@dataclass(frozen=True)
class Control:
    name: str
    path: tuple[str, ...]  # attribute path into JamSettings
    lowest: float
    highest: float
    step: float  # a key press adds this (multiplies by it, in ratio); switches and choices move one along
    type: type = float  # what the setting holds: float, int or bool
    ratio: bool = False  # map CC values evenly in ratio (for multipliers), not in difference
    help: str = ""
    choices: str | None = None  # a choice: the settings attribute listing what may be chosen, in order

    def value(self, cc_value: int, settings: Any = None) -> Any:
        """The setting for a CC value (0..127); a choice's options are read from `settings`, the range of
        CC values split evenly among them."""
        if self.choices is not None:
            options = getattr(settings, self.choices)
            return options[min(len(options) - 1, max(0, cc_value) * len(options) // 128)]
        share = max(0, min(127, cc_value)) / 127
        if self.ratio:
            number = self.lowest * (self.highest / self.lowest) ** share
        else:
            number = self.lowest + share * (self.highest - self.lowest)
        if self.type is bool:
            return cc_value >= PRESSED
        return round(number) if self.type is int else number


CONTROLS = {control.name: control for control in (
    Control("temperature", ("temperature",), 0.0, 2.0, 0.1, help="wildness of the answers (0: greedy)"),
    Control("top_p", ("top_p",), 0.01, 1.0, 0.05, help="share of likely notes sampled from"),
    Control("response_seconds", ("response_seconds",), 0.5, 30.0, 0.5, help="length of each answer"),
    Control("density", ("limits", "density"), 0.1, 10.0, 2 ** 0.25, ratio=True,  # four presses: twice as busy
            help="sparser or busier answers"),
    Control("lowest", ("limits", "lowest"), 0, 127, 1, int, help="bottom of the bot's register"),
    Control("highest", ("limits", "highest"), 0, 127, 1, int, help="top of the bot's register"),
    Control("velocity_follow", ("velocity_follow",), 0.0, 1.0, 0.1, help="how far the bot matches your dynamics"),
    Control("quantize", ("feel", "quantize"), 0.0, 1.0, 0.1, help="pull of the beat grid on the bot's notes"),
    Control("swing", ("feel", "swing"), 0.5, 0.75, 0.025, help="swing of the grid's off-beats"),
    Control("humanize_ms", ("feel", "humanize_ms"), 0.0, 50.0, 2.0, help="random timing spread"),
    Control("phrase_beats", ("phrase_beats",), 0.25, 16.0, 0.25, help="silence in beats that ends your phrase"),
    Control("scale_lock", ("scale_lock",), 0, 1, 1, bool, help="keep the bot in the key"),
    Control("passthrough", ("passthrough",), 0, 1, 1, bool, help="send your notes to the output too"),
    Control("texture", ("texture",), 0, 0, 1, str, choices="texture_choices",
            help="auto, free, line, voices, chords: the answers' texture"),
    Control("style", ("style",), 0, 0, 1, str, choices="style_choices", help="auto, or a style the model knows"),
)}


def control_names() -> list[str]:
    return [*CONTROLS, *ACTIONS]


def check_name(name: str) -> str:
    """The name if it is a control or an action; a ValueError listing them otherwise."""
    if name not in CONTROLS and name not in ACTIONS:
        raise ValueError(f"unknown control {name!r} (controls: {', '.join(control_names())})")
    return name


def holder(settings: Any, path: tuple[str, ...]) -> tuple[Any, str]:
    """The object holding the setting at `path` (attribute names from `settings` down), and its name."""
    target = settings
    for part in path[:-1]:
        target = getattr(target, part)
    return target, path[-1]


def set_control(settings: Any, name: str, value: Any) -> None:
    """Set the setting a control moves, on the thread that owns `settings`."""
    target, attribute = holder(settings, CONTROLS[name].path)
    setattr(target, attribute, value)


def stepped(settings: Any, name: str, steps: int) -> Any:
    """The setting a control moves, `steps` key presses along (negative: back): a number by its step each
    (multiplied by it, for multipliers), kept in the range; a switch toggled; a choice the next option (or
    the previous), round and round."""
    control = CONTROLS[name]
    target, attribute = holder(settings, CONTROLS[name].path)
    current = getattr(target, attribute)
    if control.choices is not None:
        options = getattr(settings, control.choices)
        index = options.index(current) if current in options else -1
        return options[(index + steps) % len(options)]
    if control.type is bool:
        return current if steps % 2 == 0 else not current
    if control.ratio:
        moved = current * control.step ** steps
    else:
        moved = current + steps * control.step
    moved = min(control.highest, max(control.lowest, moved))
    return round(moved) if control.type is int else round(moved, 6)


@dataclass(frozen=True)
class PhraseEnd:
    """What ends the player's phrase: silence, the sustain pedal's release, a CC pressed, or a key."""

    signal: str = "silence"  # silence | pedal | cc | key
    number: int | None = None  # the CC or key number

    def __str__(self) -> str:
        return self.signal if self.number is None else f"{self.signal}:{self.number}"


def parse_phrase_end(text: str) -> PhraseEnd:
    """'silence', 'pedal', 'cc:N' or 'key:N' (N 0..127)."""
    signal, _, number = text.strip().lower().partition(":")
    if signal in ("silence", "pedal") and not number:
        return PhraseEnd(signal)
    if signal in ("cc", "key") and number.isdigit() and int(number) < 128:
        return PhraseEnd(signal, int(number))
    raise ValueError(f"--phrase-end {text!r}: use silence, pedal, cc:N or key:N with N from 0 to 127")
