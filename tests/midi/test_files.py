"""MIDI files in and out: round trips, the sustain pedal, drums, unreadable files, atomic writes."""

from __future__ import annotations

import os
import stat
import struct

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duetto.atomic import write_atomically
from duetto.midi.files import MidiFileError, fold_sustain, read_midi, read_score, write_midi
from duetto.music.notes import Note, transpose

TICKS_PER_SECOND = 960  # mido's defaults: 480 ticks a beat at 120 bpm
TOLERANCE = 0.001


def hand_made_midi(path, events, midi_type=0):
    """Write a one-track file from (seconds, message) pairs; times should sit on the tick grid."""
    track = mido.MidiTrack()
    previous = 0
    for seconds, message in sorted(events, key=lambda event: event[0]):
        tick = round(seconds * TICKS_PER_SECOND)
        track.append(message.copy(time=tick - previous))
        previous = tick
    midi = mido.MidiFile(type=midi_type)
    midi.tracks.append(track)
    midi.save(path)
    return path


def press(seconds, pitch, velocity=80, channel=0):
    return seconds, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def release(seconds, pitch, channel=0):
    return seconds, mido.Message("note_off", note=pitch, channel=channel)


def pedal(seconds, value, channel=0):
    return seconds, mido.Message("control_change", control=64, value=value, channel=channel)


def about(start, end, pitch, velocity=80, channel=0):
    """A note as read back from a file: times within floating-point noise of the ones written."""
    return Note(pytest.approx(start), pytest.approx(end), pitch, velocity, channel)


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def assert_same_notes(read, written):
    """Same notes key by key, times within a millisecond (ticks are about 1 ms)."""
    def by_key(notes):
        keys = {}
        for note in sorted(notes):
            keys.setdefault((note.channel, note.pitch), []).append(note)
        return keys

    read_keys, written_keys = by_key(read), by_key(written)
    assert read_keys.keys() == written_keys.keys()
    for key, expected in written_keys.items():
        got = read_keys[key]
        assert len(got) == len(expected), key
        for a, b in zip(got, expected):
            assert a.velocity == b.velocity
            assert a.start == pytest.approx(b.start, abs=TOLERANCE)
            assert a.end == pytest.approx(b.end, abs=TOLERANCE)


# -- round trips ---------------------------------------------------------------------------------


@st.composite
def playable_notes(draw):
    """Notes as a MIDI file can hold them: no two notes of one key overlap (touching is fine)."""
    cursors = {}
    notes = []
    for _ in range(draw(st.integers(0, 30))):
        key = (draw(st.sampled_from([0, 1, 15])), draw(st.sampled_from([0, 60, 61, 127])))
        start = cursors.get(key, 0.0) + draw(st.one_of(st.just(0.0), st.floats(0, 5)))
        end = start + draw(st.floats(0.01, 5))
        cursors[key] = end
        notes.append(Note(start, end, key[1], draw(st.integers(1, 127)), key[0]))
    return notes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=playable_notes(), bpm=st.sampled_from([120.0, 140.0, 173.0]))
def test_write_then_read_round_trips(tmp_path, notes, bpm):
    """At 480 ticks a beat, any tempo from the default 120 bpm up puts every time within 1 ms."""
    path = tmp_path / "round.mid"
    # one track per channel: a file may spread channels over tracks however it likes
    tracks = {f"channel {c}": [n for n in notes if n.channel == c] for c in {n.channel for n in notes}}
    write_midi(path, tracks, bpm=bpm)
    assert_same_notes(read_midi(path), notes)


def test_round_trip_example(tmp_path):
    notes = [Note(0.0, 0.5, 60, 100), Note(0.5, 1.0, 60, 90), Note(0.25, 2.0, 64, 40, channel=3)]
    write_midi(tmp_path / "x.mid", {"Piano": notes})
    assert_same_notes(read_midi(tmp_path / "x.mid"), notes)


def test_written_file_has_named_tracks_and_a_tempo(tmp_path):
    write_midi(tmp_path / "x.mid", {"Prompt": [Note(0, 1, 60, 64)], "Duetto": [Note(1, 2, 62, 64)]}, bpm=100)
    midi = mido.MidiFile(tmp_path / "x.mid")
    assert midi.type == 1
    names = [message.name for track in midi.tracks for message in track if message.type == "track_name"]
    assert names == ["Prompt", "Duetto"]
    tempos = [message.tempo for message in midi.tracks[0] if message.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(100)]


def test_a_zero_length_note_is_written_one_tick_long(tmp_path):
    write_midi(tmp_path / "x.mid", {"t": [Note(1.0, 1.0, 60, 64)]})
    [note] = read_midi(tmp_path / "x.mid")
    assert note.start == pytest.approx(1.0, abs=TOLERANCE)
    assert 0 < note.duration <= 2 / TICKS_PER_SECOND


