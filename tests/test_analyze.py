"""``livegan analyze``: the reactivity report on the demo track (known tempo, drop and silence)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from livegan.audio.demo import demo_truth
from livegan.cli import main

# Thresholds from measurements of the default preset (drift) on the demo track at 12 fps,
# 32 px with the embedded model: correlation 0.64, visual change 0.0024 in silence (from
# 0.5 s after it starts) vs 0.058 in music. Margins leave room for the embedded model's
# look to change; the ratio (music / silence, measured 24x) is the sturdier check.
MIN_ONSET_VISUAL_CORRELATION = 0.45
MAX_SILENCE_VISUAL_CHANGE = 0.006
MIN_MUSIC_OVER_SILENCE = 8.0


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("report")
    rc = main(["analyze", "--demo", "-o", str(out), "--json", str(out / "numbers.json"), "--fps", "12",
               "--size", "32"])
    assert rc == 0
    return out, json.loads((out / "numbers.json").read_text())


def test_writes_plots_and_json(demo_report):
    out, numbers = demo_report
    for name in ("report-demo.png", "report-demo-zoom.png", "report-demo.json"):
        assert (out / name).stat().st_size > 1000
    assert (out / "report-demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for key in ("tempo_bpm", "beats", "drops", "onset_visual_correlation", "silence_visual_change",
                "response_latency_s", "music_visual_change", "tempo_lock_s", "tempo_curve", "bars",
                "tempo_confidence", "breakdowns", "build_peak"):
        assert key in numbers


def test_numbers_match_the_known_structure(demo_report):
    _, n = demo_report
    truth = demo_truth()
    assert abs(n["tempo_bpm"] - truth.bpm) < 1.0
    assert n["tempo_lock_s"] is not None and n["tempo_lock_s"] <= 8.0
    assert len(n["drops"]) == 1 and 0 <= n["drops"][0] - truth.drop_time < 1.0
    beats = np.array(n["beats"])
    assert abs(np.median(np.diff(beats[beats > 8.0])) - truth.beat_period) < 0.01


def test_tempo_curve_bar_grid_and_confidence(demo_report):
    _, n = demo_report
    truth = demo_truth()
    curve = np.array([row[:3] for row in n["tempo_curve"]], dtype=float)
    assert curve.shape[0] >= 2 * truth.duration - 2  # every half second
    late = curve[curve[:, 0] > 8.0]
    assert np.all(np.abs(late[:, 1] - truth.bpm) < 1.0) and np.median(late[:, 2]) > 0.5
    assert n["tempo_confidence"] > 0.5 and n["tempo_locked_from_s"] is not None and n["tempo_locked_from_s"] < 8.0
    bars = np.array(n["bars"])
    assert abs(np.median(np.diff(bars[bars > 8.0])) - 4 * truth.beat_period) < 0.02
    assert len(n["section_confidence"]) == len(n["sections"])


def test_the_picture_follows_the_music_and_rests_in_silence(demo_report):
    _, n = demo_report
    assert n["onset_visual_correlation"] > MIN_ONSET_VISUAL_CORRELATION
    assert n["silence_visual_change"] < MAX_SILENCE_VISUAL_CHANGE
    assert n["music_visual_change"] > MIN_MUSIC_OVER_SILENCE * n["silence_visual_change"]
    assert 0.0 <= n["response_latency_s"] <= 0.1


def test_audio_file_and_silence_found_without_truth(tmp_path):
    sr = 22050
    t = np.arange(int(6 * sr)) / sr
    beat = (t % 0.5) < 0.03  # 120 BPM clicks of low noise for 4 s, then 2 s of silence
    x = np.where(beat & (t < 4.0), np.sin(2 * np.pi * 60 * t), 0.0) * 0.8
    path = tmp_path / "clicks.wav"
    sf.write(path, x.astype(np.float32), sr)
    assert main(["analyze", str(path), "-o", str(tmp_path / "r"), "--fps", "6", "--size", "16"]) == 0
    n = json.loads((tmp_path / "r" / "report-clicks.json").read_text())
    assert n["silences"] and 3.5 < n["silences"][0][0] < 3.7  # the last click is at 3.5 s
    assert abs(n["tempo_bpm"] - 120.0) < 1.0


@pytest.mark.parametrize("args, message", [
    (["--demo", "x.wav"], "exactly one of AUDIO, --demo or --track"),
    (["--track", "polka"], "--track polka: unknown test track"),
    (["--demo", "--preset", "nope"], "unknown preset 'nope'"),
    (["--demo", "--fps", "0"], "--fps 0"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["analyze", *args, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_structure_through_the_cli(tmp_path):
    """silence -> sparse groove -> full groove: the report's one drop is at the full groove."""
    from livegan.report.tracks import make_track

    track = make_track("sparsefull")
    out = tmp_path / "r"
    assert main(["analyze", "--track", "sparsefull", "-o", str(out), "--fps", "6", "--size", "16"]) == 0
    n = json.loads((out / "report-sparsefull.json").read_text())
    assert len(n["drops"]) == 1 and abs(n["drops"][0] - track.drop_time) < 1.5
    assert n["sections"] and all(s >= track.drop_time - 1.5 for s in n["sections"])
    assert n["tempo_locked_from_s"] is not None and abs(n["tempo_bpm"] - track.bpm) < 1.0
