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
vamps. A new chord is followed at once, as an arranger keyboard follows it: once its keys have settled
(SETTLE_SECONDS), the band's notes composed ahead and not yet begun are composed again over it, and
its sounding notes outside it are let go.

Each melody note is followed too, once it settles: the band's notes composed ahead (before that note was
heard) and not yet begun are voiced again, their rhythm kept, so that they keep off the note the tune
holds (duetto.voices.metrical's melody lean), as an accompanist's do. (Composing them again from scratch
moved them too: the band then struck a sixteenth behind the tune.)

With `--vamp` the band plays on when the player stops, until the player's phrase-end signal (a pedal, a
CC or a key: `--phrase-end`) or a panic stops it; the next key brings it in again.
"""

from __future__ import annotations

from typing import Iterator

from duetto.jam.band import DEFAULT_PARTS, LeftHand, make_band
from duetto.jam.modes.base import Stage
from duetto.jam.modes.duet import LEAD_BEATS, DuetMode
from duetto.music.chords import HARMONY_BEATS, Chord, HeardMelody
from duetto.music.notes import SETTLE_SECONDS, KeyEvent

CHUNK_BEATS = 0.5  # composed half a beat ahead: a chord change (held or implied) is followed within a beat


class BandMode(DuetMode):
    name = "band"

    def __init__(self) -> None:
        super().__init__()
        self.left_hand = LeftHand()
        self.melody = HeardMelody()
        self._follow_at: float | None = None  # when to compose again over a new chord or melody note, settled
        self._chord_changed = False  # what is followed then is a new chord (its sounding misfits let go)

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
        before = self.left_hand.chord
        self.left_hand.key(pitch, velocity)
        self._keys_down = bool(self.left_hand.held)
        if velocity == 0:
            self._player_active_at = max(self._player_active_at, stamp)
            return
        self._player_active_at = stamp
        if self._next_chunk is None:
            self._come_in(stamp)
        elif self.left_hand.chord != before:
            self._chord_changed = True
            self._follow(stamp)

    def _follow(self, stamp: float) -> None:
        """Follow what was struck at `stamp` (a new chord, a melody note) once it has settled."""
        self._follow_at = stamp + SETTLE_SECONDS  # a chord's later keys put it off: the whole chord is heard
        self.wake_at = min(self.wake_at, self._follow_at)

    def panicked(self) -> None:
        super().panicked()
        self._follow_at, self._chord_changed = None, False

    def tick(self, now: float) -> None:
        if self._follow_at is not None and now >= self._follow_at and self._next_chunk is not None:
            self._follow_at = None
            if self._chord_changed:
                self._compose_again(now)
            else:
                self.stage.revoice(self.stage.settings.band.request(self.chord()))
            self.wake_at = self._next_chunk - self._chunks(self._grid()).beat * LEAD_BEATS
            if now < self.wake_at:
                return
        super().tick(now)
        if self._follow_at is not None:  # a chord or note still settling: its turn comes before the next chunk's
            self.wake_at = min(self.wake_at, self._follow_at)

    def _compose_again(self, now: float) -> None:
        """The left hand changed the chord under notes composed ahead: those not begun are composed again
        over it, from now to the next chunk; the band's sounding notes outside it are let go."""
        stage, chord = self.stage, self.left_hand.chord
        self._chord_changed = False
        channels = {part.channel for part in stage.settings.band.parts}
        stage.replan(lambda channel, pitch: channel not in channels or pitch % 12 in chord.pitch_classes)
        until = self._next_chunk
        if until is not None and until > now:
            stage.perform(lambda: self.compose_chunk(until - now, now), now, self._grid())

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        self.melody.key(stamp, pitch, velocity)
        if velocity > 0 and self._next_chunk is not None:
            self._follow(stamp)
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
