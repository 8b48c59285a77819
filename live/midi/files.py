"""MIDI files: reading what they hold and writing notes back, atomically.

Reading gives a `MidiScore`: the pitched notes (the sustain pedal folded into their lengths on the way in,
so nothing downstream needs to know about CC 64), the drum part apart (General MIDI channel 10 holds
percussion, not pitches), the tempo map, the time signatures and each channel's program. Writing takes
named tracks of notes (each note keeps its channel) with a tempo map and programs, so a file read and
written back lines up with the original in a DAW.

Reading is tolerant the way players and DAWs are: a meta or SysEx event that cannot be meant (a key
signature in mode 255, a tempo of 0, a time signature of 0 beats, a SysEx holding bytes over 127) is left
out and counted (`MidiScore.skipped_events`), and the rest of the file plays; chunks other than tracks are
passed over; SMPTE time division is timed in frames. mido decodes every message; only the loop over a
track's events is ours (`_read_track`), because mido's stops the whole file at the first event it cannot
decode. A file cut short or not MIDI at all is still a one-line `MidiFileError`.
"""

from __future__ import annotations

import bisect
import io
import os
from dataclasses import dataclass, field
from typing import Sequence

import mido
from mido.midifiles.meta import KeySignatureError, build_meta_message
from mido.midifiles.midifiles import DEFAULT_TEMPO as MIDO_TEMPO  # µs a beat until a tempo is set
from mido.midifiles.midifiles import (read_byte, read_bytes, read_chunk_header, read_file_header, read_message,
                                      read_sysex, read_variable_int)

from duetto.atomic import write_atomically
from duetto.midi import messages
from duetto.music.notes import Note

DEFAULT_TICKS_PER_BEAT = 480
DEFAULT_TEMPO_BPM = 120.0


class MidiFileError(Exception):
    """A MIDI file that cannot be read; the message says why in one line."""


def fold_sustain(notes: Sequence[Note], pedal_down: Sequence[tuple[float, float]]) -> list[Note]:
    """Lengthen notes released while the pedal is down to the pedal's release.

    A held note is cut short when the same pitch is struck again, as on a piano.
    `pedal_down` holds (press, release) intervals in seconds.
    """
    lengthened = []
    for note in notes:
        end = note.end
        for press, release in pedal_down:
            if press <= note.end < release:
                end = max(end, release)
                break
        lengthened.append(Note(note.start, end, note.pitch, note.velocity, note.channel))
    by_pitch: dict[tuple[int, int], list[Note]] = {}
    for note in sorted(lengthened):
        by_pitch.setdefault((note.channel, note.pitch), []).append(note)
    folded = []
    for same_key in by_pitch.values():
        for current, following in zip(same_key, same_key[1:] + [None]):
            end = current.end
            if following is not None and following.start < end:
                end = max(following.start, current.start)
            if end > current.start:
                folded.append(Note(current.start, end, current.pitch, current.velocity, current.channel))
    return sorted(folded)


def _pedal_intervals(events: list[tuple[float, int]], piece_end: float) -> list[tuple[float, float]]:
    """Turn a time-ordered list of (time, CC64 value) into pedal-down intervals."""
    intervals = []
    pressed_at = None
    for time, value in events:
        if value >= messages.SWITCH_ON and pressed_at is None:
            pressed_at = time
        elif value < messages.SWITCH_ON and pressed_at is not None:
            intervals.append((pressed_at, time))
            pressed_at = None
    if pressed_at is not None:
        intervals.append((pressed_at, piece_end))
    return intervals


def _describe(error: Exception) -> str:
    """mido's errors, some of which (a truncated file's EOFError) carry no message of their own."""
    if str(error):
        return str(error)
    return "file ends too early" if isinstance(error, EOFError) else type(error).__name__


@dataclass
class MidiScore:
    notes: list[Note]  # pitched notes, in time order, each on its channel
    drums: list[Note] = field(default_factory=list)  # the percussion of channel 10
    tempos: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, DEFAULT_TEMPO_BPM)])  # (seconds, BPM)
    programs: dict[int, int] = field(default_factory=dict)  # channel -> its (first) program
    # (seconds, numerator, denominator) from each time signature on; 4/4 from the start when none is given
    meters: list[tuple[float, int, int]] = field(default_factory=lambda: [(0.0, 4, 4)])
    skipped_events: int = 0  # malformed meta and SysEx events left out (see the module's docstring)

    @property
    def end(self) -> float:
        """When the last note, pitched or drum, ends."""
        return max((note.end for note in self.notes + self.drums), default=0.0)

    def bpm_at(self, seconds: float) -> float:
        return self.tempos[max(0, bisect.bisect_right([at for at, _ in self.tempos], seconds) - 1)][1]


def read_midi(path: str | os.PathLike) -> list[Note]:
    """Every pitched note of a MIDI file (drums left out), with the sustain pedal folded in."""
    return read_score(path).notes


