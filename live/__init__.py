"""Duetto: a real-time MIDI improvisation partner. See docs/architecture.md for the map of this package."""
