"""`duetto generate` with a model that counts in beats: the continuation lies on the prompt's own grid,
after a tempo change and in the prompt's meter, and a prompt with no usable tempo map says which grid
was used instead."""

from __future__ import annotations

import mido
import pytest

from duetto.cli import main
from duetto.encodings import metrical
from duetto.midi.files import read_score
from duetto.music.timeline import Timeline


def prompt_file(path, tempos, meter=(4, 4), beats=12, ticks_per_beat=480, swing_off=0):
    """A tune of quarter notes on a tempo map [(beat, bpm), ...] in `meter`, `swing_off` ticks late."""
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0))
    events = [(beat * ticks_per_beat, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
              for beat, bpm in tempos]
    for beat in range(beats):
        at = beat * ticks_per_beat + (swing_off * (beat % 2))
        events.append((at, 2, mido.Message("note_on", note=60 + beat % 7, velocity=80)))
        events.append((at + ticks_per_beat // 2, 1, mido.Message("note_off", note=60 + beat % 7, velocity=0)))
    now = 0
    for at, _, message in sorted(events, key=lambda item: (item[0], item[1])):
        track.append(message.copy(time=at - now))
        now = at
    midi.save(path)


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8), (5, 4)])
def test_the_continuation_follows_a_tempo_change_on_the_prompts_grid(tmp_path, untrained_metrical, meter, capsys):
    prompt, out = tmp_path / "prompt.mid", tmp_path / "out.mid"
    prompt_file(prompt, [(0, 90.0), (6, 140.0)], meter)
    code = main(["generate", "--model", str(untrained_metrical.path), "--prompt", str(prompt), "--seconds", "6",
                 "--seed", "1", "--out", str(out)])
    assert code == 0
    assert "on the prompt's beat (its tempo map)" in capsys.readouterr().out
    written = read_score(out)
    timeline = Timeline(tuple(written.tempos), tuple(written.meters))
    assert written.meters[0][1:] == meter
    duetto = [note for note in written.notes if note.start >= timeline.seconds(12) - 1e-6]
    assert duetto
    for note in duetto:  # every onset on a tick of the 140 BPM part of the map
        ticks = timeline.beats(note.start) * metrical.TICKS_PER_BEAT
        assert abs(ticks - round(ticks)) < 0.05


def test_a_prompt_played_without_its_click_is_continued_on_its_own_pulse_and_says_so(tmp_path, untrained_metrical,
                                                                                   capsys):
    prompt, out = tmp_path / "prompt.mid", tmp_path / "out.mid"
    # written at 120 BPM, played at 97: the tempo map fits none of its notes
    beat_ticks = round(480 * 120 / 97)
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for beat in range(16):
        track.append(mido.Message("note_on", note=60 + beat % 5, velocity=80, time=0 if beat == 0 else beat_ticks // 2))
        track.append(mido.Message("note_off", note=60 + beat % 5, velocity=0, time=beat_ticks - beat_ticks // 2))
    midi.save(prompt)
    assert main(["generate", "--model", str(untrained_metrical.path), "--prompt", str(prompt), "--seconds", "4",
                 "--out", str(out)]) == 0
    assert "its own pulse, 97 BPM" in capsys.readouterr().out


@pytest.mark.parametrize("bpm", [10.0, 500.0])
def test_a_tempo_out_of_range_is_refused_in_one_line(tmp_path, untrained_metrical, bpm, capsys):
    prompt = tmp_path / "prompt.mid"
    prompt_file(prompt, [(0, bpm)])
    assert main(["generate", "--model", str(untrained_metrical.path), "--prompt", str(prompt), "--out",
                 str(tmp_path / "out.mid")]) == 1
    error = capsys.readouterr().err
    assert f"a tempo of {bpm:g} BPM is outside 20-400 BPM" in error
    assert error.count("error:") == 1 and "Traceback" not in error
