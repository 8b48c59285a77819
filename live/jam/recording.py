"""`duetto jam --record FILE.mid`: both parts of a session as they sounded, in a two-track MIDI file that
lines up in a DAW (in band mode, a track for each of the band's parts), each note on its own channel.

The engine hands it every key event of the player's it hears, and the scheduler every note of the bot's
the moment it is sent; the engine thread also tells it the session's tempo as it goes (MIDI Clock's, the
player's pulse or --bpm) and when the clock's transport started. The file starts at the clock's Start
(so its bar 1 is the DAW's) or else at the first note, and carries the tempo map, so bars and beats line
up. On the way out, keys still held are released at the end, and the file is written atomically, so a
session stopped with Ctrl-C is saved whole.
"""

from __future__ import annotations

import threading
from array import array

from duetto.midi.files import DEFAULT_TEMPO_BPM, write_midi
from duetto.music.notes import KeyEvent, Note, notes_from_events

TRACKS = {"player": "Player", "bot": "Duetto"}  # the duet's parts; a band's part is named by its own name
TEMPO_CHANGE_BPM = 0.5  # a tempo that moves less than this is the same tempo, measured again
TEMPO_SETTLE_SECONDS = 1.0  # a tempo measured within this of the last one recorded refines it


class KeyEvents:
    """One channel's key events, kept compactly: an hour at 8 notes a second is 60,000 events, 9.5 MB as
    objects (a session's memory growing by it, `duetto bench soak`) and 0.7 MB in these arrays (70,000 measured)."""

    def __init__(self) -> None:
        self.seconds, self.pitches, self.velocities = array("d"), array("B"), array("B")

    def append(self, seconds: float, pitch: int, velocity: int) -> None:
        self.seconds.append(seconds)
        self.pitches.append(pitch)
        self.velocities.append(velocity)

    def events(self) -> list[KeyEvent]:
        return [KeyEvent(*event) for event in zip(self.seconds, self.pitches, self.velocities)]


class SessionRecording:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # each track's key events by channel, the duet's two tracks first
        self._parts: dict[str, dict[int, KeyEvents]] = {TRACKS[part]: {} for part in TRACKS}
        self._tempos: list[tuple[float, float]] = []  # (session seconds, BPM) at each change
        self._transport_started: float | None = None

    def add(self, part: str, seconds: float, pitch: int, velocity: int, channel: int = 0) -> None:
        """A key event of the player's or the bot's (`part`: duetto.jam.intake's PLAYER or BOT, or the name
        of a band part, which gets a track of its own)."""
        track = TRACKS.get(part, part.capitalize())
        with self._lock:
            self._parts.setdefault(track, {}).setdefault(channel, KeyEvents()).append(seconds, pitch, velocity)

    def tempo(self, seconds: float, bpm: float) -> None:
        """The session's tempo at `seconds` (engine thread; told often, kept when it changes)."""
        with self._lock:
            if self._tempos and seconds - self._tempos[-1][0] < TEMPO_SETTLE_SECONDS:
                # measured again soon after: a refinement of the same estimate (a clock's first ticks
                # give a rough tempo, a bar of them a good one), not a change of tempo
                self._tempos[-1] = (self._tempos[-1][0], bpm)
            elif not self._tempos or abs(self._tempos[-1][1] - bpm) >= TEMPO_CHANGE_BPM:
                self._tempos.append((seconds, bpm))

    def transport_started(self, seconds: float) -> None:
        """The clock's transport started, its first beat at `seconds`: the recording's bar 1."""
        with self._lock:
            if self._transport_started is None:
                self._transport_started = seconds

    def write(self, path: str, end_seconds: float) -> int:
        """Write the file; returns how many notes it holds."""
        with self._lock:
            parts = {}
            for track, channels in self._parts.items():
                parts[track] = []
                for channel, kept in channels.items():
                    events = kept.events()
                    # a release for every key ever struck: those already up ignore it, those held end here
                    struck = {event.pitch for event in events if event.velocity > 0}
                    closing = [KeyEvent(end_seconds, pitch, 0) for pitch in sorted(struck)]
                    parts[track] += [Note(note.start, note.end, note.pitch, note.velocity, channel)
                                     for note in notes_from_events(events + closing, keep_instant=True)]
                parts[track].sort()
            onsets = [note.start for notes in parts.values() for note in notes]
            origin = self._transport_started if self._transport_started is not None else min(onsets, default=0.0)
            tempos = self._tempo_map(origin)
        tracks = {name: [Note(max(0.0, note.start - origin), note.end - origin, note.pitch, note.velocity, note.channel)
                         for note in notes if note.end > origin]
                  for name, notes in parts.items() if notes or name == TRACKS["player"]}
        write_midi(path, tracks, tempos=tempos)
        return sum(len(notes) for notes in tracks.values())

    def _tempo_map(self, origin: float) -> list[tuple[float, float]]:
        """The tempo changes from `origin` on, as (seconds from origin, BPM), the first at 0."""
        before = [bpm for at, bpm in self._tempos if at <= origin]
        first = before[-1] if before else (self._tempos[0][1] if self._tempos else DEFAULT_TEMPO_BPM)
        return [(0.0, first)] + [(at - origin, bpm) for at, bpm in self._tempos if at > origin]
