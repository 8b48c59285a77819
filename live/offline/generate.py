"""Offline continuation: `duetto generate --prompt IN.mid --seconds 30 --out OUT.mid`.

The prompt is heard by the model's voice exactly as live input would be, then the same voice continues
it; the output file holds the prompt and the continuation as two tracks. The quality benchmark continues
held-out pieces through the same `continue_notes`, so what it measures is what `generate` and `jam` play.
"""

from __future__ import annotations

from typing import Sequence

from duetto.encodings import events as encoding
from duetto.encodings.events import key_events
from duetto.families import make_voice
from duetto.midi.files import read_midi, write_midi
from duetto.model.sampler import Sampler
from duetto.model.step_model import StepModel
from duetto.music.key import KeyFinder
from duetto.music.notes import Note, notes_from_events
from duetto.voices.in_kind import CallListener
from duetto.voices.limits import Limits


def continue_notes(model: StepModel, prompt: Sequence[Note], seconds: float, sampler: Sampler,
                   limits: Limits | None = None, style: str = "auto", texture: str = "auto") -> list[Note]:
    """`seconds` of continuation after the prompt's last key event, on the prompt's clock, in kind with
    the end of the prompt (duetto.voices.in_kind)."""
    voice = make_voice(model, sampler, limits, window_tokens=len(prompt) * 4 + 64)
    call = CallListener()
    heard = key_events(prompt)
    for event in heard:
        voice.hear(event.seconds, event.pitch, event.velocity)
        call.hear(event.seconds, event.pitch, event.velocity)
    styles = model.info.styles
    kind = call.kind(texture, styles.index(style) if style in styles else None, KeyFinder.of(call.notes))
    offset = heard[-1].seconds
    return [Note(note.start + offset, note.end + offset, note.pitch, note.velocity)
            for note in notes_from_events(voice.answer(seconds, trim_leading_silence=False, kind=kind))]


def continue_midi(model: StepModel, prompt_path: str, out_path: str, seconds: float,
                  temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                  limits: Limits | None = None, style: str = "auto", texture: str = "auto",
                  ) -> tuple[str, dict[str, list[Note]]]:
    """Continue a MIDI file; returns a one-line summary and the two tracks written."""
    prompt = read_midi(prompt_path)
    if not prompt:
        raise ValueError(f"{prompt_path}: the prompt has no notes")
    prompt = encoding.quantize(prompt)
    continuation = continue_notes(model, prompt, seconds, Sampler(temperature, top_p, seed), limits, style, texture)
    tracks = {"Prompt": prompt, "Duetto": continuation}
    write_midi(out_path, tracks)
    prompt_seconds = max(note.end for note in prompt)
    summary = (f"wrote {out_path}: prompt {len(prompt)} notes ({prompt_seconds:.1f} s), "
               f"continuation {len(continuation)} notes ({seconds:.1f} s)")
    return summary, tracks
