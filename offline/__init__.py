"""Work on files, away from the ports: continuing a MIDI file, rendering audio, drawing pictures."""