def _sensible(message: mido.Message | mido.MetaMessage) -> bool:
    """False for a meta event that decodes but cannot be meant: a tempo of 0 (time would stand still), a
    time signature of 0 beats or of beats shorter than a 64th note."""
    if message.type == "set_tempo":
        return message.tempo > 0
    if message.type == "time_signature":
        return message.numerator > 0 and message.denominator <= 64
    return True


def _read_track(chunk: bytes, smpte: bool) -> tuple[mido.MidiTrack, int]:
    """A track chunk's events, and how many malformed meta or SysEx events were left out (their delta
    times carried to the next event, so nothing after them moves). Running status carries across meta
    and SysEx events, as mido and most players read it. In an SMPTE-timed file tempo changes time
    nothing, and are left out uncounted."""
    infile = io.BytesIO(chunk)
    track = mido.MidiTrack()
    skipped = carried = 0
    running: int | None = None
    while infile.tell() < len(chunk):
        delta = carried + read_variable_int(infile)
        status = read_byte(infile)
        peek = []
        if status < 0x80:
            if running is None:
                raise OSError("running status without a status byte before it")
            status, peek = running, [status]
        elif status < 0xF0:
            running = status
        try:
            if status == 0xFF:
                meta_type = read_byte(infile)
                data = read_bytes(infile, read_variable_int(infile))  # read whole before decoding
                message = build_meta_message(meta_type, data, delta)
            elif status in (0xF0, 0xF7):
                message = read_sysex(infile, delta)  # bytes over 127 raise ValueError once all are read
            else:
                message = read_message(infile, status, peek, delta)
        except (KeySignatureError, ValueError, KeyError, IndexError):  # an event mido cannot decode
            message = None
        malformed = message is None or not _sensible(message)
        skipped += malformed
        if malformed or (smpte and message.type == "set_tempo"):
            carried = delta
            continue
        carried = 0
        track.append(message)
    return track, skipped


def _read_file(path: str | os.PathLike) -> tuple[mido.MidiFile, int]:
    """The file as mido would give it, read tolerantly (see `_read_track`), and the events left out."""
    with open(path, "rb") as infile:
        kind, track_count, division = read_file_header(infile)
        if division == 0:
            raise ValueError("0 ticks a beat")
        tracks, skipped = [], 0
        while len(tracks) < track_count:
            name, size = read_chunk_header(infile)
            chunk = infile.read(size)
            if len(chunk) < size:
                raise EOFError
            if name == b"MTrk":  # other chunks (a maker's own) are no part of the music
                track, bad = _read_track(chunk, smpte=division < 0)
                tracks.append(track)
                skipped += bad
    if division < 0:  # SMPTE: frames per second (29: 29.97) times ticks per frame, no beats
        frames = -(division >> 8)
        ticks_per_second = (29.97 if frames == 29 else frames) * (division & 0xFF)
        division = ticks_per_second * MIDO_TEMPO / 1_000_000  # mido times a tick as tempo / division µs
    return mido.MidiFile(type=kind, ticks_per_beat=division, tracks=tracks), skipped


def read_score(path: str | os.PathLike) -> MidiScore:
    """Read a MIDI file's notes, drums, tempo map and programs, leaving malformed meta and SysEx events out.

    Raises MidiFileError with a one-line reason for anything unreadable.
    """
    try:
        midi, skipped = _read_file(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise MidiFileError(f"{path}: not a readable MIDI file ({_describe(error)})") from None
    if midi.type == 2:
        raise MidiFileError(f"{path}: MIDI format 2 (independent sequences) is not supported")
    notes: list[Note] = []
    pedals: dict[int, list[tuple[float, int]]] = {}
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    restruck: dict[tuple[int, int], float] = {}  # when a press last cut a sounding note of that key short
    tempos: list[tuple[float, float]] = []
    meters: list[tuple[float, int, int]] = []
    programs: dict[int, int] = {}
    now = 0.0
    try:
        timed = list(midi)  # merged tracks, delta times already in seconds (tempo map applied)
    except (ValueError, KeyError, IndexError, EOFError) as error:
        raise MidiFileError(f"{path}: corrupt track data ({_describe(error)})") from None
    for message in timed:
        now += message.time
        if message.type == "set_tempo":
            bpm = mido.tempo2bpm(message.tempo)
            if tempos and tempos[-1][0] == now:
                tempos[-1] = (now, bpm)
            elif not tempos or tempos[-1][1] != bpm:
                tempos.append((now, bpm))
            continue
        if message.type == "time_signature":
            if meters and meters[-1][0] == now:
                meters.pop()
            meters.append((now, message.numerator, message.denominator))
            continue
        if message.type == "program_change":
            programs.setdefault(message.channel, message.program)
            continue
        if message.type not in ("note_on", "note_off", "control_change"):
            continue
        if message.type == "control_change":
            if message.control == messages.SUSTAIN and message.channel != messages.DRUM_CHANNEL:
                pedals.setdefault(message.channel, []).append((now, message.value))
            continue
        key = (message.channel, message.note)
        is_press = message.type == "note_on" and message.velocity > 0
        if not is_press and restruck.get(key) == now and key in sounding and sounding[key][0] == now:
            continue  # the release of a note another track re-struck at this instant, not of the new one
        if key in sounding:
            start, velocity = sounding.pop(key)
            if now > start:
                notes.append(Note(start, now, message.note, velocity, message.channel))
                if is_press:
                    restruck[key] = now
        if is_press:
            sounding[key] = (now, message.velocity)
    for (channel, pitch), (start, velocity) in sounding.items():
        if now > start:
            notes.append(Note(start, now, pitch, velocity, channel))
    drums = sorted(note for note in notes if note.channel == messages.DRUM_CHANNEL)
    folded: list[Note] = []
    for channel in sorted({note.channel for note in notes} - {messages.DRUM_CHANNEL}):
        on_channel = [note for note in notes if note.channel == channel]
        folded.extend(fold_sustain(on_channel, _pedal_intervals(pedals.get(channel, []), now)))
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0.0, DEFAULT_TEMPO_BPM))  # MIDI's default until a tempo is set
    if not meters or meters[0][0] > 0:
        meters.insert(0, (0.0, 4, 4))  # MIDI's default until a time signature is given
    return MidiScore(sorted(folded), drums, tempos, programs, meters, skipped)


