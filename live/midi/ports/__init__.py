"""MIDI ports: the protocol (`base`) and its backends, chosen by name.

Two backends sit behind the protocol: `rtmidi` (ALSA, JACK, CoreMIDI, Windows MM through python-rtmidi)
and `loopback` (in-process, for the demo on machines with no MIDI system and for unit tests); `reconnect`
wraps a port connected by name so it survives the other program quitting and coming back.
"""

from __future__ import annotations

from duetto.midi.ports.base import Backend


def open_backend(name: str = "auto", own_name: str = "Duetto") -> Backend:
    """A backend by name: auto, alsa, jack, coremidi, windows, or loopback; the ports it opens to other
    programs' ports are named after `own_name` (NAME In, NAME Out), never after the program."""
    if name == "loopback":
        from duetto.midi.ports.loopback import LoopbackBackend

        return LoopbackBackend()
    from duetto.midi.ports.rtmidi import RtMidiBackend

    return RtMidiBackend.select(name, own_name)
