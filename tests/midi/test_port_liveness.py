"""A JACK port Duetto opens is tried before it is handed out, over a real JACK server (issue 20).

libjack can leave a new client asleep for good (jack2 issue 721; duetto.midi.ports.rtmidi
`RtMidiBackend._passes`): its port is listed and connected and passes nothing. That happens now and then
on a loaded machine, not on demand, so here a port that passes nothing is made by putting the first
port opened to sleep the same way (its sends go nowhere, or its deliveries never come), and the backend
must open it again; ports that never pass are refused in one line. The probe byte itself must never
reach a receiver's callback. A JACK too busy to make a client is asked again before Duetto gives up.
"""

from __future__ import annotations

from contextlib import closing

import pytest
import rtmidi

from duetto.midi.ports.base import PortError
from duetto.midi.ports.libjack import jack_connect
from duetto.midi.ports.rtmidi import OPEN_TRIES, RtMidiInput, RtMidiOutput, _free
from support.processes import wait_until

NOTE = [0x90, 60, 100]


def asleep_output(monkeypatch, how_many: int, when_opened=lambda port: None) -> list[RtMidiOutput]:
    """Outputs from now on, the first `how_many` of them asleep: what is sent on them goes nowhere;
    `when_opened(port)` runs as each is opened."""
    opened: list[RtMidiOutput] = []
    send = RtMidiOutput.send

    def sending(port, message):
        if opened.index(port) >= how_many:
            send(port, message)

    init = RtMidiOutput.__init__

    def opening(port, *args, **kwargs):
        init(port, *args, **kwargs)
        opened.append(port)
        when_opened(port)

    monkeypatch.setattr(RtMidiOutput, "__init__", opening)
    monkeypatch.setattr(RtMidiOutput, "send", sending)
    return opened


def heard_alone(send, heard: list[list[int]]) -> bool:
    """Whether NOTE, sent with `send`, is heard, and nothing else is (no probe byte either)."""
    send(NOTE)
    wait_until(lambda: heard, 2)
    return heard == [NOTE]


def test_an_output_that_passes_nothing_is_opened_again_and_the_next_one_plays(jack, monkeypatch):
    heard: list[list[int]] = []
    synth = jack.open_input("Liveness Synth", lambda message, stamp: heard.append(message), virtual=True)
    try:
        opened = asleep_output(monkeypatch, how_many=1)
        output = jack.open_output("Liveness Synth")
        try:
            assert len(opened) == 2 and opened[-1] is output
            assert heard_alone(output.send, heard)  # the probes that came through kept from the callback
        finally:
            output.close()
    finally:
        synth.close()


def test_what_others_connected_to_a_port_opened_asleep_is_connected_to_the_one_opened_again(jack, monkeypatch):
    heard: list[list[int]] = []
    ear = jack.open_input("Liveness Ear", lambda message, stamp: heard.append(message), virtual=True)
    try:
        # a patchbay connects the new port to the ear the moment it appears, before it is found asleep
        def patchbay(port: RtMidiOutput) -> None:
            if len(opened) == 1:
                jack_connect([("Liveness Patched:Liveness Patched", "Liveness Ear:Liveness Ear")])

        opened = asleep_output(monkeypatch, how_many=1, when_opened=patchbay)
        output = jack.open_output("Liveness Patched", virtual=True)
        monkeypatch.undo()
        try:
            assert len(opened) == 2
            assert heard_alone(output.send, heard), "the ear was left connected to the port closed"
        finally:
            output.close()
    finally:
        ear.close()


def test_an_output_that_never_passes_is_refused_in_one_line(jack, monkeypatch):
    opened = asleep_output(monkeypatch, how_many=OPEN_TRIES)
    with pytest.raises(PortError) as refused:
        jack.open_output("Liveness Dead", virtual=True)
    assert len(opened) == OPEN_TRIES
    assert "\n" not in str(refused.value) and "Liveness Dead" in str(refused.value)
    assert not any("Liveness Dead" in name for name in jack.input_names()), "a refused port was left open"


def test_an_input_that_hears_nothing_is_opened_again_and_the_next_one_hears(jack, monkeypatch):
    opened: list[RtMidiInput] = []
    deliver = RtMidiInput._deliver

    def delivering(port, midi, callback):
        opened.append(port)
        if len(opened) == 1:  # asleep: nothing it is sent is ever delivered
            port._stop.wait()
            _free(midi)
            return
        deliver(port, midi, callback)

    monkeypatch.setattr(RtMidiInput, "_deliver", delivering)
    heard: list[list[int]] = []
    keys = jack.open_output("Liveness Keys", virtual=True)  # an output: its probe is no RtMidiInput
    try:
        listener = jack.open_input("Liveness Keys", lambda message, stamp: heard.append(message))
        try:
            assert len(opened) == 2
            assert heard_alone(keys.send, heard)
        finally:
            listener.close()
    finally:
        keys.close()


def test_a_port_that_passes_is_opened_once(jack, monkeypatch):
    opened = asleep_output(monkeypatch, how_many=0)
    output = jack.open_output("Liveness Awake", virtual=True)
    output.close()
    assert len(opened) == 1


def refused_inputs(monkeypatch, how_many: int) -> list[str]:
    """Inputs from now on, JACK refusing the first `how_many` (as a busy server does); each refusal noted."""
    refusals: list[str] = []
    init = RtMidiInput.__init__

    def opening(port, *args, **kwargs):
        if len(refusals) < how_many:
            refusals.append(args[1])
            raise rtmidi.SystemError("MidiInJack::openVirtualPort: JACK error creating virtual port")
        init(port, *args, **kwargs)

    monkeypatch.setattr(RtMidiInput, "__init__", opening)
    return refusals


def test_a_port_jack_refuses_once_is_asked_for_again_and_hears(jack, monkeypatch):
    refusals = refused_inputs(monkeypatch, how_many=1)
    heard: list[list[int]] = []
    with closing(jack.open_input("Liveness Busy", lambda message, stamp: heard.append(message), virtual=True)), \
            closing(jack.open_output("Liveness Busy")) as keys:
        assert refusals == ["Liveness Busy"]
        assert heard_alone(keys.send, heard)


def test_a_port_jack_always_refuses_is_refused_in_one_line(jack, monkeypatch):
    refusals = refused_inputs(monkeypatch, how_many=OPEN_TRIES)
    with pytest.raises(PortError) as refused:
        jack.open_input("Liveness Refused", lambda message, stamp: None, virtual=True)
    assert len(refusals) == OPEN_TRIES
    assert "\n" not in str(refused.value) and "JACK error creating virtual port" in str(refused.value)
