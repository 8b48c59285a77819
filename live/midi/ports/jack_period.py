"""The period of the running JACK server, asked of libjack itself.

JACK moves MIDI between clients once per period. A message an rtmidi client sends waits for the start
of the next period, so each trip from one client to another takes between nothing and one period: half
a period on average. Knowing the period, the engine can send its notes that much early and have them
land when it meant them to. rtmidi does not tell us the period, so a short-lived client of our own asks.
"""

from __future__ import annotations

import ctypes
import ctypes.util

JACK_NO_START_SERVER = 0x01  # JackOptions: never start a server just to answer a question


def _libjack() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("jack") or "libjack.so.0"
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return None
    library.jack_client_open.restype = ctypes.c_void_p
    library.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    library.jack_get_buffer_size.restype = ctypes.c_uint32
    library.jack_get_buffer_size.argtypes = [ctypes.c_void_p]
    library.jack_get_sample_rate.restype = ctypes.c_uint32
    library.jack_get_sample_rate.argtypes = [ctypes.c_void_p]
    library.jack_client_close.argtypes = [ctypes.c_void_p]
    return library


def jack_period_seconds() -> float | None:
    """Seconds per period of the JACK server clients would reach now (JACK_DEFAULT_SERVER is honoured),
    or None when no server answers or libjack is missing."""
    library = _libjack()
    if library is None:
        return None
    status = ctypes.c_int(0)
    client = library.jack_client_open(b"Duetto period", JACK_NO_START_SERVER, ctypes.byref(status))
    if not client:
        return None
    try:
        frames, rate = library.jack_get_buffer_size(client), library.jack_get_sample_rate(client)
    finally:
        library.jack_client_close(client)
    return frames / rate if rate else None
