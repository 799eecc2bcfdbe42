"""Audio files in and out, and the synthesised demo track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livegan.audio.demo import PEAK, demo_track, demo_truth
from livegan.audio.io import AudioClip, load_audio, write_wav
from livegan.errors import LiveganError

SR = 22050


def _stereo_tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.25 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.mark.parametrize(("ext", "subtype", "tol"), [("wav", "PCM_16", 1e-4), ("flac", "PCM_24", 1e-6), ("wav", "FLOAT", 0.0)])
def test_lossless_round_trip(tmp_path: Path, ext: str, subtype: str, tol: float) -> None:
    x = _stereo_tone()
    path = tmp_path / f"tone.{ext}"
    sf.write(path, x, SR, subtype=subtype)
    clip = load_audio(path)
    assert clip.sample_rate == SR
    assert clip.samples.dtype == np.float32
    assert clip.samples.shape == x.shape
    assert np.max(np.abs(clip.samples - x)) <= tol
    assert clip.path == str(path)
    assert clip.duration == pytest.approx(x.shape[0] / SR)


@pytest.mark.parametrize("ext", ["ogg", "mp3"])
def test_lossy_round_trip(tmp_path: Path, ext: str) -> None:
    x = _stereo_tone(1.0)
    path = tmp_path / f"tone.{ext}"
    sf.write(path, x, SR)
    clip = load_audio(path)
    assert clip.sample_rate == SR
    assert clip.channels == 2
    assert abs(clip.num_samples - x.shape[0]) < 0.1 * SR  # codecs may pad a little
    # Same loudness per channel, and the tone is still the tone (FFT peak at 440 Hz).
    rms = np.sqrt(np.mean(clip.samples**2, axis=0))
    np.testing.assert_allclose(rms, [0.5 / np.sqrt(2), 0.25 / np.sqrt(2)], rtol=0.1)
    spec = np.abs(np.fft.rfft(clip.samples[:SR, 0]))
    assert np.argmax(spec) == pytest.approx(440, abs=2)  # 1 Hz bins


def test_mono_file_is_two_dimensional_and_mono_mixes(tmp_path: Path) -> None:
    x = _stereo_tone()
    path = tmp_path / "mono.wav"
    sf.write(path, x[:, 0], SR, subtype="FLOAT")
    clip = load_audio(path)
    assert clip.samples.shape == (x.shape[0], 1)
    np.testing.assert_array_equal(clip.mono(), x[:, 0])
    stereo = AudioClip(samples=x, sample_rate=SR)
    np.testing.assert_allclose(stereo.mono(), (x[:, 0] + x[:, 1]) / 2, atol=1e-7)


def test_write_wav_round_trips_and_clips(tmp_path: Path) -> None:
    x = _stereo_tone()
    x[10] = [1.7, -3.0]  # out of range: clipped, not wrapped
    path = tmp_path / "out.wav"
    write_wav(path, x, SR)
    clip = load_audio(path)
    assert clip.samples.shape == x.shape
    np.testing.assert_allclose(clip.samples[10], [1.0, -1.0], atol=1e-4)
    np.testing.assert_allclose(clip.samples[20:], x[20:], atol=1e-4)
    write_wav(tmp_path / "mono.wav", x[:, 0], SR)
    assert load_audio(tmp_path / "mono.wav").channels == 1


def _error_for(path: Path) -> str:
    with pytest.raises(LiveganError) as info:
        load_audio(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _error_for(tmp_path / "nope.flac")


def test_directory(tmp_path: Path) -> None:
    assert "not a file" in _error_for(tmp_path)


def test_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\nat all\n")
    assert "cannot read" in _error_for(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.ogg"
    path.touch()
    assert "empty" in _error_for(path)


def test_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), SR)
    assert path.stat().st_size > 0
    assert "empty" in _error_for(path)


# --- the demo track -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> AudioClip:
    return demo_track(duration=30.0, sample_rate=SR)


def test_demo_shape_level_and_determinism(demo: AudioClip) -> None:
    assert demo.samples.shape == (30 * SR, 2)
    assert demo.samples.dtype == np.float32
    peak = float(np.max(np.abs(demo.samples)))
    assert 0.5 < peak <= 0.95
    assert peak == pytest.approx(PEAK, abs=1e-6)
    # Stereo: the pads and hats are not identical in both channels.
    assert np.max(np.abs(demo.samples[:, 0] - demo.samples[:, 1])) > 0.01
    again = demo_track(duration=4.0, sample_rate=SR)
    np.testing.assert_array_equal(again.samples, demo_track(duration=4.0, sample_rate=SR).samples)
    other = demo_track(duration=4.0, sample_rate=SR, seed=1)
    assert not np.array_equal(again.samples, other.samples)


def test_demo_truth_matches_audio(demo: AudioClip) -> None:
    truth = demo_truth(duration=30.0, sample_rate=SR)
    assert truth.bpm == 124 and truth.beat_period == pytest.approx(60 / 124)
    start, end = truth.silence
    assert 15.0 < start < end < 24.0 and end - start > 3.5
    assert truth.drop_time == end
    s0, s1 = round(start * SR), round(end * SR)
    assert np.all(demo.samples[s0:s1] == 0.0)  # true digital silence
    kicks = truth.kick_times
    assert np.all(np.diff(kicks) > 0.4)
    assert not np.any((kicks >= start) & (kicks < end))
    assert kicks[0] == 0.0 and kicks[-1] > 29.0
    # Every kick is a loud low-frequency event: 30 ms after it beats 30 ms before it.
    mono = demo.mono()
    for t in kicks[1:]:
        k = round(t * SR)
        after = np.sqrt(np.mean(mono[k : k + SR // 33] ** 2))
        before = np.sqrt(np.mean(mono[k - SR // 33 : k] ** 2))
        assert after > 1.5 * before
    # Music on both sides of the break.
    assert np.sqrt(np.mean(mono[s0 - SR : s0] ** 2)) > 0.05
    assert np.sqrt(np.mean(mono[s1 : s1 + SR] ** 2)) > 0.05
