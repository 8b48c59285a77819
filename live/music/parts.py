"""Which part of the texture a note belongs to: the melody, the bass, an inner voice or chord, or other.

A score names its parts (staves), a MIDI file its tracks and channels; Duetto reads them as channels. A
player at a keyboard is one channel that may still play a tune over a bass. Both are read the same way:
- several channels: the highest-sounding one is the melody, the lowest the bass, the rest inner voices;
- one channel playing a line: the melody;
- one channel playing more: at each moment (strikes within CHORD_SECONDS) the top note is the melody and,
  when two or more notes strike together, the lowest is the bass and the others inner; a note struck
  alone goes to whichever of the melody and the bass it lies nearer.
"""

from __future__ import annotations

from statistics import median
from typing import Sequence

from duetto.music.notes import CHORD_SECONDS, Note
from duetto.music.texture import texture_of

PARTS = ("melody", "bass", "inner", "other")
MELODY, BASS, INNER, OTHER = range(len(PARTS))


def part_roles(notes: Sequence[Note]) -> list[int]:
    """The part (an index into PARTS) of each note, in the order given."""
    channels = sorted({note.channel for note in notes})
    if len(channels) > 1:
        by_height = sorted(channels, key=lambda channel: -median(n.pitch for n in notes if n.channel == channel))
        role = {channel: INNER for channel in channels}
        role[by_height[0]], role[by_height[-1]] = MELODY, BASS
        return [role[note.channel] for note in notes]
    if texture_of(notes) in (None, "line"):
        return [MELODY] * len(notes)
    return _split_one_hand(notes)


def _split_one_hand(notes: Sequence[Note]) -> list[int]:
    """Roles within one channel, moment by moment (see the module's docstring)."""
    order = sorted(range(len(notes)), key=lambda index: notes[index].start)
    roles = [MELODY] * len(notes)
    melody_pitch, bass_pitch = None, None
    moment: list[int] = []

    def close(moment: list[int]) -> None:
        nonlocal melody_pitch, bass_pitch
        by_pitch = sorted(moment, key=lambda index: notes[index].pitch)
        if len(by_pitch) == 1:
            pitch = notes[by_pitch[0]].pitch
            nearer_bass = (bass_pitch is not None and melody_pitch is not None
                           and abs(pitch - bass_pitch) < abs(pitch - melody_pitch))
            roles[by_pitch[0]] = BASS if nearer_bass else MELODY
            if nearer_bass:
                bass_pitch = pitch
            else:
                melody_pitch = pitch
            return
        for index in by_pitch[1:-1]:
            roles[index] = INNER
        roles[by_pitch[0]], roles[by_pitch[-1]] = BASS, MELODY
        bass_pitch, melody_pitch = notes[by_pitch[0]].pitch, notes[by_pitch[-1]].pitch

    for index in order:
        if moment and notes[index].start - notes[moment[0]].start >= CHORD_SECONDS:
            close(moment)
            moment = []
        moment.append(index)
    if moment:
        close(moment)
    return roles
