"""Ableton Link: the tempo and beat phase of a Link session, as a beat grid on the engine's clock.

Link peers (Ableton Live, Bitwig, phone apps, grooveboxes) find each other on the local network and share
one tempo and one beat timeline, without MIDI cables. `LinkFollower` joins a session and only listens: it
never sets the tempo or the phase, so Duetto joining a band never moves anyone's beat. Link's own threads
keep the session current; the engine thread asks for the grid when it needs one, from a snapshot of the
session taken then, so a tempo change is followed as soon as Link has heard of it.

No thread of Link's ever calls into Python: the number of peers is asked for (`peers_changed`, from the
session's regular checks) rather than told through Link's callback. A callback running on Link's thread
while the jam shut down was a native abort (SIGABRT) at the end of a session (issue 20); and the object is
freed in `close`, while the interpreter is whole, not at its exit.

Link counts time in microseconds of its own clock (CLOCK_MONOTONIC_RAW on Linux); the engine stamps with
`time.perf_counter`. The offset between the two is measured at every reading, Link's clock read between two
readings of the engine's, so the two clocks' slow drift apart never adds up.

The binding is the optional `link` extra (LinkPython-extern), imported only when a follower is made.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from duetto.music.clock import Grid

SOURCE_LINK = "Link"
QUANTUM = 4.0  # beats to a bar: the phase Link keeps in step between peers
UNHEARD_BPM = 120.0  # Link's tempo until it meets a session; never sent, since the follower commits nothing


class LinkFollower:
    """A listening peer of the Link session on this network: `grid(now)` is the session's beat grid while
    another peer is there (None while Duetto is alone, when the player's pulse or --bpm sets the beat)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        import link  # the `link` extra: its absence is reported before any work starts (duetto.jam.options)

        self._clock = clock
        self._link = link.Link(UNHEARD_BPM)
        self._link.enabled = True
        self._peers_told = 0

    def peers_changed(self) -> int | None:
        """The number of other peers when it changed since the last time this was asked, else None."""
        peers = self._link.numPeers()
        if peers == self._peers_told:
            return None
        self._peers_told = peers
        return peers

    def grid(self, now: float) -> Grid | None:
        """The session's beats, with the bar line at or before `now` as the origin; the beat is measured
        over that bar on Link's timeline (its stated tempo is rounded for display)."""
        if self._link.numPeers() == 0:
            return None
        state = self._link.captureAppSessionState()
        offset = self._offset()
        at = round((now - offset) * 1e6)
        bar = math.floor(state.beatAtTime(at, QUANTUM) / QUANTUM) * QUANTUM
        start, end = state.timeAtBeat(bar, QUANTUM), state.timeAtBeat(bar + QUANTUM, QUANTUM)
        return Grid((end - start) / 1e6 / QUANTUM, start / 1e6 + offset, SOURCE_LINK)

    def _offset(self) -> float:
        """Engine clock minus Link's, in seconds."""
        before = self._clock()
        micros = self._link.clock().micros()
        after = self._clock()
        return (before + after) / 2 - micros / 1e6

    def close(self) -> None:
        """Leave the session and free Link's threads now (call once the engine asks for no more grids)."""
        self._link.enabled = False
        del self._link
