"""The live terminal view: what it shows for a status (the answers' timing in call mode only, where it means
something), and `duetto jam --view` over JACK showing a clocked session (tempo and its source, the key
heard, notes in and out, step time and answer timing, provider)."""

from __future__ import annotations

import time
from dataclasses import replace

from duetto.jam.status import Status
from duetto.jam.view import render
from duetto.music.notes import Note
from duetto.testing.duet_rig import ClockSender, Player
from duetto.testing.processes import JamProcess

STATUS = Status(mode="call", tempo_source="midi clock", bpm=130.0, transport_running=True, key="D:major",
                key_locked=True, notes_in=13, notes_out=21, answers=2, barge_ins=1, step_ms=(0.25, 0.41),
                answer_late_ms=(0.03, 0.2), provider="CPUExecutionProvider", temperature=0.9, quantize=0.5,
                dropped=0, errors=0)


def test_render_shows_every_figure():
    text = "\n".join(render(STATUS))
    for shown in ("mode call", "130.0 BPM from midi clock, transport running", "key D:major (locked)",
                  "notes in 13", "notes out 21", "answers 2", "barge-ins 1", "0.25 / 0.41 ms on CPUExecutionProvider",
                  "p50/p99 0.03 / 0.20 ms", "temperature 0.90", "quantize 0.50"):
        assert shown in text


def test_render_without_tempo_or_key_or_timings():
    quiet = Status(**{**STATUS.__dict__, "bpm": None, "tempo_source": "none", "key": None, "key_locked": False,
                      "step_ms": None, "answer_late_ms": None})
    text = "\n".join(render(quiet))
    assert "no tempo" in text and "key not heard yet" in text and "p50/p99 -" in text


def test_render_shows_the_answers_timing_in_call_mode_only():
    # what a duet showed (issue 12): the "first note" of a stream of beats each queued a beat ahead
    for mode in ("duet", "practice"):
        lines = render(replace(STATUS, mode=mode, answer_late_ms=(-599.97, 0.06)))
        assert len(lines) == len(render(STATUS)), "the view redraws in place: as many lines in every mode"
        text = "\n".join(lines)
        assert "answer's first note" not in text and "-599.97" not in text, text
        assert f"mode {mode}" in text and "0.25 / 0.41 ms on CPUExecutionProvider" in text
    assert "answer's first note after due p50/p99 0.03 / 0.20 ms" in "\n".join(render(STATUS))


def test_jam_view_shows_the_session_live(jack):
    jam = JamProcess("--view", "--seed", "3", "--phrase-gap", "150", "--response-seconds", "1")
    clock = None
    try:
        jam.wait_for_ports(jack)
        keyboard = jack.open_output(jam.in_port)
        time.sleep(0.2)

        clock = ClockSender(keyboard, 120).start()
        scale = [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62, 69, 74]
        Player(keyboard).play([Note(0.12 * index, 0.12 * index + 0.1, pitch, 80) for index, pitch in enumerate(scale)])
        time.sleep(2.5)
        clock.stop()
        code = jam.stop()
        keyboard.close()
    finally:
        if clock is not None:
            clock.stop()
        jam.stop()
    assert code == 0, jam.errors
    out = jam.out
    assert "\x1b[4F" in out, "the view did not redraw in place"
    final = out.split("\x1b[4F")[-1]
    assert "mode call" in final
    assert "BPM from midi clock, transport running" in final
    assert "key D:major" in final or "key B:minor" in final
    assert "notes in 13" in final
    assert "answers 1" in final
    assert "on CPUExecutionProvider" in final
    assert "model step p50/p99 -" not in final
