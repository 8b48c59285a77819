"""`duetto jam --record FILE.mid`: both parts of a session as they sounded, in a two-track MIDI file.

The engine hands it every key event of the player's it hears, and the scheduler every note of the
bot's the moment it is sent; on the way out, keys still held are released at the end, and the file is written atomically,
so a session stopped with Ctrl-C is saved whole.
"""

from __future__ import annotations

import threading

from duetto.midi.files import write_midi
from duetto.music.notes import KeyEvent, notes_from_events

TRACKS = {"player": "Player", "bot": "Duetto"}


class SessionRecording:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, list[KeyEvent]] = {part: [] for part in TRACKS}

    def add(self, part: str, seconds: float, pitch: int, velocity: int) -> None:
        with self._lock:
            self._parts[part].append(KeyEvent(seconds, pitch, velocity))

    def write(self, path: str, end_seconds: float) -> int:
        """Write the file; returns how many notes it holds."""
        tracks = {}
        with self._lock:
            for part, events in self._parts.items():
                # a release for every key ever struck: those already up ignore it, those held end here
                struck = {event.pitch for event in events if event.velocity > 0}
                closing = [KeyEvent(end_seconds, pitch, 0) for pitch in sorted(struck)]
                tracks[TRACKS[part]] = sorted(notes_from_events(events + closing))
        write_midi(path, tracks)
        return sum(len(notes) for notes in tracks.values())
