"""Voices for the note-level families (melody, notes): models that take one step per note, not per event.

Kept import-free so `live.model` can read the encoding names in `encodings` without importing a voice.
"""
