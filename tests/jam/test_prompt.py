"""`duetto jam --prompt FILE.mid`: the bot hears a piece before the first key, so its first answer continues
the piece and the player's phrase, and keeps the piece's tempo until something else sets one.

The voice is asked directly what it heard, over real JACK ports: the model's window must hold the piece's
notes, then the player's phrase, in that order, once the answer is back (call and response keeps the answer
itself from the voice until the player plays on). Bad files are refused as `generate` refuses them.
"""

from __future__ import annotations

from pathlib import Path

import pytest


from duetto.jam.prompt import Prompt
from duetto.jam.settings import JamSettings
from duetto.midi.files import write_midi
from duetto.music.notes import Note
from duetto.offline.generate import hear_of, read_prompt
from duetto.tools.duet_rig import DuetRig
from support.cli import refusal
from support.processes import JamProcess, wait_until
from support.voices import pitches_heard

BPM = 90.0
EIGHTH = 30.0 / BPM
# a piece high in F# major, eighth notes at 90 BPM: nothing like the phrase below
PIECE = [Note(index * EIGHTH, index * EIGHTH + 0.9 * EIGHTH, pitch, 80)
         for index, pitch in enumerate((78, 80, 82, 83, 85, 87, 89, 90, 89, 87, 85, 83, 82, 80, 78, 85))]
PHRASE = [Note(0.0, 0.2, 60, 90), Note(0.25, 0.45, 62, 90), Note(0.5, 0.9, 64, 90)]


@pytest.fixture
def piece(tmp_path) -> Path:
    path = tmp_path / "piece.mid"
    write_midi(path, {"Piece": PIECE}, bpm=BPM)
    return path


def test_the_voice_hears_the_piece_before_the_players_phrase(jack, shipped_model, piece, fast_switching):
    _, heard, timeline, _ = hear_of(read_prompt(str(piece), print), shipped_model)
    prompt = Prompt.of(heard, timeline)
    assert prompt.bpm == pytest.approx(BPM)
    rig = DuetRig(jack, shipped_model, JamSettings(phrase_gap=0.25, response_seconds=1.5, seed=3),
                  name="Primed", prompt=prompt)
    try:
        last_release = rig.player.play(PHRASE)
        assert rig.wait_until_answered(last_release, 10), "no answer to the phrase"
    finally:
        rig.close()
    assert rig.recorder.unmatched_note_ons() == 0
    assert pitches_heard(rig.engine.voice) == [note.pitch for note in PIECE + PHRASE]


def test_jam_says_what_it_heard_and_keeps_the_pieces_tempo(jack_server, jack, piece):
    jam = JamProcess("--prompt", str(piece))
    try:
        jam.wait_for_ports(jack)
        assert wait_until(lambda: jam.said("tempo 90.0 BPM from --bpm"), 10), jam.errors
    finally:
        assert jam.stop() == 0, jam.errors
    assert jam.said(f"heard {piece} before the first key: all of it, {PIECE[-1].end:.1f} s"), jam.errors


@pytest.mark.parametrize("name, content, message", [
    ("missing.mid", None, "--prompt missing.mid: no such file"),
    ("drums.mid", [Note(0.0, 0.1, 36, 100, channel=9)], "drums.mid: the prompt has only drums (1 notes on channel 10"),
    ("broken.mid", b"MThd\x00\x00\x00\x06\x00\x01", "broken.mid: not a readable MIDI file"),
])
def test_a_bad_prompt_is_refused_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, name, content, message):
    monkeypatch.chdir(tmp_path)
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        write_midi(tmp_path / name, {"Drums": content})
    # a model that is not there and no MIDI system asked for: were either tried first, the error would be theirs
    assert message in refusal(capsys, "jam", "--model", "missing.onnx", "--backend", "nowhere", "--prompt", name)