# -- reading what others wrote -------------------------------------------------------------------


def test_note_released_under_the_pedal_lasts_until_the_pedal_lifts(tmp_path):
    path = hand_made_midi(tmp_path / "p.mid", [
        press(0.0, 60), pedal(0.25, 127), release(0.5, 60), pedal(2.0, 0),
    ])
    assert read_midi(path) == [about(0.0, 2.0, 60)]


def test_note_released_before_the_pedal_goes_down_is_untouched(tmp_path):
    path = hand_made_midi(tmp_path / "p.mid", [
        press(0.0, 60), release(0.25, 60), pedal(0.5, 127), pedal(2.0, 0),
    ])
    assert read_midi(path) == [about(0.0, 0.25, 60)]


def test_restrike_under_the_pedal_cuts_the_earlier_note(tmp_path):
    path = hand_made_midi(tmp_path / "p.mid", [
        pedal(0.0, 100), press(0.0, 60), release(0.25, 60), press(1.0, 60, 90), release(1.25, 60),
        pedal(2.0, 10),
    ])
    assert read_midi(path) == [
        about(0.0, 1.0, 60), about(1.0, 2.0, 60, 90),
    ]


def test_pedal_on_one_channel_leaves_other_channels_alone(tmp_path):
    path = hand_made_midi(tmp_path / "p.mid", [
        pedal(0.0, 127, channel=1), press(0.0, 60), release(0.5, 60), pedal(2.0, 0, channel=1),
    ])
    assert read_midi(path) == [about(0.0, 0.5, 60)]


def test_pedal_held_to_the_end_holds_notes_to_the_end(tmp_path):
    path = hand_made_midi(tmp_path / "p.mid", [
        pedal(0.0, 127), press(0.0, 60), release(0.5, 60), press(1.0, 72), release(3.0, 72),
    ])
    assert read_midi(path) == [about(0.0, 3.0, 60), about(1.0, 3.0, 72)]


def test_drums_on_channel_10_are_ignored(tmp_path):
    path = hand_made_midi(tmp_path / "d.mid", [
        press(0.0, 36, channel=9), release(0.5, 36, channel=9), press(0.0, 60), release(1.0, 60),
    ])
    assert read_midi(path) == [about(0.0, 1.0, 60)]


def test_note_on_with_velocity_zero_is_a_release(tmp_path):
    path = hand_made_midi(tmp_path / "v.mid", [press(0.0, 60), press(0.5, 60, velocity=0)])
    assert read_midi(path) == [about(0.0, 0.5, 60)]


def test_a_key_struck_twice_without_release_makes_two_notes(tmp_path):
    path = hand_made_midi(tmp_path / "r.mid", [press(0.0, 60), press(0.5, 60, 90), release(1.0, 60)])
    assert read_midi(path) == [
        about(0.0, 0.5, 60), about(0.5, 1.0, 60, 90),
    ]


def test_touching_notes_of_one_key_in_two_tracks_both_survive(tmp_path):
    """The later note's track comes first, so the merged stream has its press before the release."""
    notes = [Note(0.0, 1.0, 60, 70), Note(1.0, 2.0, 60, 80)]
    write_midi(tmp_path / "x.mid", {"second": notes[1:], "first": notes[:1]})
    assert_same_notes(read_midi(tmp_path / "x.mid"), notes)


def test_a_note_never_released_ends_with_the_file(tmp_path):
    path = hand_made_midi(tmp_path / "h.mid", [press(0.0, 60), press(0.5, 62), release(1.5, 62)])
    assert read_midi(path) == [about(0.0, 1.5, 60), about(0.5, 1.5, 62)]


def test_fold_sustain_directly():
    notes = [Note(0.0, 0.5, 60, 80), Note(0.6, 0.7, 60, 80), Note(3.0, 3.5, 62, 80)]
    assert fold_sustain(notes, [(0.2, 1.0), (3.5, 4.0)]) == [
        Note(0.0, 0.6, 60, 80), Note(0.6, 1.0, 60, 80), Note(3.0, 4.0, 62, 80),
    ]


# -- unreadable files ----------------------------------------------------------------------------


def assert_one_line_error_naming(path):
    with pytest.raises(MidiFileError) as raised:
        read_midi(path)
    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def good_file_bytes(tmp_path):
    write_midi(tmp_path / "good.mid", {"t": [Note(i * 0.1, i * 0.1 + 0.3, 60 + i % 12, 80) for i in range(20)]})
    return (tmp_path / "good.mid").read_bytes()


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    assert_one_line_error_naming(tmp_path / "empty.mid")


def test_text_file_is_refused(tmp_path):
    (tmp_path / "notes.mid").write_text("this is not\na MIDI file\n")
    assert_one_line_error_naming(tmp_path / "notes.mid")


