"""When composing falls behind playing: a shorter answer, never a late flood, and one line about it.

An answer is composed while it plays: each note is drawn (a model step) and queued for its time. On a
loaded machine (a DAW, synths, a browser on the same cores) a step can take longer than the music
leaves it, and a note is then drawn after the moment it was meant to sound. Sending it anyway would be
worse than not: the scheduler would send every such note at once, late, a flood of notes out of time.
So the engine asks `Overruns.too_late` of each note before queueing it, and leaves out the notes too late
(and their releases): the answer goes on with the notes still in time, shorter. An answer whose very first
note is too late (the engine was behind, working through a flood of input) starts that much later, as a
whole: a late answer, rather than none. (Ending the answer at its
first late note was tried: an engine a second behind after a flood of input then never answered at all.)

It is said once in the log when it begins (not once a note, nor once an answer while it goes on), and
again only after an answer has been composed in time since; the view shows how many answers were cut.
"""

from __future__ import annotations

from typing import Callable

LATE_SECONDS = 0.03  # a note drawn this long after it was due to be sent is not sent (20 ms is heard)


class Overruns:
    """The answers that fell behind, and so were played shorter (engine thread)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self.count = 0  # answers with notes left out
        self._said = False  # the line was said, and no answer has been composed in time since
        self._this_answer = False  # the answer being composed fell behind

    def begin_answer(self) -> None:
        self._this_answer = False

    def too_late(self, at: float, now: float) -> bool:
        """Whether a note due to be sent at `at` comes too late at `now`; the first in an answer counts it."""
        if at >= now - LATE_SECONDS:
            return False
        if not self._this_answer:
            self._this_answer = True
            self.count += 1
        if not self._said:
            self._said = True
            self._log(f"duetto: the model fell behind the music ({1000 * (now - at):.0f} ms late); "
                      "late notes are left out of the answers while it does")
        return True

    def end_answer(self, played: bool) -> None:
        """An answer with notes played and none late: the next overrun is news again."""
        if played and not self._this_answer:
            self._said = False
