"""What rtmidi does not tell about the running JACK server, asked of libjack itself: its period, who is
connected to a port, and whether it is there at all; and connecting ports rtmidi did not open.

JACK moves MIDI between clients once per period. A message an rtmidi client sends waits for the start
of the next period, so each trip from one client to another takes between nothing and one period: half
a period on average. Knowing the period, the engine can send its notes that much early and have them
land when it meant them to.

A send to a port whose peer has gone raises nothing on JACK: the message is written into the period's
buffer and nobody reads it. A synth that restarts between two looks at the port list leaves a port of
the same name that Duetto is no longer connected to, so a port connected by name checks its connections.

Each question opens a short-lived client of our own (never starting a server) and closes it.

libjack prints what goes wrong to stderr, several lines at a time ("Cannot read socket fd = 12", "jack
server is not running or cannot be started") from whichever thread meets it, when a server goes away or a
question finds none. Duetto says what happened in one line of its own, so `quiet_libjack` silences every
copy of libjack loaded in the process (python-rtmidi's wheel carries a copy of its own).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from pathlib import Path
from typing import Iterator

JACK_NO_START_SERVER = 0x01  # JackOptions: never start a server just to answer a question
JACK_SERVER_FAILED = 0x10  # JackStatus: no server to connect to (other failures come from a server that is there)


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
    library.jack_port_by_name.restype = ctypes.c_void_p
    library.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    library.jack_port_get_all_connections.restype = ctypes.POINTER(ctypes.c_char_p)
    library.jack_port_get_all_connections.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    library.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    library.jack_free.argtypes = [ctypes.c_void_p]
    library.jack_client_close.argtypes = [ctypes.c_void_p]
    return library


def quiet_libjack() -> None:
    """Send libjack's error and info messages nowhere, in every copy of libjack this process has loaded.

    The function given to libjack must never run Python: libjack calls it on its own threads, its
    real-time one too, which may be cancelled in the middle (see duetto.midi.ports.rtmidi). So it is a C
    function that takes one string and does nothing with it that matters: libc's `strlen`.
    """
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        return  # not Linux: JACK's messages stay as they are
    libc = ctypes.CDLL(None)
    loaded = {line.split()[-1] for line in maps.read_text().splitlines() if "libjack" in line.split("/")[-1]}
    system = ctypes.util.find_library("jack")
    for path in sorted(loaded | ({system} if system else set())):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for setter in (library.jack_set_error_function, library.jack_set_info_function):
            setter.argtypes = [ctypes.c_void_p]
            setter(ctypes.cast(libc.strlen, ctypes.c_void_p))


@contextlib.contextmanager
def _client(status: ctypes.c_int | None = None) -> Iterator[tuple[ctypes.CDLL, int] | None]:
    """(libjack, a client of ours) on the server clients would reach now (JACK_DEFAULT_SERVER is
    honoured), or None when no server answers or libjack is missing; `status` gets JACK's reason."""
    library = _libjack()
    status = ctypes.c_int(0) if status is None else status
    client = library and library.jack_client_open(b"Duetto ask", JACK_NO_START_SERVER, ctypes.byref(status))
    if not client:
        yield None
        return
    try:
        yield library, client
    finally:
        library.jack_client_close(client)


def jack_period_seconds() -> float | None:
    """Seconds per period of the JACK server, or None when no server answers or libjack is missing."""
    with _client() as asked:
        if asked is None:
            return None
        library, client = asked
        frames, rate = library.jack_get_buffer_size(client), library.jack_get_sample_rate(client)
    return frames / rate if rate else None


def jack_running() -> bool:
    """Whether a JACK server is there (libjack missing counts as no). A client refused by a server that is
    there (busy on a loaded machine, its client table full) is not a server gone: only JACK's "no server to
    connect to" is, since letting go of live ports on a false alarm cuts every connection to them."""
    status = ctypes.c_int(0)
    with _client(status) as asked:
        return asked is not None or (status.value != 0 and not status.value & JACK_SERVER_FAILED)


def jack_connections(port: str) -> list[str] | None:
    """The full names of the ports connected to `port` ("client:port"); None when no server answers,
    libjack is missing or there is no such port."""
    with _client() as asked:
        if asked is None:
            return None
        library, client = asked
        handle = library.jack_port_by_name(client, port.encode())
        if not handle:
            return None
        names = library.jack_port_get_all_connections(client, handle)
        if not names:
            return []
        try:
            found, index = [], 0
            while names[index] is not None:
                found.append(names[index].decode(errors="replace"))
                index += 1
            return found
        finally:
            library.jack_free(names)


def jack_connect(connections: list[tuple[str, str]]) -> None:
    """Connect each (output port, input port) by full name, where JACK will; one that is there already,
    or whose ports have gone, is left as it is (a port that did open again says so where it is used)."""
    if not connections:
        return
    with _client() as asked:
        if asked is None:
            return
        library, client = asked
        for source, destination in connections:
            library.jack_connect(client, source.encode(), destination.encode())
