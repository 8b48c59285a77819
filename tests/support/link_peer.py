"""A second Ableton Link peer, as another app on the network would be: `python link_peer.py`, as a process
of its own, driven line by line on its standard input.

  tempo BPM  set the session's tempo now; answers `tempo BPM STAMP`, STAMP the perf_counter time it took
  grid       answers `grid BEAT ORIGIN PEERS`: seconds per beat and the time of a bar line, both on the
             perf_counter clock (the same on every process of a machine), measured here, from Link's own
             timeline, independently of Duetto's reading of it
  quit       leaves

Each answer is one line on standard output, flushed. It needs only the Link binding (the `link` extra).
"""

from __future__ import annotations

import sys
import time

import link

QUANTUM = 4.0


def main() -> None:
    peer = link.Link(60.0)
    peer.enabled = True
    clock = peer.clock()
    for line in sys.stdin:
        word, *rest = line.split()
        state = peer.captureAppSessionState()
        before, micros, after = time.perf_counter(), clock.micros(), time.perf_counter()
        offset = (before + after) / 2 - micros / 1e6
        if word == "tempo":
            state.setTempo(float(rest[0]), micros)
            peer.commitAppSessionState(state)
            print(f"tempo {float(rest[0])} {after}", flush=True)
        elif word == "grid":
            bar = (state.beatAtTime(micros, QUANTUM) // QUANTUM) * QUANTUM
            start, end = state.timeAtBeat(bar, QUANTUM), state.timeAtBeat(bar + QUANTUM, QUANTUM)
            print(f"grid {(end - start) / 1e6 / QUANTUM} {start / 1e6 + offset} {peer.numPeers()}", flush=True)
        elif word == "quit":
            break
    peer.enabled = False


if __name__ == "__main__":
    main()
