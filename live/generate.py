"""Offline continuation: `duetto generate --prompt IN.mid --seconds 30 --out OUT.mid`.

The prompt is fed to the model exactly as live input would be, then the same improviser continues it; the
output file holds the prompt and the continuation as two tracks.
"""

from __future__ import annotations

from live import encoding
from live.encoding import EventReader, notes_from_events
from live.improviser import Improviser, Limits
from live.model import StepModel
from live.notes import Note, read_midi, write_midi
from live.sampler import Sampler


def continue_midi(model: StepModel, prompt_path: str, out_path: str, seconds: float,
                  temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                  limits: Limits | None = None) -> str:
    """Continue a MIDI file; returns a one-line summary."""
    prompt = read_midi(prompt_path)
    if not prompt:
        raise ValueError(f"{prompt_path}: the prompt has no notes")
    tokens = [encoding.START] + encoding.encode(prompt)
    logits, state = model.feed(tokens, model.initial_state())
    prompt_end = EventReader()
    for token in tokens:
        prompt_end.read(token)
    improviser = Improviser(model, Sampler(temperature, top_p, seed), limits)
    events = improviser.continue_from(logits, state, seconds, trim_leading_silence=False)
    offset = prompt_end.seconds
    shifted = [Note(note.start + offset, note.end + offset, note.pitch, note.velocity)
               for note in notes_from_events(events)]
    write_midi(out_path, {"Prompt": encoding.quantize(prompt), "Duetto": shifted})
    return (f"wrote {out_path}: prompt {len(prompt)} notes ({prompt_end.seconds:.1f} s), "
            f"continuation {len(shifted)} notes ({seconds:.1f} s)")
