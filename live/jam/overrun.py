"""When composing falls behind playing: a shorter answer, never a late flood, and one line about it.

An answer is composed while it plays: each note is drawn (a model step) and queued for its time. On a
loaded machine (a DAW, synths, a browser on the same cores) a step can take longer than the music
leaves it, and a note is then drawn after the moment it was meant to sound. Sending it anyway would be
worse than not: the scheduler would send every such note at once, late, a flood of notes out of time.
So the engine asks `Overruns.too_late` of each note before queueing it; the first one too late ends
the answer there, and the notes already sounding are released at that moment (a shorter answer).

It is said once in the log when it begins (not once a note, nor once an answer while it goes on), and
again only after an answer has been composed in time since; the view shows how many answers were cut.
"""

from __future__ import annotations

from typing import Callable

LATE_SECONDS = 0.03  # a note drawn this long after it was due to be sent is not sent (20 ms is heard)
CUT_RELEASE_SECONDS = 0.05  # a note sounding when its answer is cut short sounds at least this long


class Overruns:
    """The answers cut short because composing fell behind (engine thread)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self.count = 0  # answers cut short
        self._said = False  # the line was said, and no answer has been composed in time since

    def too_late(self, at: float, now: float) -> bool:
        """Whether a note due to be sent at `at` comes too late at `now`; the first in an answer counts it."""
        if at >= now - LATE_SECONDS:
            return False
        self.count += 1
        if not self._said:
            self._said = True
            self._log(f"duetto: the model fell behind the music ({1000 * (now - at):.0f} ms late); "
                      "answers are cut short while it does")
        return True

    def in_time(self) -> None:
        """An answer was composed in time, to its end: the next overrun is news again."""
        self._said = False
