"""Percussion is not pitched material: a drum groove on channel 10 is neither heard nor answered."""

from __future__ import annotations

import time

from duetto.jam.settings import JamSettings
from duetto.midi.messages import DRUM_CHANNEL
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig, Player
from support.processes import wait_until

GROOVE = [Note(0.25 * i, 0.25 * i + 0.1, (36, 42, 38, 42)[i % 4], 100) for i in range(16)]  # kick, hat, snare
PHRASE = [Note(0.0, 0.2, 62, 80), Note(0.25, 0.45, 66, 80), Note(0.5, 0.9, 69, 80)]


def test_a_drum_groove_is_not_heard_and_a_melody_after_it_is_answered(jack, shipped_model, fast_switching):
    rig = DuetRig(jack, shipped_model, JamSettings(phrase_gap=0.2, response_seconds=1.0, seed=4), name="Drums")
    drummer = Player(rig.player_port, channel=DRUM_CHANNEL)
    try:
        drummer.play(GROOVE)
        time.sleep(1.0)  # well past the phrase gap: a heard phrase would have been answered by now
        engine = rig.engine
        assert (engine.stats.notes_in, engine.stats.answers) == (0, 0)
        assert engine.keys.key is None and engine.call.notes == []
        assert not any(event.velocity > 0 for event in rig.recorder.key_events())
        released = rig.player.play(PHRASE)
        assert rig.wait_until_answered(released, timeout=10)
        assert engine.stats.notes_in == len(PHRASE)
        assert wait_until(lambda: rig.recorder.unmatched_note_ons() == 0, 3)
    finally:
        rig.close()
