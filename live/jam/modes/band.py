"""`--mode band`: a band plays along with the player, each part on its own channel, composed just ahead.

The band is the duet (duetto.jam.modes.duet) with several parts: bass, chords and a second line by
default (duetto.jam.band), the player heard as the melody. It comes in a beat after the player starts,
and when the player stops it finishes its phrase and stops two bars later, as the duet does.

The band composes half a beat at a time, half a beat ahead, and every part leans to a chord: with no
split, the one the player's melody implied over its last beat (in the key heard), so a change of harmony
is followed within a beat. With an arranger split (`--split NOTE`) the keys below it steer the band
instead: the chord they spell (any inversion; one key alone is its major chord) is the harmony every part
leans to, and it stays after the hand lets go, as on an arranger keyboard. Those keys are not played
through nor heard as music. A chord struck brings the band in; while the left hand holds one, the band
vamps.

With `--vamp` the band plays on when the player stops, until the player's phrase-end signal (a pedal, a
CC or a key: `--phrase-end`) or a panic stops it; the next key brings it in again.
"""

from __future__ import annotations

from typing import Iterator

from duetto.jam.band import DEFAULT_PARTS, LeftHand, make_band
from duetto.jam.modes.base import Stage
from duetto.jam.modes.duet import DuetMode
from duetto.music.chords import HARMONY_BEATS, Chord, HeardMelody
from duetto.music.notes import KeyEvent

CHUNK_BEATS = 0.5  # composed half a beat ahead: a chord change (held or implied) is followed within a beat


class BandMode(DuetMode):
    name = "band"

    def __init__(self) -> None:
        super().__init__()
        self.left_hand = LeftHand()
        self.melody = HeardMelody()

    def begin(self, stage: Stage) -> None:
        super().begin(stage)
        settings = stage.settings
        if settings.band is None:  # switched to from another mode: the default band, apart from the player
            player = settings.input_channel if settings.input_channel is not None else 0
            self.change(("band",), make_band(DEFAULT_PARTS, None, None, player, None))
        self.chunk_beats = CHUNK_BEATS
        self.vamps = settings.band.vamp

    def phrase_trigger(self, stamp: float) -> None:
        """The player's phrase-end signal (`--phrase-end pedal`, a CC or a key) stops a vamping band."""
        self.panicked()

    def steer(self, stamp: float, pitch: int, velocity: int) -> None:
        self.left_hand.key(pitch, velocity)
        self._keys_down = bool(self.left_hand.held)
        if velocity > 0:
            self._player_active_at = stamp
            self._come_in(stamp)
        else:
            self._player_active_at = max(self._player_active_at, stamp)

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        self.melody.key(stamp, pitch, velocity)
        super().player_note(stamp, pitch, velocity, keys_down or bool(self.left_hand.held))

    def chord(self) -> Chord | None:
        """The harmony the band leans to: the chord the left hand holds under a split, else the chord the
        player's melody implied over its last HARMONY_BEATS beats, in the key heard."""
        if self.stage.settings.band.split is not None:
            return self.left_hand.chord
        now = self.stage.now()
        return self.melody.chord(self.stage.heard_key, now - HARMONY_BEATS * self._grid().beat, now)

    def compose_chunk(self, seconds: float, start: float) -> Iterator[KeyEvent]:
        stage = self.stage
        band = stage.settings.band.request(self.chord())
        return stage.compose(seconds, lambda: stage.stopping, start=start, band=band)

    def summary(self) -> str | None:
        chord = self.left_hand.chord
        return None if chord is None else f"band: last chord held {chord}"