@pytest.mark.parametrize("keep", [10, 20, 30, -3])
def test_truncated_file_is_refused(tmp_path, keep):
    (tmp_path / "cut.mid").write_bytes(good_file_bytes(tmp_path)[:keep])
    assert_one_line_error_naming(tmp_path / "cut.mid")


def test_missing_file_is_refused(tmp_path):
    assert_one_line_error_naming(tmp_path / "nowhere.mid")


def test_format_2_is_refused(tmp_path):
    path = hand_made_midi(tmp_path / "f2.mid", [press(0.0, 60), release(1.0, 60)], midi_type=2)
    assert "format 2" in assert_one_line_error_naming(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4))
def test_damaged_file_reads_or_is_refused_in_one_line(tmp_path, damage):
    data = bytearray(good_file_bytes(tmp_path))
    for position, value in damage:
        data[position % len(data)] = value
    (tmp_path / "damaged.mid").write_bytes(bytes(data))
    try:
        notes = read_midi(tmp_path / "damaged.mid")
    except MidiFileError as error:
        assert "\n" not in str(error)
    else:
        assert all(note.end > note.start for note in notes)


# -- malformed meta and SysEx events: left out and counted, the notes read ----------------------
# Each file is built byte by byte: a track plays C4 from tick 0 to 480 and E4 from 480 to 960 (480 ticks a
# beat, 120 BPM: 0.5 s each), and the event under test sits 240 ticks into the first note, so a reader
# that dropped it together with its delta time would shorten that note.

END_OF_TRACK = b"\x00\xff\x2f\x00"
QUARTER_NOTES = [about(0.0, 0.5, 60), about(0.5, 1.0, 64)]
EMPTY_TEXT = b"\x81\x70\xff\x01\x00"  # a well-formed event, 240 ticks in


def smf(*chunks: bytes, division: int = 480, kind: int = 1) -> bytes:
    """A standard MIDI file: the header (counting the track chunks), then each chunk as given (see `mtrk`)."""
    tracks = sum(chunk.startswith(b"MTrk") for chunk in chunks)
    return b"MThd" + struct.pack(">LhHh", 6, kind, tracks, division) + b"".join(chunks)


def mtrk(events: bytes, name: bytes = b"MTrk") -> bytes:
    return name + struct.pack(">L", len(events)) + events


def quarter_notes(inserted: bytes) -> bytes:
    """C4 then E4, with `inserted` (an event whose delta time is 240 ticks) halfway through C4."""
    return (b"\x00\x90\x3c\x50" + inserted + b"\x81\x70\x80\x3c\x00"  # 240 + 240 ticks, then C4 off
            + b"\x00\x90\x40\x50\x83\x60\x80\x40\x00")  # E4 on, and off 480 ticks later


MALFORMED = {
    "key signature in mode 255": b"\x81\x70\xff\x59\x02\x00\xff",
    "key signature of 9 sharps": b"\x81\x70\xff\x59\x02\x09\x00",
    "key signature one byte short": b"\x81\x70\xff\x59\x01\x00",
    "time signature of 0 beats": b"\x81\x70\xff\x58\x04\x00\x02\x18\x08",
    "time signature over 2**255": b"\x81\x70\xff\x58\x04\x04\xff\x18\x08",
    "time signature two bytes short": b"\x81\x70\xff\x58\x02\x04\x02",
    "tempo of 0": b"\x81\x70\xff\x51\x03\x00\x00\x00",
    "tempo one byte long": b"\x81\x70\xff\x51\x01\x07",
    "SMPTE offset at 255 frames a second": b"\x81\x70\xff\x54\x05\xff\x00\x00\x00\x00",
    "SysEx holding a byte over 127": b"\x81\x70\xf0\x04\x7e\xff\x01\xf7",
}


