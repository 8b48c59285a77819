"""Keys: naming them, hearing the player's key, and the scale lock (no out-of-key note, ever).

The lock is tested on the shipped model over 200 sampled answers, and end to end over JACK: the player
plays in D major, the bot hears the key and every note it answers with is in it.
"""

from __future__ import annotations

import pytest

from duetto.encodings import events as encoding
from duetto.jam.settings import JamSettings
from duetto.model.sampler import Sampler
from duetto.music.key import Key, KeyFinder, parse_key
from duetto.music.notes import Note
from duetto.tools.duet_rig import DuetRig
from support.processes import wait_until
from duetto.voices.improviser import Improviser, Start
from duetto.voices.limits import Limits

D_MAJOR = Key(2, "major")


@pytest.mark.parametrize("text, key", [("C:major", Key(0, "major")), ("a:minor", Key(9, "minor")),
                                       ("F#:dorian", Key(6, "dorian")), ("Bb", Key(10, "major")),
                                       ("Cb:minor", Key(11, "minor"))])
def test_key_names_parse(text, key):
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["H:major", "C:lydianish", "", "C##:major", "Cx"])
def test_bad_key_names_are_refused_with_the_reason(text):
    with pytest.raises(ValueError, match="key"):
        parse_key(text)


def test_str_round_trips():
    assert parse_key(str(Key(3, "harmonic-minor"))) == Key(3, "harmonic-minor")
    assert Key(0, "major").pitch_classes == {0, 2, 4, 5, 7, 9, 11}


def hear(finder: KeyFinder, pitches: list[int], start: float = 0.0, spacing: float = 0.25) -> None:
    for index, pitch in enumerate(pitches):
        finder.heard(start + index * spacing, pitch)


def test_the_key_is_heard_from_a_scale_and_an_arpeggio():
    finder = KeyFinder()
    assert finder.key is None
    hear(finder, [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62, 69, 74])  # D major, tonic and fifth stressed
    assert finder.key == D_MAJOR


def test_a_minor_melody_is_heard_as_minor_and_the_key_moves_with_the_music():
    finder = KeyFinder()
    hear(finder, [57, 60, 64, 57, 59, 60, 62, 64, 65, 64, 62, 60, 59, 57, 64, 57])
    assert finder.key == Key(9, "minor")
    hear(finder, [66, 68, 70, 71, 73, 75, 77, 78, 73, 70, 66, 73, 78] * 3, start=60.0)  # long after: F# major
    assert finder.key == Key(6, "major")


@pytest.mark.slow
def test_scale_lock_keeps_200_sampled_answers_in_key(shipped_event_model):
    limits = Limits(pitch_classes=D_MAJOR.pitch_classes)
    improviser = Improviser(shipped_event_model, Sampler(temperature=1.2, top_p=1.0, seed=5), limits)
    struck = []
    for answer in range(200):
        state = shipped_event_model.initial_state()
        logits, state = shipped_event_model.step(encoding.START, state)
        for token in encoding.encode([Note(0.0, 0.2, 60 + answer % 12, 80), Note(0.2, 0.4, 61, 80)]):
            logits, state = shipped_event_model.step(token, state)  # out-of-key calls, to tempt it
        struck += [event.pitch for event in improviser.continue_from(Start(logits, state), 1.0) if event.velocity > 0]
    assert len(struck) > 400
    assert sorted({pitch % 12 for pitch in struck if pitch % 12 not in D_MAJOR.pitch_classes}) == []


def test_without_the_lock_the_model_does_leave_the_key(shipped_event_model):
    """The lock test above proves something only if the model, unlocked, would play outside the key."""
    improviser = Improviser(shipped_event_model, Sampler(temperature=1.2, top_p=1.0, seed=5), Limits())
    state = shipped_event_model.initial_state()
    logits, state = shipped_event_model.step(encoding.START, state)
    pitches = [event.pitch for event in improviser.continue_from(Start(logits, state), 8.0) if event.velocity > 0]
    assert any(pitch % 12 not in D_MAJOR.pitch_classes for pitch in pitches)


def test_the_bot_hears_the_key_and_locks_to_it_over_jack(jack, shipped_model, fast_switching):
    rig = DuetRig(jack, shipped_model, JamSettings(phrase_gap=0.2, response_seconds=3.0, seed=2, scale_lock=True),
                  name="Keyed")
    try:
        scale = [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62, 69, 74]
        phrase = [Note(0.15 * index, 0.15 * index + 0.12, pitch, 85) for index, pitch in enumerate(scale)]
        for round_index in range(3):
            released = rig.player.play(phrase)
            assert rig.wait_until_answered(released, 10), f"no answer in round {round_index}"
        assert rig.engine.key in (D_MAJOR, Key(11, "minor"))  # B minor has the same notes
        assert wait_until(lambda: rig.recorder.unmatched_note_ons() == 0, 1.0)
    finally:
        rig.close()
    answered = [event.pitch for event in rig.recorder.key_events() if event.velocity > 0]
    assert len(answered) >= 10
    assert [pitch for pitch in answered if pitch % 12 not in D_MAJOR.pitch_classes] == []
