"""When the model falls behind the music (issue 20, item 6): the notes composed too late are left out of
the answer, never sent late in a flood; the log says so once (not once a note, nor once an answer while it
lasts), again only after an answer composed in time; the view counts those answers; no note is left
sounding. How late and how often under real load is measured by `duetto bench latency` (docs/benchmarks.md).
"""

from __future__ import annotations

import time

from duetto.jam.settings import JamSettings
from duetto.jam.view import describe
from duetto.midi.ports import open_backend
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from support.faults import SlowModel
from support.processes import wait_until

PHRASE = [Note(0.0, 0.1, 60, 90), Note(0.12, 0.22, 64, 80), Note(0.24, 0.4, 67, 85)]
BEHIND = "duetto: the model fell behind the music"


def answer(rig: DuetRig) -> None:
    """Play the phrase and wait for its answer to be over (played in full, or cut short)."""
    cut = rig.engine.overruns.count
    ended = rig.player.play(PHRASE)
    assert wait_until(lambda: rig.engine.answer_began_at >= ended or rig.engine.overruns.count > cut, 10)
    assert wait_until(lambda: not rig.engine.composing and not rig.engine.scheduler.busy, 10)
    time.sleep(0.3)


def test_a_model_behind_the_music_leaves_late_notes_out_and_says_so_once(shipped_model):
    model = SlowModel(shipped_model, seconds=0.4)  # a step longer than the gap and than a note's time
    lines: list[str] = []
    # a second's answer: a slow model still composes every note of it (0.4 s each), and the default of 12-04 late
    # plays ten or more a second, so a longer answer took longer to compose than the test waits
    rig = DuetRig(open_backend("loopback"), model, JamSettings(seed=1, phrase_gap=0.2, response_seconds=1.0),
                  log=lines.append)
    try:
        model.slow = True
        for _ in range(3):
            answer(rig)
        cut = rig.engine.overruns.count
        assert 1 <= cut <= 3, "an answer that fell behind counts once, not once a note"
        assert sum(BEHIND in line for line in lines) == 1, lines
        model.slow = False
        answer(rig)  # composed in time, to its end
        assert rig.engine.overruns.count == cut and sum(BEHIND in line for line in lines) == 1, lines
        model.slow = True
        answer(rig)
        assert sum(BEHIND in line for line in lines) == 2, "a new overrun after one in time is said again"
        assert wait_until(lambda: rig.engine.status.overruns == rig.engine.overruns.count, 2)
        assert f"answers behind {rig.engine.overruns.count}" in "\n".join(describe(rig.engine.status))
    finally:
        model.slow = False
        rig.close()
    assert rig.recorder.unmatched_note_ons(all_notes_off_releases=False) == 0
