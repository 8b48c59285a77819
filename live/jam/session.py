"""A jam from its first port to its last note-off: `with JamSession(...) as session: session.run()`.

The command line, the demo, the benchmarks and the tests all set a bot up the same way, so they share this
one wiring: the output (a virtual port, a port named by the user and kept when its program restarts, or a
FluidSynth of its own), the engine, the input, and on the way out the teardown in the one order that
leaves nothing sounding: stop listening, stop the engine (it releases every note it played), write the
recording, close the output, and only then stop the synth that was playing those note-offs.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Callable

from duetto.jam.band import port_name
from duetto.jam.engine import Engine
from duetto.jam.modes import make_mode
from duetto.jam.modes.base import Mode
from duetto.jam.osc import OscBridge, OscPlan
from duetto.jam.output_watch import OutputWatch
from duetto.jam.prompt import Prompt
from duetto.jam.recording import SessionRecording
from duetto.jam.settings import JamSettings
from duetto.jam.synth import FluidSynth, SynthPlan, audio_driver, program_changes
from duetto.midi.ports.base import Backend, OutputPort
from duetto.midi.ports.reconnect import KeptInput, KeptOutput
from duetto.midi.ports.router import ChannelRouter
from duetto.midi.ports.server import WAIT_SECONDS, JackServerWatch
from duetto.model.step_model import StepModel
from duetto.music.link import LinkFollower

CHECK_SECONDS = 0.5  # how often ports connected by name and the synth are checked for their program quitting
KEPT_LINES = 50  # what the jam says while the live view covers the terminal, printed after it


def say(line: str) -> None:
    print(line, file=sys.stderr)


class JamSession:
    """One bot on its ports: opened by `with`, closed (every note released) however the block ends.

    `input` and `output` name other programs' ports to connect to; left out, the session opens virtual
    ports "NAME In" and "NAME Out". `synth` plays the bot (and, passed through, the player) on a FluidSynth
    of its own instead of an output port. `record` writes both parts to a MIDI file at the end. `log` hears
    what the jam says (by default the terminal; with `view`, a buffer printed once the view is gone).
    `osc` listens for Open Sound Control and sends the status out (duetto.jam.osc).
    `link` joins the Ableton Link session on the network for tempo and phase (duetto.music.link).
    `prompt` is a piece the bot hears before the first key (duetto.jam.prompt).
    `stop_on_signals`: SIGINT and SIGTERM end `run` (the main thread's handlers, set on entering, so a
    signal never finds ports open and nobody to close them; the old ones come back on closing).
    `jack_wait`: seconds to wait for a JACK server that went away (duetto.midi.ports.server).
    """

    def __init__(self, backend: Backend, model: StepModel, settings: JamSettings, *, name: str = "Duetto",
                 input: str | None = None, output: str | None = None, synth: SynthPlan | None = None,
                 record: Path | None = None, mode: Mode | None = None, view: bool = False, link: bool = False,
                 osc: OscPlan | None = None, prompt: Prompt | None = None, stop_on_signals: bool = False,
                 log: Callable[[str], None] = say, jack_wait: float = WAIT_SECONDS) -> None:
        self.backend = backend
        self.name = name
        self._model, self._settings, self._mode = model, settings, mode
        self._input_name, self._output_name, self._synth_plan = input, output, synth
        self._record = record
        self._view = view
        self._link = link
        self.link: LinkFollower | None = None
        self._osc_plan = osc
        self._prompt = prompt
        self.osc: OscBridge | None = None
        self._said: deque[str] = deque(maxlen=KEPT_LINES)
        self.log = self._said.append if view else log
        self._kept: list[KeptInput | KeptOutput] = []  # its ports, reopened when their program or server returns
        self.engine: Engine | None = None
        self.input: KeptInput | None = None
        self.output: OutputPort | KeptOutput | ChannelRouter | None = None
        self._output_watch: OutputWatch | None = None
        # a jam with its own synth ends with the server (the synth's ports and sound went too); others wait
        self._server = None if backend.name != "jack" else JackServerWatch(
            self._server_gone, self.log, wait_seconds=0 if synth is not None else jack_wait)
        self.synth: FluidSynth | None = None
        self.recording = SessionRecording() if record is not None else None
        self._closed = False
        self._stop = threading.Event()
        self._stop_on_signals = stop_on_signals
        self._previous_handlers: dict[int, object] = {}

    def __enter__(self) -> "JamSession":
        if self._stop_on_signals:
            self._previous_handlers = {sig: signal.signal(sig, lambda *_: self._stop.set())
                                       for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.output = self._open_output()
            if self._link:
                self.link = LinkFollower()
            self.engine = Engine(self._model, self.output, self._settings, log=self.log, recording=self.recording,
                                 mode=self._mode or make_mode(self._settings.mode), shared_beat=self.link,
                                 prompt=self._prompt)
            virtual = self._input_name is None
            self.input = KeptInput(self.backend, f"{self.name} In" if virtual else self._input_name,
                                   self.engine.receive, self.engine.player_port_lost, self.log, virtual=virtual)
            self._kept.append(self.input)
            main = self.output.main if isinstance(self.output, ChannelRouter) else self.output
            self._output_watch = OutputWatch(main.name, self.engine.scheduler,
                                             main if isinstance(main, KeptOutput) else None, self.log)
            self.engine.start()
            if self._osc_plan is not None:
                self.osc = OscBridge(self.engine, self._osc_plan, self.log)
                self.osc.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _open_output(self) -> OutputPort | KeptOutput | ChannelRouter:
        if self._synth_plan is not None:
            return self._start_synth(self._synth_plan)
        virtual = self._output_name is None
        output = self._keep_output(f"{self.name} Out" if virtual else self._output_name, virtual)
        band = self._settings.band
        if band is None or not band.ports:
            return output
        parts = {part.channel: self._keep_output(port_name(self.name, part), virtual=True) for part in band.parts}
        return ChannelRouter(output, parts)

    def _keep_output(self, name: str, virtual: bool) -> KeptOutput:
        """An output reopened when its program (or the JACK server) comes back; a panic when it goes."""
        output = KeptOutput(self.backend, name, lambda: self.engine.request("panic"), self.log, virtual=virtual)
        self._kept.append(output)
        return output

    def _start_synth(self, plan: SynthPlan) -> OutputPort:
        """FluidSynth on the MIDI system in use, the output connected to it and each part's instrument
        chosen on its channels."""
        audio = plan.audio or audio_driver(self.backend.name)
        known = self.backend.output_names()
        self.synth = FluidSynth(plan.program, plan.soundfont, self.backend.name, audio, f"{self.name} Synth")
        output = self.backend.open_output(self.synth.wait_for_port(self.backend.output_names, known))
        settings = self._settings
        players = range(16) if settings.input_channel is None else [settings.input_channel]
        band = {part.channel: part.program - 1 for part in settings.band.parts} if settings.mode == "band" else {}
        for message in program_changes(settings.channel, plan.bot_program - 1, players, plan.player_program - 1, band):
            output.send(message)
        parts = "".join(f", {part.name} on {part.channel + 1} (program {part.program})"
                        for part in settings.band.parts) if band else ""
        self.log(f"duetto: FluidSynth (pid {self.synth.pid}) plays {plan.soundfont.name} on channel "
                 f"{settings.channel + 1} (program {plan.bot_program}){parts} and yours (program "
                 f"{plan.player_program}); its sound goes to {audio}")
        return output

    def describe(self) -> str:
        """Where the session listens and answers, in one line."""
        early = (f", notes sent {1000 * self._settings.latency_compensation:.2f} ms early for the transport"
                 if self._settings.latency_compensation else "")
        band = self._settings.band
        parts = "".join(f", {part.name} on {port_name(self.name, part)!r}" for part in band.parts) \
            if isinstance(self.output, ChannelRouter) else ""
        return (f"listening on {self.input.name!r}, answering on {self.output.name!r}{parts} "
                f"({self.backend.name}{early})")

    def check(self) -> None:
        """Reconnect ports whose program (or JACK server) came back, say whether notes get out; a
        FluidSynthError if the synth quit, a ServerGone if the JACK server went and stayed away."""
        if self._server is None or self._server.check():
            for port in self._kept:
                port.check()
        self.engine.output_trouble = self._output_watch.check()
        peers = None if self.link is None else self.link.peers_changed()
        if peers is not None:
            self.log(f"duetto: Link: {peers} other peer{'' if peers == 1 else 's'} in the session")
        if self.synth is not None:
            self.synth.check()

    def _server_gone(self) -> None:
        """The JACK server went away with every port: let go of them before anything is sent to one, and of
        every note the bot plays and every key the player held."""
        for port in self._kept:
            port.lose()
        self.engine.request("panic")
        self.engine.player_port_lost()

    def run(self) -> None:
        """Play until stopped (a signal, with `stop_on_signals`; or, with the view, until it is quit),
        checking the ports and the synth twice a second."""
        if self._view:
            from duetto.jam.view import run_view

            run_view(self.engine, self._stop, self.check, self._said)
        else:
            while not self._stop.wait(CHECK_SECONDS):
                self.check()

    def close(self) -> None:
        """Stop listening, stop the engine (every note released), write the recording, close the output,
        then stop the synth: in that order, once, whatever failed before."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.osc is not None:
                self.osc.close()
            if self.input is not None:
                self.input.close()
            if self.engine is not None:
                self.engine.stop()
                if self.link is not None:
                    self.link.close()
                if self.recording is not None:
                    notes = self.recording.write(self._record, self.engine.session_seconds)
                    self.log(f"duetto: recorded {notes} notes to {self._record}")
        finally:
            try:
                if self.output is not None:
                    self.output.close()
            finally:
                if self.synth is not None:
                    self.synth.close()  # after the engine's last note-offs reached it
                for sig, handler in self._previous_handlers.items():
                    signal.signal(sig, handler)
                for line in self._said if self._view else ():  # what the view showed, kept once it is gone
                    say(line)
                self._said.clear()