@pytest.mark.parametrize("event", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_meta_or_sysex_event_is_left_out_and_counted_and_the_notes_read(tmp_path, event):
    path = tmp_path / "malformed.mid"
    path.write_bytes(smf(mtrk(quarter_notes(event) + END_OF_TRACK)))
    score = read_score(path)
    assert score.notes == QUARTER_NOTES
    assert score.skipped_events == 1


def test_every_malformed_event_of_a_track_is_counted(tmp_path):
    path = tmp_path / "many.mid"
    path.write_bytes(smf(mtrk(b"".join(MALFORMED.values()) + quarter_notes(EMPTY_TEXT) + END_OF_TRACK)))
    assert read_score(path).skipped_events == len(MALFORMED)


TOLERATED = {
    "track name in UTF-8": b"\x81\x70\xff\x03\x06" + "Pièce".encode(),
    "lyric in UTF-16 with its BOM": b"\x81\x70\xff\x05\x06" + "\ufeffla".encode("utf-16-le"),
    "text of bytes no encoding reads": b"\x81\x70\xff\x01\x04\xff\xfe\x80\x00",
    "meta event between running-status notes": b"\x81\x70\xff\x01\x01x",  # C4's release is running status
    "end of track halfway through": b"\x81\x70\xff\x2f\x00",
    "valid key and time signatures": b"\x81\x70\xff\x59\x02\xfd\x01\x00\xff\x58\x04\x03\x03\x0c\x08",
}


@pytest.mark.parametrize("event", TOLERATED.values(), ids=TOLERATED.keys())
def test_odd_but_well_formed_events_are_read_with_nothing_left_out(tmp_path, event):
    path = tmp_path / "odd.mid"
    # the release of C4 and the notes after it lean on running status: 0x80 is sent once, then data alone
    events = (b"\x00\x90\x3c\x50" + event + b"\x81\x70\x3c\x00"
              + b"\x00\x40\x50\x83\x60\x40\x00" + END_OF_TRACK)  # E4 on and off: note-ons of velocity 0
    path.write_bytes(smf(mtrk(events)))
    score = read_score(path)
    assert score.notes == QUARTER_NOTES
    assert score.skipped_events == 0


def test_a_valid_time_signature_beside_a_malformed_one_still_sets_the_meter(tmp_path):
    path = tmp_path / "meters.mid"
    three_eight = b"\x00\xff\x58\x04\x03\x03\x0c\x08"  # 3/8, at the malformed one's tick
    path.write_bytes(smf(mtrk(quarter_notes(MALFORMED["time signature of 0 beats"] + three_eight) + END_OF_TRACK)))
    score = read_score(path)
    assert score.meters == [(0.0, 4, 4), (pytest.approx(0.25), 3, 8)]
    assert score.skipped_events == 1


def test_a_track_without_its_end_and_a_chunk_of_another_kind_are_read(tmp_path):
    path = tmp_path / "loose.mid"
    conductor = mtrk(b"\x00\xff\x51\x03\x07\xa1\x20" + END_OF_TRACK)  # 120 BPM, as mido defaults
    path.write_bytes(smf(conductor, mtrk(b"maker's data", name=b"XFIH"), mtrk(quarter_notes(EMPTY_TEXT))))
    score = read_score(path)
    assert score.notes == QUARTER_NOTES
    assert score.skipped_events == 0


def test_smpte_time_division_is_timed_in_frames_whatever_the_tempo(tmp_path):
    path = tmp_path / "smpte.mid"
    division = -(25 << 8) | 40  # 25 frames a second, 40 ticks a frame: a millisecond a tick
    events = (b"\x00\xff\x51\x03\x0f\x42\x40"  # 60 BPM, which does not time an SMPTE file
              + b"\x00\x90\x3c\x50\x87\x68\x80\x3c\x00" + END_OF_TRACK)  # C4 for 1000 ticks
    path.write_bytes(smf(mtrk(events), division=division, kind=0))
    assert read_score(path).notes == [about(0.0, 1.0, 60)]


def test_a_file_with_0_ticks_a_beat_is_refused(tmp_path):
    path = tmp_path / "still.mid"
    path.write_bytes(smf(mtrk(quarter_notes(EMPTY_TEXT) + END_OF_TRACK), division=0))
    assert "0 ticks a beat" in assert_one_line_error_naming(path)


# -- writing -------------------------------------------------------------------------------------


def test_write_atomically_writes_the_file(tmp_path):
    target = tmp_path / "deeper" / "out.txt"
    write_atomically(target, lambda handle: handle.write("hello"), mode="w")
    assert target.read_text() == "hello"
    assert os.listdir(target.parent) == ["out.txt"]


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, failure):
    target = tmp_path / "out.mid"
    target.write_bytes(b"old contents")

    def half_then_fail(handle):
        handle.write(b"half of the new")
        raise failure("disk full")

    with pytest.raises(failure):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["out.mid"]


def test_written_file_permissions_follow_the_umask(tmp_path):
    write_midi(tmp_path / "x.mid", {"t": [Note(0, 1, 60, 64)]})
    mode = stat.S_IMODE((tmp_path / "x.mid").stat().st_mode)
    assert mode == 0o666 & ~current_umask()  # not mkstemp's private 0600


def test_write_midi_replaces_an_existing_file(tmp_path):
    path = tmp_path / "x.mid"
    write_midi(path, {"t": [Note(0, 1, 60, 64)]})
    write_midi(path, {"t": [Note(0, 1, 72, 64)]})
    assert [note.pitch for note in read_midi(path)] == [72]


def test_transpose_shifts_pitch_only():
    assert transpose([Note(0.5, 1.0, 60, 70, 2)], -12) == [Note(0.5, 1.0, 48, 70, 2)]
