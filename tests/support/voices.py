"""What a voice's model has heard, read back the same way whatever the family."""

from __future__ import annotations

from duetto.encodings import metrical
from duetto.encodings.events import NOTE_OFF, NOTE_ON


def pitches_heard(voice) -> list[int]:
    """The pitches the model has heard, in order: an event voice's NOTE_ON tokens in its window, or the
    notes a metrical voice has stepped in and the one it holds for its next step."""
    if hasattr(voice, "context"):
        return [token - NOTE_ON for token in voice.context.window if NOTE_ON <= token < NOTE_OFF]
    steps = [*voice.rolling.window, *([voice.latest] if voice.latest is not None else [])]
    return [int(feeds["previous"][0][metrical.PITCH]) for feeds in steps]
