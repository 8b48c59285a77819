"""Offline continuation: `duetto generate --prompt IN.mid --seconds 30 --out OUT.mid`.

The prompt is heard by the model's voice exactly as live input would be, then the same voice continues
it; the output file holds the prompt and the continuation as two tracks.
"""

from __future__ import annotations

from live import encoding
from live.encoding import key_events, notes_from_events
from live.improviser import Limits
from live.model import StepModel
from live.notes import Note, read_midi, write_midi
from live.sampler import Sampler
from live.voice import make_voice


def continue_midi(model: StepModel, prompt_path: str, out_path: str, seconds: float,
                  temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                  limits: Limits | None = None) -> str:
    """Continue a MIDI file; returns a one-line summary."""
    prompt = read_midi(prompt_path)
    if not prompt:
        raise ValueError(f"{prompt_path}: the prompt has no notes")
    prompt = encoding.quantize(prompt)
    voice = make_voice(model, Sampler(temperature, top_p, seed), limits, window_tokens=len(prompt) * 4 + 64)
    heard = key_events(prompt)
    for event in heard:
        voice.hear(event.seconds, event.pitch, event.velocity)
    offset = heard[-1].seconds
    events = voice.answer(seconds, trim_leading_silence=False)
    shifted = [Note(note.start + offset, note.end + offset, note.pitch, note.velocity)
               for note in notes_from_events(events)]
    write_midi(out_path, {"Prompt": prompt, "Duetto": shifted})
    return (f"wrote {out_path}: prompt {len(prompt)} notes ({offset:.1f} s), "
            f"continuation {len(shifted)} notes ({seconds:.1f} s)")
