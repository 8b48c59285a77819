"""MIDI files: reading their notes (the sustain pedal folded into note lengths on the way in, so nothing
downstream needs to know about CC 64) and writing notes back as a multi-track file, atomically.
"""

from __future__ import annotations

import os
from typing import Sequence

import mido

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


def read_midi(path: str | os.PathLike) -> list[Note]:
    """Read every non-drum note of a MIDI file, with the sustain pedal folded in.

    Raises MidiFileError with a one-line reason for anything unreadable.
    """
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise MidiFileError(f"{path}: not a readable MIDI file ({_describe(error)})") from None
    if midi.type == 2:
        raise MidiFileError(f"{path}: MIDI format 2 (independent sequences) is not supported")
    notes: list[Note] = []
    pedals: dict[int, list[tuple[float, int]]] = {}
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    restruck: dict[tuple[int, int], float] = {}  # when a press last cut a sounding note of that key short
    now = 0.0
    try:
        timed = list(midi)  # merged tracks, delta times already in seconds (tempo map applied)
    except (ValueError, KeyError, IndexError, EOFError) as error:
        raise MidiFileError(f"{path}: corrupt track data ({_describe(error)})") from None
    for message in timed:
        now += message.time
        if message.type not in ("note_on", "note_off", "control_change"):
            continue
        if message.channel == messages.DRUM_CHANNEL:  # General MIDI drums carry no pitch content
            continue
        if message.type == "control_change":
            if message.control == messages.SUSTAIN:
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
    folded: list[Note] = []
    for channel in sorted({note.channel for note in notes}):
        on_channel = [note for note in notes if note.channel == channel]
        folded.extend(fold_sustain(on_channel, _pedal_intervals(pedals.get(channel, []), now)))
    return sorted(folded)


def notes_to_midi(
    tracks: dict[str, Sequence[Note]],
    bpm: float = DEFAULT_TEMPO_BPM,
    ticks_per_beat: int = DEFAULT_TICKS_PER_BEAT,
) -> mido.MidiFile:
    """Build a type-1 MIDI file with one named track per entry of `tracks`."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    tempo = mido.bpm2tempo(bpm)
    seconds_per_tick = tempo / 1_000_000 / ticks_per_beat
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    midi.tracks.append(conductor)
    for name, notes in tracks.items():
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        timed = []
        for note in notes:
            start = round(note.start / seconds_per_tick)
            end = max(start + 1, round(note.end / seconds_per_tick))
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


def write_midi(path: str | os.PathLike, tracks: dict[str, Sequence[Note]], bpm: float = DEFAULT_TEMPO_BPM) -> None:
    """Write notes to a MIDI file atomically: a crash never leaves half a file behind."""
    midi = notes_to_midi(tracks, bpm=bpm)
    write_atomically(path, lambda handle: midi.save(file=handle))
