"""The live view (`duetto jam --view`): the figures it shows for a status, the piano roll drawn from a
snapshot (both parts, the plan ahead of now, the beats), its keys reaching a real engine (Textual's
headless pilot), and the whole of it used as a person would: `duetto jam --view` in tmux on the private
JACK server, a player playing into it, keys sent with send-keys and the screen read with capture-pane.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import replace

import pytest

from duetto.jam import view_roll
from duetto.jam.controls import stepped
from duetto.jam.engine import Engine
from duetto.jam.intake import BOT, PLAYER
from duetto.jam.modes import make_mode
from duetto.jam.scheduler import Scheduler
from duetto.jam.settings import JamSettings
from duetto.jam.status import NoteLog, RollNote, Status
from duetto.jam.view import LiveView, describe
from duetto.midi.ports import open_backend
from duetto.music.clock import Grid
from duetto.music.notes import Note
from duetto.tools.duet_rig import Player, Recorder
from duetto.tools.terminal import Tmux
from support.processes import wait_until

STATUS = Status(mode="call", tempo_source="midi clock", bpm=130.0, transport_running=True, key="D:major",
                key_locked=True, notes_in=13, notes_out=21, answers=2, barge_ins=1, step_ms=(0.25, 0.41),
                answer_late_ms=(0.03, 0.2), provider="CPUExecutionProvider", temperature=0.9, quantize=0.5,
                dropped=0, errors=0, style="folk", texture="line", passthrough=True, panics=3, undos=4, rerolls=5)


def test_describe_shows_every_figure():
    text = "\n".join(describe(STATUS))
    for shown in ("mode call", "130.0 BPM from midi clock, transport running", "key D:major (locked)",
                  "notes in 13", "out 21", "answers 2", "barge-ins 1", "0.25 / 0.41 ms on CPUExecutionProvider",
                  "p50/p99 0.03 / 0.20 ms", "temperature 0.90", "quantize 0.50", "style folk", "texture line",
                  "top-p 0.95", "density 1.00", "swing 0.50", "pass-through on", "panics 3", "undos 4", "re-rolls 5"):
        assert shown in text


def test_describe_without_tempo_or_key_or_timings():
    quiet = replace(STATUS, bpm=None, tempo_source="none", key=None, key_locked=False, step_ms=None,
                    answer_late_ms=None)
    text = "\n".join(describe(quiet))
    assert "no tempo" in text and "key not heard yet" in text and "p50/p99 -" in text


def test_describe_shows_the_answers_timing_in_call_mode_only():
    # what a duet showed (issue 12): the "first note" of a stream of beats each queued a beat ahead
    for mode in ("duet", "practice"):
        text = "\n".join(describe(replace(STATUS, mode=mode, answer_late_ms=(-599.97, 0.06))))
        assert "answer's first note" not in text and "-599.97" not in text, text
        assert f"mode {mode}" in text and "0.25 / 0.41 ms on CPUExecutionProvider" in text
    assert "answer's first note after due p50/p99 0.03 / 0.20 ms" in "\n".join(describe(STATUS))


# -- the roll, from a snapshot -------------------------------------------------------------------------
NOW = 100.0
DUET = replace(STATUS, now=NOW, grid=Grid(0.5, 0.0, "midi clock"),
               notes=(RollNote(96.0, 96.5, 60, PLAYER), RollNote(97.0, 97.5, 62, BOT),
                      RollNote(99.5, None, 64, PLAYER)),
               plan=(RollNote(100.5, 101.25, 67, BOT), RollNote(101.5, None, 69, BOT)))


def rows_of(status: Status, width: int = 84, height: int = 20) -> tuple[str, dict[str, str]]:
    """The roll's ruler, and each row's cells by its pitch name."""
    ruler, *rows = view_roll.draw(status, width, height).plain.split("\n")
    return ruler, {row[:view_roll.LABEL].strip(): row[view_roll.LABEL:] for row in rows}


def test_the_roll_shows_both_parts_before_now_and_the_plan_after_it():
    ruler, rows = rows_of(DUET)
    step = 9.0 / len(rows["C4"])  # 12 beats of 0.5 s behind now, 6 ahead, over the columns

    def column(at: float) -> int:  # a note fills every cell its time overlaps
        return math.floor((at - (NOW - 6.0)) / step)

    def span(row: str, glyph: str) -> tuple[int, int]:
        return row.index(glyph), row.rindex(glyph)

    now = column(NOW)
    assert rows["B3"].index("│") == now and ruler[view_roll.LABEL + now:].startswith("now")
    assert span(rows["C4"], "█") == (column(96.0), column(96.5))
    assert "▓" not in rows["C4"] and "░" not in rows["C4"]
    assert span(rows["D4"], "▓") == (column(97.0), column(97.5))
    assert span(rows["E4"], "█") == (column(99.5), now), "a held note reaches now"
    assert span(rows["G4"], "░") == (column(100.5), column(101.25)), "the plan: after now, as long as planned"
    assert now < column(100.5)
    assert rows["A4"].count("░") == 1, "a planned note whose release is not yet queued: one cell"
    assert "▓" not in rows["G4"] and "█" not in rows["G4"]
    beats = [index for index, cell in enumerate(rows["B3"]) if cell == "┊"]
    assert beats == sorted({column(NOW - 6.0 + 0.5 * index) for index in range(18)} - {now}), "every beat but now's"


def test_each_part_has_its_colour():
    text = view_roll.draw(DUET, 84, 20)
    styles = {text.plain[span.start:span.end][0]: str(span.style) for span in text.spans
              if text.plain[span.start:span.end].strip()}
    assert "cyan" in styles["█"] and "magenta" in styles["▓"] and "magenta" in styles["░"]
    assert styles["█"] != styles["▓"] != styles["░"]


def test_in_band_mode_each_part_has_its_lane_and_its_plan_ahead():
    band = replace(DUET, mode="band",
                   notes=(RollNote(99.0, 99.5, 72, PLAYER), RollNote(99.0, 99.8, 40, "bass"),
                          RollNote(99.0, 99.8, 60, "chords"), RollNote(99.5, 99.9, 76, "line")),
                   plan=(RollNote(100.5, 101.0, 43, "bass"), RollNote(100.5, 101.0, 62, "chords")))
    text = view_roll.draw(band, 84, 40)
    colour = {}
    for span in text.spans:
        cell = text.plain[span.start:span.end].strip()
        if cell and cell[0] in "▓░":
            row = text.plain[:span.start].count("\n")
            colour.setdefault(str(span.style), set()).add((cell[0], text.plain.split("\n")[row][:4].strip()))
    assert ("▓", "E2") in colour["bold green"] and ("░", "G2") in colour["green"], colour
    assert ("▓", "C4") in colour["bold yellow"] and ("░", "D4") in colour["yellow"], colour
    assert ("▓", "E5") in colour["bold blue"], colour
    assert [label for label, _ in view_roll.legend("band")][1:4] == ["▓ bass", "▓ chords", "▓ line"]
    assert view_roll.legend("call") == view_roll.LEGEND


def test_the_roll_without_tempo_has_no_beats_and_fits_the_pitches_in_view():
    _, rows = rows_of(replace(DUET, grid=None), height=12)
    assert not any("┊" in row for row in rows.values())
    assert {"C4", "A4"} <= set(rows) and len(rows) == 11
    _, empty = rows_of(replace(DUET, notes=(), plan=()), height=12)
    assert not any(glyph in row for row in empty.values() for glyph in "█▓░")


def test_notes_long_gone_are_not_drawn():
    _, rows = rows_of(replace(DUET, notes=(RollNote(50.0, 51.0, 30, PLAYER), *DUET.notes)))
    assert "F#1" not in rows, "a note a minute old stretched the pitch axis"


# -- the keys, on a real engine, headless ---------------------------------------------------------------
@pytest.mark.slow
def test_keys_reach_the_engine_the_way_ccs_do(shipped_model):
    backend = open_backend("loopback")
    engine = Engine(shipped_model, backend.open_output("View Out", virtual=True),
                    JamSettings(temperature=1.0, style_choices=("auto", *shipped_model.info.styles)),
                    mode=make_mode("call"))
    engine.start()

    async def play() -> list[str]:
        shown = []
        view = LiveView(engine, threading.Event(), lambda: None, deque(["duetto: a line the engine said"]))
        async with view.run_test(size=(120, 36)) as pilot:
            for key in ("plus", "plus", "minus", "m", "x", "s", "t", "p", "u", "r"):
                await pilot.press(key)
            for _ in range(30):
                await pilot.pause(0.1)
            shown.append(str(view.query_one("#info").content))
            shown.append(str(view.query_one("#said").content))
            await pilot.press("q")
        return shown

    try:
        info, said = asyncio.run(play())
    finally:
        engine.stop()
    for figure in ("temperature 1.10", "mode duet", "texture free", "style chorale", "pass-through on", "panics 1",
                   "undos 1"):
        assert figure in info, info
    assert "re-rolls 0" in info, "duet has nothing to re-roll"
    assert said == "duetto: a line the engine said"


# -- a person at the keyboard: tmux ---------------------------------------------------------------------
def test_a_person_plays_from_the_view_in_tmux(jack):
    name = f"View {os.getpid()}"
    term = Tmux(name, "--seed", "3", "--phrase-gap", "200", "--response-seconds", "6", "--bpm", "100")
    keyboard = listener = None
    recorder = Recorder()
    try:
        assert term.shows("mode call", 60), term.screen()
        assert wait_until(lambda: any(f"{name} In" in port for port in jack.output_names()), 10)
        listener = jack.open_input(f"{name} Out", recorder)
        keyboard = jack.open_output(f"{name} In")
        time.sleep(0.3)
        scale = [62, 64, 66, 67, 69, 71, 73, 74]
        Player(keyboard).play([Note(0.15 * index, 0.15 * index + 0.12, pitch, 80) for index, pitch in enumerate(scale)])
        # mid-answer: the player's notes behind now, the bot's that sounded, and the rest of its plan ahead
        assert wait_until(lambda: "▓" in term.screen() and "░" in term.screen(), 10), term.screen()
        screen, coloured = term.screen(), term.screen(colours=True)
        assert "█" in screen and "▓" in screen and "░" in screen and "┊" in screen
        assert "\x1b[1;38;5;80" in coloured or "38;5;" in coloured  # coloured, not plain
        for key, what in (("r", "re-roll"), ("u", "undo"), ("p", "panic"), ("+/-", "temperature"), ("m", "mode"),
                          ("q", "quit")):
            assert f" {key}   {what}" in screen or f"{key}  {what}" in screen, screen
        temperature = next(part for part in screen.split("   ") if part.strip().startswith("temperature"))
        before = float(temperature.split()[-1])
        acts = [("+", f"temperature {before + 0.1:.2f}"), ("-", f"temperature {before:.2f}"),
                ("-", f"temperature {before - 0.1:.2f}"), ("r", "re-rolls 1"), ("u", "undos 1"), ("p", "panics 1"),
                ("x", "texture free"), ("s", "style chorale"), ("t", "pass-through on"), ("m", "mode duet"),
                ("m", "mode practice"), ("m", "mode band"), ("m", "mode call")]
        for key, shown in acts:
            term.keys(key)
            assert term.shows(shown), f"{key!r} did not show {shown!r}:\n{term.screen()}"
        term.keys("q")
        assert wait_until(lambda: term.exit_status() is not None, 15), term.screen()
        assert term.exit_status() == 0, term.screen()
        assert "duetto: stopped" in term.screen(), "the jam ended its usual way, its summary printed"
        assert wait_until(lambda: recorder.unmatched_note_ons() == 0, 2), "a note was left sounding"
        assert recorder.count(0x90) > 0, "the bot never played"
        assert wait_until(lambda: not any(name in port for port in jack.output_names() + jack.input_names()), 5)
    finally:
        for port in (keyboard, listener):
            if port is not None:
                port.close()
        term.close()


def test_ctrl_c_in_the_view_ends_the_jam(jack):
    term = Tmux(f"View {os.getpid()} C")
    try:
        assert term.shows("mode call", 60), term.screen()
        term.keys("C-c")
        assert wait_until(lambda: term.exit_status() is not None, 15), term.screen()
        assert term.exit_status() == 0 and "duetto: stopped" in term.screen(), term.screen()
    finally:
        term.close()


def test_without_textual_the_view_says_how_to_get_it():
    hide = "import sys; sys.modules['textual'] = None; from duetto.cli import main; sys.exit(main(['jam', '--view']))"
    result = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip() == ("duetto: error: --view needs Textual, which is not installed: "
                                     "pip install 'duetto[view]'")


# -- what the view is fed: the duet as it sounded, the plan, the keys' steps -------------------------------
def test_the_note_log_keeps_the_duet_as_it_sounded():
    log = NoteLog()
    log.heard(PLAYER, 1.0, 0, 60, 90)
    log.heard(BOT, 1.5, 1, 60, 70)  # the same key in the other part is another note
    log.heard(PLAYER, 2.0, 0, 60, 0)
    log.heard(BOT, 2.5, 1, 64, 70)
    assert set(log.snapshot()) == {RollNote(1.0, 2.0, 60, PLAYER), RollNote(1.5, None, 60, BOT),
                                   RollNote(2.5, None, 64, BOT)}
    log.heard(PLAYER, 100.0, 0, 62, 90)
    assert RollNote(1.0, 2.0, 60, PLAYER) not in log.snapshot(), "kept for KEPT_SECONDS only"


def test_the_plan_is_what_the_scheduler_holds_and_has_not_begun():
    scheduler = Scheduler(lambda message: None)
    try:
        later = time.perf_counter() + 60
        scheduler.note_on(later, 0, 60, 80)
        scheduler.note_off(later + 0.5, 0, 60)
        scheduler.note_on(later + 1.0, 0, 64, 80)  # its release not yet queued
        scheduler.forward(0, 48, 90)  # the player's, passed through: not the bot's plan
        assert scheduler.plan() == [(later, later + 0.5, 60, 0, 80), (later + 1.0, None, 64, 0, 80)]
        scheduler.cancel()
        assert scheduler.plan() == []
    finally:
        scheduler.close()


def test_a_key_moves_a_control_a_step_within_its_range():
    settings = JamSettings(temperature=1.95, style_choices=("auto", "folk"))
    assert stepped(settings, "temperature", 1) == 2.0 and stepped(settings, "temperature", -1) == 1.85
    assert stepped(settings, "density", 4) == 2.0, "a ratio control: four presses, twice as busy"
    assert stepped(settings, "density", 100) == 10.0
    assert stepped(settings, "lowest", -100) == 0
    assert stepped(settings, "passthrough", 1) is True and stepped(settings, "passthrough", 2) is False
    assert stepped(settings, "style", 1) == "folk" and stepped(settings, "style", 2) == "auto"
