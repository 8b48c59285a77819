"""A dead output is not silent (issue 20, item 5): when the bot's notes stop getting out, the log says so
once (not once a note) and the live view's status says so for as long as it lasts, over real JACK ports.

The session's `check` is what `JamSession.run` calls twice a second; the tests call it as run would.
"""

from __future__ import annotations

import os
import time

from duetto.jam.session import JamSession
from duetto.jam.settings import JamSettings
from duetto.jam.view import describe
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from support.processes import wait_until

PHRASE = [Note(0.0, 0.1, 60, 90), Note(0.12, 0.22, 64, 80), Note(0.24, 0.4, 67, 85)]


def settings() -> JamSettings:
    return JamSettings(phrase_gap=0.12, response_seconds=1.5, seed=1, follow_player=False)


def checked_status(session: JamSession, lines: list[str], until) -> bool:
    """Check the session twice a second, as `run` does, until `until()` holds of its published status."""
    def check() -> bool:
        session.check()
        time.sleep(0.15)  # the engine publishes its status every 0.1 s
        status = session.engine.status
        return status is not None and until(status)
    return wait_until(check, 5, interval=0.5)


def test_sends_that_fail_are_said_once_and_shown_in_the_view(jack, shipped_model, fast_switching):
    lines: list[str] = []
    name = f"Dead {os.getpid()}"
    session = JamSession(jack, shipped_model, settings(), name=name, log=lines.append).__enter__()
    keyboard = jack.open_output(f"{name} In")
    try:
        time.sleep(0.2)
        session.output.close()  # the port dies under the scheduler: every send from now on fails
        Player(keyboard).play(PHRASE)
        assert wait_until(lambda: session.engine.scheduler.send_errors >= 3, 5), "the bot never tried to play"
        assert checked_status(session, lines, lambda status: status.output_trouble is not None), lines
        for _ in range(3):  # more failed notes, more checks: still one line
            Player(keyboard).play(PHRASE)
            session.check()
        said = [line for line in lines if "notes are not getting out" in line]
        assert said == [f"duetto: notes are not getting out to '{name} Out' (PortError: MIDI output "
                        f"'{name} Out' is not open); still trying"], lines
        shown = "\n".join(describe(session.engine.status))
        assert shown.startswith(f"!! notes are not getting out to '{name} Out'"), shown
    finally:
        keyboard.close()
        session.close()


def test_a_synth_gone_is_shown_in_the_view_until_it_is_back(jack, shipped_model, fast_switching):
    lines: list[str] = []
    synth = jack.open_input("Dead Synth", Recorder(), virtual=True)
    session = JamSession(jack, shipped_model, settings(), name=f"Dead {os.getpid()} B", output="Dead Synth",
                         log=lines.append).__enter__()
    try:
        assert session.engine.status is None or session.engine.status.output_trouble is None
        synth.close()
        assert checked_status(session, lines, lambda status: status.output_trouble is not None), lines
        assert "\n".join(describe(session.engine.status)).startswith(
            "!! notes are not getting out: 'Dead Synth:Dead Synth' is gone")
        synth = jack.open_input("Dead Synth", Recorder(), virtual=True)
        assert checked_status(session, lines, lambda status: status.output_trouble is None), lines
        assert not describe(session.engine.status)[0].startswith("!!")
    finally:
        session.close()
        synth.close()
