"""A jam opens no JACK client once its ports are open (issue 20), over a real JACK server.

Every client that comes and goes is a chance for libjack to leave some program's wake-up handles wrong
(duetto.midi.ports.libjack): a client closed just as another program opens one, which gets the departed
client's number, leaves the new client never woken by the closing program, or deaf altogether. A jam
asked the server whether it was still there, and looked at the port list, through a new client each
time, twice a second for the whole session, so any client opened beside it could lose that race. Now all
its questions go through one kept client, so a jam playing into a synth it reconnects to by name (whose
checks look at the list and the connections twice a second) opens none.
"""

from __future__ import annotations

import threading
import time

import jack as jack_audio

from duetto.midi.ports.libjack import jack_connections
from duetto.tools.duet_rig import Recorder
from support.processes import JamProcess, wait_until

WATCHED_SECONDS = 4.0  # eight of the session's checks


class Registrations:
    """Every client that registers on the server while it watches, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._lock = threading.Lock()
        self._client = jack_audio.Client("Churn Watch", no_start_server=True)
        self._client.set_client_registration_callback(self._registered)
        self._client.activate()

    def _registered(self, name: str, registering: bool) -> None:
        if registering:
            with self._lock:
                self.names.append(name)

    def since(self, count: int) -> list[str]:
        with self._lock:
            return self.names[count:]

    def close(self) -> None:
        self._client.deactivate()
        self._client.close()


def test_a_running_jam_opens_no_jack_client_once_its_ports_are_open(jack):
    synth_port = jack.open_input("Churn Synth", Recorder(), virtual=True)
    registrations = Registrations()
    jam = JamProcess("--out", "Churn Synth")
    try:
        jam.wait_for_ports(jack)
        assert wait_until(lambda: any(jam.name in peer for peer in jack_connections("Churn Synth:Churn Synth") or []),
                          10), jam.state
        time.sleep(1.0)  # the probes of its ports have come and gone
        started = len(registrations.names)
        time.sleep(WATCHED_SECONDS)
        opened = registrations.since(started)
        assert jam.process.poll() is None, jam.state
    finally:
        code = jam.stop()
        registrations.close()
        synth_port.close()
    assert code == 0, jam.state
    assert opened == [], f"the jam opened {len(opened)} JACK clients in {WATCHED_SECONDS:g} s: {opened[:6]}"
