"""MIDI itself: what the bytes mean (`messages`), MIDI files (`files`) and ports (`ports`). Imports nothing
of Duetto above it."""
