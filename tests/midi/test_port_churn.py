"""Opening and closing real JACK ports hundreds of times, with traffic flowing and a MIDI clock running,
never crashes the process and never delivers a message after `close` returned (issue 20).

Closing an rtmidi input used to crash natively now and then: JACK ends a client by cancelling its process
thread, which ran the Python callback and could be waiting for the GIL at that moment. A crash kills
whatever process it happens in, so the churn runs in a subprocess (this file, run as a script) and the
test reads its exit status and its one line of figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

SHORT_ITERATIONS = 120  # about 20 s on a loaded 2-core machine
LONG_ITERATIONS = 500
CLOCK_SECONDS = 60 / 120 / 24  # MIDI Clock at 120 BPM: 24 ticks a beat


def test_ports_opened_and_closed_under_traffic_never_crash_or_deliver_late(jack, long_form):
    iterations = LONG_ITERATIONS if long_form else SHORT_ITERATIONS
    limit = 60 + iterations // 2  # seconds; a hang at close is a failure too, and the child says where
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, str(iterations), str(limit)], capture_output=True,
                            text=True, timeout=limit + 30)
    wall = time.perf_counter() - started
    assert result.returncode == 0, f"exit {result.returncode} after {wall:.1f} s:\n{result.stderr[-3000:]}"
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\nport churn: {figures} in {wall:.1f} s")
    assert figures["iterations"] == iterations
    assert figures["refused_opens"] <= 0.05 * iterations, figures
    assert figures["late_deliveries"] == 0, "a callback ran after its port's close() returned"
    # the crash needs deliveries in flight as ports close: most closes must have had traffic to cut
    assert figures["closed_under_traffic"] >= 0.8 * (iterations - figures["refused_opens"]), figures


def churn(iterations: int) -> dict[str, int]:
    """Open an input on a clock source, a virtual input and an output into it, play through them and close
    them all in a changing order (some twice, the output while another thread sends on it), `iterations`
    times, with a thread keeping the GIL busy as the engine does."""
    from duetto.midi.ports import open_backend
    from duetto.midi.ports.base import PortError

    sys.setswitchinterval(0.0005)  # as `duetto jam` runs
    jack = open_backend("jack")
    stop = threading.Event()
    clock = jack.open_output("Churn Clock", virtual=True)

    def run_clock() -> None:
        while not stop.is_set():
            clock.send([0xF8])
            clock.send([0x90, 60, 100])
            clock.send([0x80, 60, 0])
            time.sleep(CLOCK_SECONDS / 10)

    def keep_busy() -> None:
        while not stop.is_set():
            sum(range(5000))

    workers = [threading.Thread(target=work, daemon=True) for work in (run_clock, keep_busy)]
    for worker in workers:
        worker.start()
    figures = {"iterations": 0, "messages": 0, "late_deliveries": 0, "closed_under_traffic": 0,
               "sends_refused_after_close": 0, "refused_opens": 0}
    for n in range(iterations):
        closed: set[str] = set()
        heard = {"clock": 0, "player": 0}

        def receiver(which: str):
            def receive(message: list[int], stamp: float) -> None:
                if which in closed:
                    figures["late_deliveries"] += 1
                heard[which] += 1
                sum(range(300))  # a callback that takes a while, so one is often in flight at close
            return receive

        figures["iterations"] += 1
        ports = {}
        try:
            ports["clock"] = jack.open_input("Churn Clock", receiver("clock"))
            ports["player"] = jack.open_input(f"Churn In {n}", receiver("player"), virtual=True)
            ports["output"] = player = jack.open_output(f"Churn In {n}")
        except PortError:  # JACK refuses a client now and then when hundreds come and go: not a crash
            figures["refused_opens"] += 1
            for port in ports.values():
                port.close()
            continue

        def play() -> None:
            try:
                while True:
                    player.send([0x90, 64, 90])
                    player.send([0x80, 64, 0])
                    time.sleep(0.001)
            except PortError:
                figures["sends_refused_after_close"] += 1

        sender = threading.Thread(target=play)
        sender.start()
        time.sleep(0.02)
        order = ["clock", "player", "output"]
        for name in order[n % 3:] + order[:n % 3]:  # every port is closed first, middle and last in turn
            ports[name].close()
            closed.add(name)
            if n % 2:
                ports[name].close()  # a second close does nothing
        sender.join()
        figures["closed_under_traffic"] += heard["clock"] > 0 and heard["player"] > 0
        figures["messages"] += sum(heard.values())
    stop.set()
    for worker in workers:
        worker.join()
    clock.close()
    return figures


if __name__ == "__main__":
    import faulthandler

    faulthandler.enable()  # a native crash prints every thread's Python stack before the process dies
    faulthandler.dump_traceback_later(int(sys.argv[2]), exit=True)  # and so does a hang
    print(json.dumps(churn(int(sys.argv[1]))), flush=True)