class TempoMap:
    """Seconds <-> ticks under a list of (seconds, BPM) tempo changes."""

    def __init__(self, tempos: Sequence[tuple[float, float]], ticks_per_beat: int) -> None:
        self.ticks_per_beat = ticks_per_beat
        self.changes: list[tuple[float, float, float]] = []  # (seconds, ticks, seconds per tick) from there
        ticks = 0.0
        for index, (at, bpm) in enumerate(tempos):
            if index:
                previous_at, previous_ticks, per_tick = self.changes[-1]
                ticks = previous_ticks + (at - previous_at) / per_tick
            self.changes.append((at, ticks, 60.0 / bpm / ticks_per_beat))

    def ticks(self, seconds: float) -> int:
        at, ticks, per_tick = self.changes[max(0, bisect.bisect_right([c[0] for c in self.changes], seconds) - 1)]
        return round(ticks + (seconds - at) / per_tick)


def notes_to_midi(
    tracks: dict[str, Sequence[Note]],
    bpm: float = DEFAULT_TEMPO_BPM,
    ticks_per_beat: int = DEFAULT_TICKS_PER_BEAT,
    tempos: Sequence[tuple[float, float]] | None = None,
    programs: dict[int, int] | None = None,
    meters: Sequence[tuple[float, int, int]] | None = None,
) -> mido.MidiFile:
    """Build a type-1 MIDI file: a conductor track with the tempo map (`tempos`, else one `bpm`) and the
    time signatures (`meters`: (seconds, numerator, denominator); none written when not given), then one
    named track per entry of `tracks`, opening with the program of each channel it plays on."""
    tempos = list(tempos) if tempos else [(0.0, bpm)]
    timeline = TempoMap(tempos, ticks_per_beat)
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack()
    marks = [(timeline.ticks(at), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)))
             for at, tempo_bpm in tempos]
    marks += [(timeline.ticks(max(0.0, at)), mido.MetaMessage("time_signature", numerator=numerator,
                                                            denominator=denominator))
              for at, numerator, denominator in meters or ()]
    previous = 0
    for tick, mark in sorted(marks, key=lambda item: item[0]):
        conductor.append(mark.copy(time=tick - previous))
        previous = tick
    midi.tracks.append(conductor)
    for name, notes in tracks.items():
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        for channel in sorted({note.channel for note in notes} & set(programs or {})):
            track.append(mido.Message("program_change", channel=channel, program=programs[channel], time=0))
        timed = []
        for note in notes:
            start = timeline.ticks(note.start)
            end = max(start + 1, timeline.ticks(note.end))
            # note-offs sort before note-ons at the same tick, so a repeated pitch re-strikes cleanly
            timed.append((start, 1, mido.Message("note_on", channel=note.channel, note=note.pitch,
                                                 velocity=note.velocity)))
            timed.append((end, 0, mido.Message("note_off", channel=note.channel, note=note.pitch,
                                               velocity=0)))
        timed.sort(key=lambda item: (item[0], item[1]))
        previous = 0
        for tick, _, message in timed:
            track.append(message.copy(time=tick - previous))
            previous = tick
        midi.tracks.append(track)
    return midi


def write_midi(path: str | os.PathLike, tracks: dict[str, Sequence[Note]], bpm: float = DEFAULT_TEMPO_BPM,
               tempos: Sequence[tuple[float, float]] | None = None, programs: dict[int, int] | None = None,
               meters: Sequence[tuple[float, int, int]] | None = None) -> None:
    """Write notes to a MIDI file atomically: a crash never leaves half a file behind."""
    midi = notes_to_midi(tracks, bpm=bpm, tempos=tempos, programs=programs, meters=meters)
    write_atomically(path, lambda handle: midi.save(file=handle))
