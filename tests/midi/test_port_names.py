"""The ports Duetto makes to connect to another program's port are named after Duetto, over real JACK.

`duetto jam --out fluidsynth` used to add a JACK port "fluidsynth-01:fluidsynth", which reads as the
synth's own. Here a virtual port stands in for the other program; the port list is read both through the
backend and with jackd2's own `jack_lsp` (on the private server the fixture sets in JACK_DEFAULT_SERVER),
which also shows what each port is connected to.
"""

from __future__ import annotations

import subprocess

from duetto.midi.ports.rtmidi import RtMidiBackend
from support.processes import wait_until


def connections() -> dict[str, list[str]]:
    """Every JACK port and the ports it is connected to, as `jack_lsp -c` lists them."""
    listing: dict[str, list[str]] = {}
    port = None
    for line in subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, check=True).stdout.splitlines():
        if line.startswith((" ", "\t")):
            listing[port].append(line.strip())
        elif line.strip():
            port = line.strip()
            listing[port] = []
    return listing


def test_ports_connected_by_name_are_named_after_duetto(jack):
    synth = jack.open_input("Named Synth", lambda message, stamp: None, virtual=True)
    keys = jack.open_output("Named Keys", virtual=True)
    before = set(connections())
    # the default, as `duetto jam` opens it
    output = jack.open_output("Named Synth")
    source = jack.open_input("Named Keys", lambda message, stamp: None)
    # another --name
    bass = RtMidiBackend.select("jack", own_name="Bass")
    bass_output = bass.open_output("Named Synth")
    try:
        assert wait_until(lambda: len(set(connections()) - before) == 3, 5), connections()
        listing = connections()
        made = sorted(set(listing) - before)
        # JACK tells apart clients of the same name with a suffix ("Duetto Out-01"): the port keeps its name
        assert [name.split(":")[1] for name in made] == ["Bass Out", "Duetto In", "Duetto Out"], made
        assert all("Named" not in name for name in made), made
        own = {name.split(":")[1]: name for name in made}
        assert listing[own["Duetto Out"]] == ["Named Synth:Named Synth"]
        assert listing[own["Bass Out"]] == ["Named Synth:Named Synth"]
        assert listing[own["Duetto In"]] == ["Named Keys:Named Keys"]
        # what `duetto ports` lists: Duetto's own output among the ports one can listen to, and its input
        # among those one can play into
        assert own["Duetto Out"] in jack.input_names() and own["Duetto In"] in jack.output_names()
        # the port is known by the name of the port it connects to, for `check()` and the messages
        assert (output.name, source.name, bass_output.name) == ("Named Synth:Named Synth", "Named Keys:Named Keys",
                                                                "Named Synth:Named Synth")
    finally:
        for port in (bass_output, source, output, keys, synth):
            port.close()
