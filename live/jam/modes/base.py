"""What a mode is, and the stage it plays on.

A mode decides when the bot plays and what it plays for: call and response answers each phrase, duet
plays along, practice plays a phrase for the player to echo. The engine thread drives every mode the same
way: it feeds the voice everything heard, then hands the mode the player's notes and phrase triggers, and
gives it a turn (`tick`) at the time it asked for (`wake_at`). A mode sees only the `Stage`: the few things
the engine offers it, never the engine itself, so a new mode needs nothing but this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

from duetto.jam.controls import holder
from duetto.music.clock import Grid
from duetto.music.key import Key
from duetto.music.notes import KeyEvent
from duetto.voices.base import BandRequest

if TYPE_CHECKING:
    from duetto.jam.settings import JamSettings, JamStats


class Stage(Protocol):
    """What a mode may use. Engine thread only, like the mode itself."""

    settings: "JamSettings"
    stats: "JamStats"

    def now(self) -> float:
        """The clock port stamps and scheduled times are on."""

    def grid(self) -> Grid | None:
        """The beat grid now (MIDI Clock, the player's pulse or --bpm), or None when no tempo is known."""

    @property
    def stopping(self) -> bool:
        """Whether composing should stop now: the jam ends, or an action waits to be carried out."""

    @property
    def keys_held(self) -> bool:
        """Whether the player holds any key down."""

    @property
    def latest_strike(self) -> float:
        """Stamp of the player's latest key-down to arrive, perhaps still waiting in the inbox."""

    @property
    def heard_key(self) -> Key | None:
        """The key heard in the player's playing (None until one is heard)."""

    def compose(self, seconds: float, should_stop: Callable[[], bool], texture: str | None = None,
                start: float | None = None, band: BandRequest | None = None) -> Iterator[KeyEvent]:
        """`seconds` of music continuing what the voice heard, in kind with the player's latest phrase
        (or the texture named here), to be played from `start` (on the session's clock, when known: a
        voice that counts in beats lays its notes out from there); see duetto.voices.in_kind. With a
        `band`, the band's parts instead, each note naming its part."""

    def perform(self, compose: Callable[[], Iterable[KeyEvent]], start: float,
                grid: Grid | None) -> list[tuple[float, int]]:
        """Play what `compose()` yields from `start`: placed on the grid with the feel and dynamics,
        sampled with the current settings; returns the (time meant, pitch) of each note-on queued."""

    @property
    def phrase_has_notes(self) -> bool:
        """Whether the player struck a key since the phrase last ended."""

    def end_phrase(self) -> None:
        """The player's phrase is over: the voice hears any answer held back, and the next key-down opens
        a new phrase (and anchors the player's pulse)."""

    def revoice(self, band: BandRequest) -> int:
        """Voice the band's notes composed ahead and not yet begun again, from all the voice has heard
        since (their times, lengths and parts kept: duetto.voices.metrical); returns how many changed."""

    def replan(self, keep_sounding: Callable[[int, int], bool]) -> None:
        """Drop the bot's notes composed ahead and not yet begun; let go now of the sounding ones for which
        `keep_sounding(channel, pitch)` is false (the rest play out)."""

    def silence_bot(self) -> bool:
        """Stop what the bot plays or is about to play, now; True if it had anything playing or queued."""

    def forget_answer(self) -> None:
        """Stop the bot and keep its notes from the voice, as if it had never played them."""

    def log(self, line: str) -> None:
        """One line for the player (stderr)."""


class Mode:
    """A mode that does nothing: each subclass fills in the hooks it needs."""

    name = "none"
    # the bot's notes reach the voice only once the player plays on, so an answer can be undone or
    # re-rolled and the model never learns it happened (call and response)
    holds_answers = False

    def __init__(self) -> None:
        self.stage: Stage | None = None
        self.wake_at = math.inf  # stage-clock time of the next `tick` (math.inf: none wanted)
        # each setting this mode changed (its path into JamSettings): the player's value, and the mode's last
        self._changed: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def begin(self, stage: Stage) -> None:
        """The mode takes over on `stage` (the jam starts, or the player switched to it)."""
        self.stage = stage

    def change(self, path: tuple[str, ...], value: Any) -> None:
        """Set a setting (its attribute path into JamSettings, like ("feel", "quantize")) for as long as
        this mode plays. A mode changes settings only through here, so `end` can give every one back."""
        target, attribute = holder(self.stage.settings, path)
        player, _ = self._changed.get(path, (getattr(target, attribute), None))
        self._changed[path] = (player, value)
        setattr(target, attribute, value)

    def end(self) -> None:
        """The mode hands over (another takes over, or the jam ends): every setting it changed goes back to
        the player's, unless the player moved it since (a CC, a key), when theirs stays."""
        for path, (player, mine) in self._changed.items():
            target, attribute = holder(self.stage.settings, path)
            if getattr(target, attribute) == mine:
                setattr(target, attribute, player)
        self._changed.clear()

    def key_struck(self, stamp: float) -> None:
        """The player strikes a key; called before anyone hears it, so the mode can stop the bot at once."""

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        """One of the player's key events, after the voice heard it; `keys_down` says whether any key is
        still held after it."""

    def steer(self, stamp: float, pitch: int, velocity: int) -> None:
        """A key of the player's below the band's arranger split went down or up (band mode only)."""

    def panicked(self) -> None:
        """The player (or a control) called panic: everything is being silenced; stop playing along."""

    def phrase_trigger(self, stamp: float) -> None:
        """The player ended a phrase by pedal, CC or key (`--phrase-end`)."""

    def tick(self, now: float) -> None:
        """The time asked for in `wake_at` has come."""

    def reroll(self) -> bool:
        """Play the last answer again, differently; False when the mode has nothing to re-roll."""
        return False

    def summary(self) -> str | None:
        """A closing report for the end of the session, if the mode has one."""
        return None
