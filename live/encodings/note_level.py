"""The encodings of the note-level families: names, versions and logits sizes, for the runtime's registry.

A step of either model is one note, and both read out logits over the 128 MIDI pitches.
"""

from __future__ import annotations

PITCHES = 128
START = PITCHES  # the pitch input that opens a sequence, before any note was heard

MELODY = "duetto-melody"  # one pitch per melody note; timing is the voice's, from what it heard
MELODY_VERSION = 1
NOTES = "duetto-notes"  # one (pitch, step since previous onset, duration) per note, polyphonic
NOTES_VERSION = 1
