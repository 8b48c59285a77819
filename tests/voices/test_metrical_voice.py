"""The metrical voice on a real exported (tiny, untrained) model: its answers fall on the grid it is given,
or on the player's own pulse when none is, and keep to the answer's start, register, key lock and texture."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.encodings import metrical
from duetto.families import make_voice
from duetto.model.sampler import Sampler
from duetto.music.notes import KeyEvent
from duetto.music.timeline import Timeline
from duetto.voices.base import AnswerKind
from duetto.voices.limits import Limits
from duetto.voices.metrical import MetricalVoice


@pytest.fixture(scope="module")
def model(untrained_metrical):
    return untrained_metrical


def played(voice: MetricalVoice, beat: float, count: int = 8, first: float = 0.0) -> float:
    """Eighth notes from `first`, a beat of `beat` seconds; returns when the last one ended."""
    at = first
    for index in range(count):
        voice.hear(at, 60 + index % 5, 80)
        voice.hear(at + beat / 2 * 0.9, 60 + index % 5, 0)
        at += beat / 2
    return at


def onsets(events: list[KeyEvent]) -> list[float]:
    return [event.seconds for event in events if event.velocity > 0]


def ticks_off(seconds: float, timeline: Timeline) -> float:
    """How far a time lies from the nearest tick of the timeline, in seconds."""
    ticks = timeline.beats(seconds) * metrical.TICKS_PER_BEAT
    return abs(timeline.seconds(round(ticks) / metrical.TICKS_PER_BEAT) - seconds)


def test_an_answer_falls_on_the_grid_it_is_given_and_starts_at_its_start(model):
    timeline = Timeline.steady(97.0, origin=0.31)
    for seed in range(4):
        voice = make_voice(model, Sampler(seed=seed))
        voice.keep_time(timeline)
        end = played(voice, 60 / 97)
        start = timeline.seconds(np.ceil(timeline.beats(end)))
        events = list(voice.answer(4.0, start=start))
        struck = onsets(events)
        assert struck, "the answer is silent"
        assert all(ticks_off(start + at, timeline) < 1e-6 for at in struck)
        assert struck[0] == pytest.approx(0.0, abs=1e-9)
        assert sum(e.velocity > 0 for e in events) == sum(e.velocity == 0 for e in events)
        assert max(event.seconds for event in events) <= 4.0 + 1e-9


def test_without_a_grid_the_voice_keeps_the_players_pulse_not_a_default_tempo(model):
    beat = 60 / 84  # the player's eighths at 84 BPM
    voice = make_voice(model, Sampler(seed=1))
    end = played(voice, beat, count=12, first=1.0)
    pulse = Timeline.steady(84.0, origin=1.0)
    struck = onsets(list(voice.answer(4.0, start=end)))
    assert struck and all(ticks_off(end + at, pulse) < 1e-3 for at in struck)


def test_the_answer_keeps_to_register_key_lock_and_a_single_line(model):
    limits = Limits(lowest=60, highest=72, pitch_classes=frozenset({0, 2, 4, 5, 7, 9, 11}))
    voice = make_voice(model, Sampler(seed=3), limits)
    voice.keep_time(Timeline.steady(120.0))
    end = played(voice, 0.5)
    events = list(voice.answer(6.0, start=end, kind=AnswerKind(texture="line")))
    sounding = set()
    for event in events:
        if event.velocity > 0:
            assert 60 <= event.pitch <= 72 and event.pitch % 12 in limits.pitch_classes
            assert not sounding, "a line sounds one note at a time"
            sounding.add(event.pitch)
        else:
            sounding.discard(event.pitch)


def test_a_note_still_held_is_heard_and_an_answer_to_silence_opens_on_a_bar_line(model):
    timeline = Timeline.steady(120.0)
    voice = make_voice(model, Sampler(seed=5))
    voice.keep_time(timeline)
    struck = onsets(list(voice.answer(3.0, start=1.0)))  # nothing heard yet
    assert struck and all(ticks_off(1.0 + at, timeline) < 1e-6 for at in struck)
    voice.hear(2.0, 64, 90)  # held while the answer is asked for
    assert onsets(list(voice.answer(2.0, start=2.5)))
    assert voice.latest is None, "a held note waits for its release before it is heard for good"


def rub_share(model, pull: float, monkeypatch) -> float:
    """The share of band notes a second, tritone or seventh from the melody note held while they are drawn."""
    from duetto.jam.band import DEFAULT_PARTS, make_band
    from duetto.music.chords import CONSONANT_INTERVALS
    from duetto.music.parts import MELODY
    from duetto.voices import metrical as metrical_voice

    monkeypatch.setattr(metrical_voice, "MELODY_CLASH_PULL", pull)
    monkeypatch.setattr(metrical_voice, "TUNE_STEP_PULL", 0.0)  # the lean off the tune's next note: its own test
    band = make_band(DEFAULT_PARTS, None, None, 0, None).request(None)
    rubs, notes = 0, 0
    for seed in range(16):
        voice = make_voice(model, Sampler(seed=seed), Limits(max_polyphony=8))
        voice.keep_time(Timeline.steady(120.0))
        voice.hear(0.0, 72, 90, MELODY)  # the tune holds C5 all through the band's two bars
        for event in voice.answer(4.0, start=0.5, kind=AnswerKind(band=band)):
            if event.velocity > 0:
                notes += 1
                rubs += (72 - event.pitch) % 12 not in CONSONANT_INTERVALS
    assert notes > 20
    return rubs / notes


def test_a_band_keeps_off_the_notes_that_rub_against_the_melody_note_held(model, monkeypatch):
    leaning, free = rub_share(model, 4.0, monkeypatch), rub_share(model, 0.0, monkeypatch)
    print(f"rubbing: {free:.2f} free, {leaning:.2f} leaning")
    assert free > 0.25 and leaning < 0.1, (free, leaning)


def step_share(model, pull: float, monkeypatch) -> float:
    """The share of band notes a semitone or a whole tone from the tune's last note, no longer held."""
    from duetto.jam.band import DEFAULT_PARTS, make_band
    from duetto.music.parts import MELODY
    from duetto.voices import metrical as metrical_voice

    monkeypatch.setattr(metrical_voice, "TUNE_STEP_PULL", pull)
    band = make_band(DEFAULT_PARTS, None, None, 0, None).request(None)
    steps, notes = 0, 0
    for seed in range(16):
        voice = make_voice(model, Sampler(seed=seed), Limits(max_polyphony=8))
        voice.keep_time(Timeline.steady(120.0))
        voice.hear(0.0, 72, 90, MELODY)  # the tune strikes C5 and lets it go before the band plays
        voice.hear(0.4, 72, 0, MELODY)
        for event in voice.answer(4.0, start=0.5, kind=AnswerKind(band=band)):
            if event.velocity > 0:
                notes += 1
                steps += (event.pitch - 72) % 12 in (1, 2, 10, 11)
    assert notes > 20
    return steps / notes


