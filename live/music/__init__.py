"""Music knowledge the rest builds on: notes and key events, keys and scales, tempo and the beat grid, groove
and dynamics. Imports nothing of Duetto above `midi`."""
