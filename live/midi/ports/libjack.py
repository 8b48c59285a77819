"""What rtmidi does not tell about the running JACK server, asked of libjack itself: its period, who is
connected to a port, and whether it is there at all; and connecting ports rtmidi did not open.

JACK moves MIDI between clients once per period. A message an rtmidi client sends waits for the start
of the next period, so each trip from one client to another takes between nothing and one period: half
a period on average. Knowing the period, the engine can send its notes that much early and have them
land when it meant them to.

A send to a port whose peer has gone raises nothing on JACK: the message is written into the period's
buffer and nobody reads it. A synth that restarts between two looks at the port list leaves a port of
the same name that Duetto is no longer connected to, so a port connected by name checks its connections.

All questions go through one client of our own per process ("Duetto ask", never starting a server),
opened at the first question and kept: each question first makes sure the server still answers it (a
request to the server and back) and opens a new one when it does not. Why kept, not one per question:
every client that comes and goes is a chance for libjack (jack2 1.9.x) to leave some program's table of
wake-up handles wrong. A client closed just as another program opens one, which the server gives the
departed client's number, leaves the new client unwoken by the closing program's clients, or deaf
altogether (measured: a listener opened the moment a jam closed a client missed the jam's whole answer,
5 runs in 20 under load); jack2 issue 721 is the same kind of race. A jam that opened and closed a client
for every look at the port list, twice a second for a whole set, offered that race to every program
opening a client beside it. With the client kept, a jam opens and closes clients only while it opens its
own ports.

libjack prints what goes wrong to stderr, several lines at a time ("Cannot read socket fd = 12", "jack
server is not running or cannot be started") from whichever thread meets it, when a server goes away or a
question finds none. Duetto says what happened in one line of its own, so `quiet_libjack` silences every
copy of libjack loaded in the process (python-rtmidi's wheel carries a copy of its own).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Iterator

JACK_NO_START_SERVER = 0x01  # JackOptions: never start a server just to answer a question
JACK_SERVER_FAILED = 0x10  # JackStatus: no server to connect to (other failures come from a server that is there)
JACK_PORT_IS_INPUT, JACK_PORT_IS_OUTPUT = 0x1, 0x2  # JackPortFlags
JACK_MIDI_TYPE = b"8 bit raw midi"  # JACK_DEFAULT_MIDI_TYPE


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
    library.jack_get_client_name.restype = ctypes.c_char_p
    library.jack_get_client_name.argtypes = [ctypes.c_void_p]
    library.jack_get_uuid_for_client_name.restype = ctypes.c_void_p  # a string of JACK's, freed by us
    library.jack_get_uuid_for_client_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    library.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
    library.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
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


class _Asker:
    """The process's one client for questions: opened when first needed, kept while the server answers it.
    Its lock makes each question whole (the client is one, the threads asking are several)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.library: ctypes.CDLL | None = None  # loaded at the first question: importing Duetto loads no libjack
        self.client: int | None = None
        self.server: str | None = None  # JACK_DEFAULT_SERVER as it was when the client opened

    def answering(self, status: ctypes.c_int) -> int | None:
        """The kept client if the server still answers it, else a new one; None when none opens (`status`
        then gets JACK's reason). Called with the lock held."""
        self.library = self.library or _libjack()
        if self.library is None:
            return None
        server = os.environ.get("JACK_DEFAULT_SERVER")
        if self.client is not None and (server != self.server or not self._answers(self.client)):
            self.library.jack_client_close(self.client)  # its server went away, or another is named now
            self.client = None
        if self.client is None:
            self.client = self.library.jack_client_open(b"Duetto ask", JACK_NO_START_SERVER, ctypes.byref(status))
            self.server = server
        return self.client or None

    def _answers(self, client: int) -> bool:
        """Whether the server answers a request of this client's (its own id, asked by name): one trip to
        the server and back, where the port list and connections are read from memory it shares."""
        uuid = self.library.jack_get_uuid_for_client_name(client, self.library.jack_get_client_name(client))
        if not uuid:
            return False
        self.library.jack_free(uuid)
        return True


_ASKER = _Asker()


@contextlib.contextmanager
def _client(status: ctypes.c_int | None = None) -> Iterator[tuple[ctypes.CDLL, int] | None]:
    """(libjack, the process's question client) on the server clients would reach now (JACK_DEFAULT_SERVER
    is honoured), held for one question; None when no server answers or libjack is missing, and then
    `status` gets JACK's reason."""
    with _ASKER.lock:
        client = _ASKER.answering(ctypes.c_int(0) if status is None else status)
        yield None if client is None else (_ASKER.library, client)


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
        return _names(library, library.jack_port_get_all_connections(client, handle))


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


def jack_midi_ports(direction: str) -> list[str] | None:
    """The full names ("client:port") of the JACK MIDI ports one can play into (`direction` "input": the
    synths' and DAW tracks' inputs) or listen to ("output"), as rtmidi lists them but through the kept
    client; None when no server answers or libjack is missing."""
    flags = JACK_PORT_IS_INPUT if direction == "input" else JACK_PORT_IS_OUTPUT
    with _client() as asked:
        if asked is None:
            return None
        library, client = asked
        return _names(library, library.jack_get_ports(client, None, JACK_MIDI_TYPE, flags))


def _names(library: ctypes.CDLL, names) -> list[str]:
    """The strings of a list libjack made (ended by NULL; NULL itself for none), the list freed."""
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