def test_a_band_keeps_off_the_notes_a_step_from_the_tunes_last_note(model, monkeypatch):
    from duetto.voices.metrical import TUNE_STEP_PULL

    leaning, free = step_share(model, TUNE_STEP_PULL, monkeypatch), step_share(model, 0.0, monkeypatch)
    print(f"a step from the tune: {free:.2f} free, {leaning:.2f} leaning")
    assert free > 0.2 and leaning < 0.05, (free, leaning)


def test_revoicing_keeps_the_band_notes_rhythm_and_parts_and_moves_their_pitches_off_the_tune(model):
    from duetto.jam.band import DEFAULT_PARTS, make_band
    from duetto.music.chords import CONSONANT_INTERVALS
    from duetto.music.notes import Note
    from duetto.music.parts import BASS, INNER, MELODY

    band = make_band(DEFAULT_PARTS, None, None, 0, None).request(None)
    planned = [Note(1.0, 1.5, 43, 70, BASS), Note(1.0, 1.25, 60, 64, INNER), Note(1.0, 1.25, 61, 64, INNER),
               Note(1.25, 1.5, 66, 64, INNER), Note(1.5, 2.5, 38, 70, BASS), Note(1.75, 2.0, 59, 64, INNER)]
    rubs = notes = 0
    for seed in range(12):
        voice = make_voice(model, Sampler(seed=seed), Limits(max_polyphony=8))
        voice.keep_time(Timeline.steady(120.0))
        played(voice, 0.5, count=4)
        voice.hear(0.9, 72, 90, MELODY)  # the tune strikes C5 after the notes were planned, and holds it
        voiced = voice.revoice(planned, AnswerKind(band=band))
        assert [(n.start, n.end, n.velocity, n.channel) for n in voiced] == \
            [(n.start, n.end, n.velocity, n.channel) for n in planned]
        for note in voiced:
            low, high = band.register(note.channel)
            assert low <= note.pitch <= high
            notes += 1
            rubs += (72 - note.pitch) % 12 not in CONSONANT_INTERVALS
        assert len({n.pitch for n in voiced if n.start == 1.0 and n.channel == INNER}) == 2, "one key, one note"
    assert rubs / notes < 0.1, rubs / notes  # as planned: 4 of the 6 rub against C
