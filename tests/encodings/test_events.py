"""The event vocabulary: exact round trips for canonical notes, the live writer and reader, and names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duetto.encodings import events as encoding
from duetto.encodings.events import (
    LONGEST_PHRASE_SECONDS,
    MAX_SHIFT_STEPS,
    NOTE_OFF,
    NOTE_ON,
    PAD,
    START,
    STEP_SECONDS,
    STYLE,
    STYLE_SLOTS,
    TEXTURE,
    TIME_SHIFT,
    V1_VOCAB_SIZE,
    VELOCITY,
    VELOCITY_BINS,
    VOCAB_SIZE,
    EventReader,
    EventWriter,
    bin_to_velocity,
    conditioning,
    decode,
    describe,
    encode,
    encode_conditioned,
    is_conditioning,
    phrases,
    quantize,
    style_token,
    texture_token,
    velocity_to_bin,
)
from duetto.music.notes import Note
from duetto.music.texture import TEXTURES

PROPERTY = settings(max_examples=200, deadline=None)

# Narrow pitch and onset choices make same-pitch overlaps and equal onsets common, not just possible.
starts = st.one_of(st.floats(0, 60), st.integers(0, 30).map(lambda k: k * STEP_SECONDS))
pitches = st.one_of(st.integers(0, 127), st.integers(60, 62))


@st.composite
def any_note(draw) -> Note:
    start = draw(starts)
    return Note(start, start + draw(st.floats(0, 10)), draw(pitches), draw(st.integers(1, 127)),
                draw(st.integers(0, 15)))


note_lists = st.lists(any_note(), max_size=40)


def shift_steps(token: int) -> int:
    return token - TIME_SHIFT + 1


def is_time_shift(token: int) -> bool:
    return TIME_SHIFT <= token < VELOCITY


def on_grid(steps: int) -> float:
    """A time exactly as the encoding writes it."""
    return steps * STEP_SECONDS


def timed_key_events(notes):
    """Canonical notes as (seconds, is_down, pitch, velocity) in the order a player's keys would move:
    by time, releases before presses at the same moment."""
    events = [(note.start, True, note.pitch, note.velocity) for note in notes]
    events += [(note.end, False, note.pitch, 0) for note in notes]
    return sorted(events, key=lambda event: (event[0], event[1], event[2]))


# -- the vocabulary ------------------------------------------------------------------------------


def test_vocabulary_layout():
    assert (PAD, START, NOTE_ON) == (0, 1, 2)
    assert NOTE_OFF - NOTE_ON == 128
    assert TIME_SHIFT - NOTE_OFF == 128
    assert VELOCITY - TIME_SHIFT == MAX_SHIFT_STEPS == 100
    assert STYLE - VELOCITY == VELOCITY_BINS == 32
    assert V1_VOCAB_SIZE == STYLE == 390  # version 1 ends where the conditioning tokens begin
    assert TEXTURE - STYLE == STYLE_SLOTS == 16
    assert VOCAB_SIZE - TEXTURE == len(TEXTURES) == 3
    assert VOCAB_SIZE == 409


@pytest.mark.parametrize("token, name", [
    (PAD, "PAD"), (START, "START"),
    (NOTE_ON, "NOTE_ON(0)"), (NOTE_ON + 60, "NOTE_ON(60)"), (NOTE_OFF - 1, "NOTE_ON(127)"),
    (NOTE_OFF, "NOTE_OFF(0)"), (NOTE_OFF + 127, "NOTE_OFF(127)"),
    (TIME_SHIFT, "TIME_SHIFT(1)"), (VELOCITY - 1, "TIME_SHIFT(100)"),
    (VELOCITY, "VELOCITY(0)"), (STYLE - 1, "VELOCITY(31)"),
    (STYLE, "STYLE(0)"), (TEXTURE - 1, "STYLE(15)"), (TEXTURE, "TEXTURE(line)"), (VOCAB_SIZE - 1, "TEXTURE(chords)"),
])
def test_describe_names_tokens(token, name):
    assert describe(token) == name


def test_every_token_has_its_own_name():
    assert len({describe(token) for token in range(VOCAB_SIZE)}) == VOCAB_SIZE


@pytest.mark.parametrize("token", [-1, VOCAB_SIZE, VOCAB_SIZE + 1000])
def test_describe_refuses_tokens_outside_the_vocabulary(token):
    with pytest.raises(ValueError, match=str(VOCAB_SIZE)):
        describe(token)


def test_velocity_bin_representatives_map_back_to_their_bin():
    for velocity_bin in range(VELOCITY_BINS):
        representative = bin_to_velocity(velocity_bin)
        assert 1 <= representative <= 127
        assert velocity_to_bin(representative) == velocity_bin


def test_velocity_bins_cover_every_velocity_in_order():
    bins = [velocity_to_bin(velocity) for velocity in range(1, 128)]
    assert bins == sorted(bins)
    assert set(bins) == set(range(VELOCITY_BINS))
    assert all(abs(bin_to_velocity(velocity_to_bin(v)) - v) <= 2 for v in range(1, 128))


# -- encode and decode ---------------------------------------------------------------------------


@PROPERTY
@given(note_lists)
def test_round_trip_is_exact_for_canonical_notes(notes):
    assert decode(encode(notes)) == quantize(notes)


@PROPERTY
@given(note_lists)
def test_quantize_is_idempotent(notes):
    canonical = quantize(notes)
    assert quantize(canonical) == canonical


@PROPERTY
@given(note_lists)
def test_canonical_notes_are_on_the_grid_and_never_overlap_on_one_pitch(notes):
    canonical = quantize(notes)
    for note in canonical:
        assert note.end - note.start >= STEP_SECONDS - 1e-9
        assert velocity_to_bin(note.velocity) * 4 + 2 == note.velocity
        assert note.channel == 0
    for earlier, later in zip(canonical, canonical[1:]):
        assert earlier <= later
    by_pitch = {}
    for note in canonical:
        by_pitch.setdefault(note.pitch, []).append(note)
    for same_pitch in by_pitch.values():
        for earlier, later in zip(same_pitch, same_pitch[1:]):
            assert earlier.end <= later.start


@PROPERTY
@given(note_lists)
def test_encode_emits_only_playable_tokens(notes):
    tokens = encode(notes)
    assert all(NOTE_ON <= token < VOCAB_SIZE for token in tokens)  # never PAD or START


@PROPERTY
@given(note_lists)
def test_time_shifts_add_up_to_the_last_event(notes):
    canonical = quantize(notes)
    steps = sum(shift_steps(token) for token in encode(notes) if is_time_shift(token))
    last = max((note.end for note in canonical), default=0.0)
    assert steps == encoding.to_step(last)


def test_a_long_gap_takes_several_time_shifts():
    tokens = encode([Note(0.0, 0.1, 60, 66), Note(2.5, 2.6, 62, 66)])
    # from the release at 0.1 s to the next press at 2.5 s: 240 steps, at most 100 a token
    between = tokens[tokens.index(NOTE_OFF + 60) + 1:tokens.index(NOTE_ON + 62)]
    assert [shift_steps(token) for token in between] == [100, 100, 40]


def test_a_gap_of_exactly_one_second_is_one_time_shift():
    tokens = encode([Note(0.0, 0.5, 60, 66), Note(1.5, 2.0, 60, 66)])
    between = tokens[tokens.index(NOTE_OFF + 60) + 1:tokens.index(NOTE_ON + 60, 2)]
    assert [shift_steps(token) for token in between] == [100]


def test_encode_example():
    notes = [Note(0.0, 0.02, 60, 100), Note(0.01, 0.03, 64, 100)]
    assert [describe(token) for token in encode(notes)] == [
        "VELOCITY(25)", "NOTE_ON(60)", "TIME_SHIFT(1)", "NOTE_ON(64)", "TIME_SHIFT(1)", "NOTE_OFF(60)",
        "TIME_SHIFT(1)", "NOTE_OFF(64)",
    ]


def test_quantize_cuts_a_restruck_note_at_the_new_onset():
    canonical = quantize([Note(0.0, 1.0, 60, 66), Note(0.5, 0.7, 60, 66)])
    assert canonical == [Note(0.0, on_grid(50), 60, 66), Note(on_grid(50), on_grid(70), 60, 66)]
    assert decode(encode(canonical)) == canonical


def test_quantize_gives_a_zero_length_note_one_step():
    assert quantize([Note(1.0, 1.0, 60, 66)]) == [Note(on_grid(100), on_grid(101), 60, 66)]


# -- the live writer -----------------------------------------------------------------------------


@PROPERTY
@given(note_lists, st.data())
def test_live_writer_fed_one_event_at_a_time_matches_encode(notes, data):
    """Live timestamps land anywhere within their 10 ms step and velocities anywhere in their bin."""
    events = timed_key_events(quantize(notes))
    jitters = data.draw(st.lists(st.floats(-0.004, 0.004), min_size=len(events), max_size=len(events)))
    writer = EventWriter()
    tokens = []
    for (seconds, is_down, pitch, velocity), jitter in zip(events, jitters):
        if is_down:
            played = velocity + data.draw(st.integers(-1 if velocity == 2 else -2, 1))
            tokens += writer.note_on(seconds + jitter, pitch, played)
        else:
            tokens += writer.note_off(seconds + jitter, pitch)
    assert tokens == encode(notes)


def test_writer_ignores_a_release_without_a_press():
    writer = EventWriter()
    assert writer.note_off(0.5, 60) == []
    assert writer.note_on(1.0, 60, 66)[-1] == NOTE_ON + 60


def test_writer_releases_a_restruck_key_first():
    writer = EventWriter()
    writer.note_on(0.0, 60, 66)
    assert writer.note_on(0.0, 60, 66) == [NOTE_OFF + 60, NOTE_ON + 60]


def test_writer_sends_velocity_only_when_the_bin_changes():
    writer = EventWriter()
    assert writer.note_on(0.0, 60, 64) == [VELOCITY + 16, NOTE_ON + 60]
    assert writer.note_on(0.0, 62, 66) == [NOTE_ON + 62]  # same bin
    assert writer.note_on(0.0, 64, 100) == [VELOCITY + 25, NOTE_ON + 64]


def test_writer_never_moves_time_backwards():
    writer = EventWriter()
    writer.note_on(1.0, 60, 66)
    assert writer.note_on(0.5, 62, 66) == [NOTE_ON + 62]
    assert writer.advance_to(1.02) == [TIME_SHIFT + 1]


def test_writer_starts_at_its_start_time():
    writer = EventWriter(start_seconds=10.0)
    assert writer.note_on(10.05, 60, 66) == [TIME_SHIFT + 4, VELOCITY + 16, NOTE_ON + 60]


# -- the reader ----------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(st.integers(-3, VOCAB_SIZE + 3), max_size=300))
def test_reader_tolerates_any_token_stream(tokens):
    reader = EventReader()
    sounding = set()
    last_seconds = 0.0
    for token in tokens:
        for event in reader.read(token):
            assert event.seconds >= last_seconds
            last_seconds = event.seconds
            if event.velocity > 0:
                assert event.pitch not in sounding, "a sounding key was struck without a release"
                assert 1 <= event.velocity <= 127
                sounding.add(event.pitch)
            else:
                assert event.pitch in sounding, f"release of silent key {event.pitch}"
                sounding.discard(event.pitch)
    released = reader.release_all()
    assert {event.pitch for event in released} == sounding
    assert all(event.velocity == 0 and event.seconds == reader.seconds for event in released)
    assert reader.release_all() == []


@PROPERTY
@given(st.lists(st.integers(0, VOCAB_SIZE - 1), max_size=300))
def test_decode_of_any_token_stream_gives_valid_notes(tokens):
    for note in decode(tokens):
        assert note.end > note.start >= 0
        assert 0 <= note.pitch <= 127
        assert velocity_to_bin(note.velocity) * 4 + 2 == note.velocity


def test_reader_releases_a_restruck_key_first():
    reader = EventReader()
    reader.read(NOTE_ON + 60)
    reader.read(TIME_SHIFT + 9)
    events = reader.read(NOTE_ON + 60)
    assert [(event.pitch, event.velocity) for event in events] == [(60, 0), (60, 66)]
    assert all(event.seconds == pytest.approx(0.1) for event in events)


def test_reader_applies_velocity_tokens_to_later_notes():
    reader = EventReader(velocity=30)
    assert reader.read(NOTE_ON + 60)[0].velocity == bin_to_velocity(velocity_to_bin(30))
    reader.read(VELOCITY + 31)
    assert reader.read(NOTE_ON + 61)[0].velocity == 126


def test_a_long_silence_is_heard_as_a_bounded_rest():
    writer = EventWriter()
    writer.note_on(0.0, 60, 80)
    writer.note_off(0.5, 60)
    writer.shorten_rest(3600.5, longest=4.0)
    tokens = writer.note_on(3600.5, 62, 80)
    shifts = [token for token in tokens if TIME_SHIFT <= token < VELOCITY]
    assert sum(token - TIME_SHIFT + 1 for token in shifts) == 400  # 4 s of rest, in four tokens
    assert len(shifts) == 4


def test_a_rest_is_not_shortened_while_a_key_is_held():
    writer = EventWriter()
    writer.note_on(0.0, 60, 80)
    writer.shorten_rest(10.0, longest=4.0)
    assert writer.note_off(10.0, 60)[:-1] == [TIME_SHIFT + 99] * 10


# -- conditioning (version 2) ----------------------------------------------------------------------


def test_conditioning_tokens_are_read_as_nothing_and_keep_the_velocity():
    reader = EventReader(velocity=30)
    velocity = reader.read(NOTE_ON + 60)[0].velocity
    for token in conditioning(3, "chords") + [style_token(None)]:
        assert reader.read(token) == []
    assert reader.read(NOTE_ON + 62)[0].velocity == velocity and reader.seconds == 0.0


def test_style_tokens_cover_every_slot_and_refuse_the_rest():
    assert style_token(None) == STYLE and style_token(0) == STYLE + 1 and style_token(14) == TEXTURE - 1
    with pytest.raises(ValueError, match="15 styles"):
        style_token(15)


def test_every_phrase_opens_with_its_style_and_texture_and_the_notes_survive():
    tune = [Note(0.5 * i, 0.5 * i + 0.4, 60 + i, 80) for i in range(6)]  # a line
    chords = [Note(4.0 + i, 4.9 + i, pitch, 80) for i in range(3) for pitch in (48, 52, 55, 60)]  # after a rest
    tokens = encode_conditioned(tune + chords, style=2)
    opened = [(tokens[index], tokens[index + 1]) for index, token in enumerate(tokens) if token == style_token(2)]
    assert opened == [(style_token(2), texture_token("line")), (style_token(2), texture_token("chords"))]
    assert tokens[:2] == conditioning(2, "line")  # before anything else: the first phrase opens at 0
    assert decode(tokens) == quantize(tune + chords)
    assert [token for token in tokens if not is_conditioning(token)] == encode(tune + chords)


def test_music_without_rests_is_still_cut_into_phrases():
    legato = [Note(0.25 * i, 0.25 * i + 0.3, 60 + i % 12, 80) for i in range(100)]  # 25 s, never silent
    cut = phrases(legato)
    assert len(cut) == 4 and sum(len(phrase) for phrase in cut) == 100
    assert all(phrase[-1].start - phrase[0].start < LONGEST_PHRASE_SECONDS for phrase in cut)
    assert encode_conditioned(legato, style=None).count(STYLE) == 4  # withheld, once a phrase
