"""End-to-end offline render: real H.264 files, decoded back and measured."""

from __future__ import annotations

import re
import subprocess
import sys

import av
import numpy as np
import pytest
import soundfile as sf

from livegan.audio.demo import demo_track, demo_truth
from livegan.cli import main
from livegan.render.offline import slice_clip


def decode(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        vdur = float(v.duration * v.time_base) if v.duration else len(frames) / float(v.average_rate)
        info = {"frames": np.stack(frames), "fps": float(v.average_rate), "video_duration": vdur,
                "width": v.codec_context.width, "height": v.codec_context.height}
        if a is not None:
            info.update(audio_rate=a.codec_context.sample_rate, audio_channels=a.codec_context.channels,
                        audio_duration=float(a.duration * a.time_base))
    return info


@pytest.fixture(scope="module")
def demo_wav(tmp_path_factory):
    """The demo track from 14 s to 26 s (kicks, the silent break, kicks again) as a 44.1 kHz stereo WAV."""
    clip = slice_clip(demo_track(), 14.0, 12.0)
    path = tmp_path_factory.mktemp("audio") / "demo_part.wav"
    sf.write(path, clip.samples, clip.sample_rate, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def demo_render(demo_wav, tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "demo.mp4"
    rc = main(["render", str(demo_wav), "-o", str(out), "--size", "128x128", "--fps", "15",
               "--preset", "pulse", "--quiet", "--model", "builtin"])
    assert rc == 0
    return out


def test_render_is_frame_exact_with_original_audio(demo_render):
    info = decode(demo_render)
    assert len(info["frames"]) == round(12.0 * 15)
    assert (info["width"], info["height"]) == (128, 128)
    assert info["audio_rate"] == 44100 and info["audio_channels"] == 2
    assert abs(info["video_duration"] - info["audio_duration"]) <= 1 / 15
    assert not list(demo_render.parent.glob(".*partial*"))  # the temp file was renamed away


def test_frames_move_with_kicks_and_rest_in_silence(demo_render):
    frames = decode(demo_render)["frames"].astype(np.float32)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # change into frame i+1
    t = (np.arange(1, len(frames))) / 15.0 + 14.0
    lo, hi = demo_truth().silence
    silent = (t > lo + 0.6) & (t < hi)  # leave the release tail of the last kick
    kicks = ((t > 14.5) & (t < lo)) | ((t > hi + 0.3) & (t < 26.0))
    assert silent.sum() > 10 and kicks.sum() > 10
    assert change[kicks].mean() > 3 * change[silent].mean()
    assert change[kicks].mean() > 0.5  # it visibly moves (grey levels per pixel per frame)


def test_mono_48k_source_keeps_its_rate_and_channels(tmp_path):
    sr = 48000
    t = np.arange(int(2.5 * sr)) / sr
    mono = (0.3 * np.sin(2 * np.pi * 110 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    src = tmp_path / "mono.flac"
    sf.write(src, mono, sr)
    out = tmp_path / "mono.mp4"
    assert main(["render", str(src), "-o", str(out), "--size", "96x64", "--fps", "24", "--quiet"]) == 0
    info = decode(out)
    assert len(info["frames"]) == 60
    assert (info["width"], info["height"]) == (96, 64)
    assert info["audio_rate"] == sr and info["audio_channels"] == 1
    assert abs(info["video_duration"] - info["audio_duration"]) <= 1 / 24


def test_start_and_duration_select_the_audio(demo_wav, tmp_path):
    out = tmp_path / "cut.mp4"
    assert main(["render", str(demo_wav), "-o", str(out), "--size", "64x64", "--fps", "10",
                 "--start", "1.0", "--duration", "2.05", "--quiet"]) == 0
    info = decode(out)
    assert len(info["frames"]) == round(2.05 * 10)
    assert abs(info["audio_duration"] - 2.05) < 0.05


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.wav"], "missing.wav"),
        (["{notaudio}"], "notaudio.wav"),
        (["{wav}", "--preset", "nope"], "unknown preset 'nope'"),
        (["{wav}", "--preset", "{badtoml}"], r"bad.toml:2"),
        (["{wav}", "--size", "12x"], "--size '12x'"),
        (["{wav}", "--size", "101x100"], "even"),
        (["{wav}", "--fps", "0"], "--fps"),
        (["{wav}", "--fps", "29.97"], "--fps"),
        (["{wav}", "--start", "99"], "--start"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, demo_wav, args, message, capsys):
    (tmp_path / "notaudio.wav").write_text("this is not audio")
    (tmp_path / "bad.toml").write_text('name = "b"\n[params\n')
    fill = {"wav": str(demo_wav), "notaudio": str(tmp_path / "notaudio.wav"), "badtoml": str(tmp_path / "bad.toml")}
    args = [a.format(**fill) if a.startswith("{") else a for a in args]
    out = tmp_path / "out.mp4"
    assert main(["render", *args, "-o", str(out), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livegan: error:"), lines
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_cli_process_exits_2_with_one_line(tmp_path):
    out = tmp_path / "out.mp4"
    proc = subprocess.run([sys.executable, "-m", "livegan", "render", str(tmp_path / "none.wav"), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "none.wav" in proc.stderr
    assert not out.exists()
