"""The causal analyzer, checked against the demo track's ground truth and pure tones."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.audio.analyzer import Analyzer, analyze, default_hop
from livegan.audio.demo import DemoTruth, demo_track, demo_truth
from livegan.audio.features import FeatureFrame
from livegan.audio.followers import EnvelopeFollower, smoothing_coefficient
from livegan.audio.io import AudioClip
from livegan.audio.normalize import RunningNormalizer

SR = 44100
A_CLASS = 9  # chroma index of A (C first)


@pytest.fixture(scope="module")
def demo() -> AudioClip:
    return demo_track(duration=30.0, sample_rate=SR)


@pytest.fixture(scope="module")
def truth() -> DemoTruth:
    return demo_truth(duration=30.0, sample_rate=SR)


@pytest.fixture(scope="module")
def frames(demo: AudioClip) -> list[FeatureFrame]:
    return analyze(demo.samples, SR)


def _tone(freqs: list[float], seconds: float, sr: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(amp * np.sin(2 * np.pi * f * t) for f in freqs).astype(np.float32)


def _matrix(frames: list[FeatureFrame]) -> np.ndarray:
    return np.array([[f.rms, *f.bands, f.flux, *f.band_onsets, f.centroid, *f.chroma] for f in frames])


def test_default_hop_is_about_11_ms() -> None:
    assert default_hop(44100) == 512
    assert default_hop(48000) == 512
    assert default_hop(96000) == 1024
    assert default_hop(22050) == 256
    a = Analyzer(48000)
    assert a.hop == 512 and a.window == 4 * 512
    assert a.frame_rate == pytest.approx(93.75)


def test_positions_and_partial_hops() -> None:
    a = Analyzer(SR, hop=256)
    assert a.process(np.zeros(255, dtype=np.float32)) == []
    out = a.process(np.zeros(1 + 256 * 3 + 10, dtype=np.float32))
    assert [f.sample_pos for f in out] == [256, 512, 768, 1024]
    assert out[-1].time == pytest.approx(1024 / SR)
    assert a.samples_consumed == 1024
    assert len(analyze(np.zeros(10_000, dtype=np.float32), SR)) == 10_000 // 512


def test_blockwise_equals_whole_file_exactly(demo: AudioClip, frames: list[FeatureFrame]) -> None:
    rng = np.random.default_rng(1234)
    a = Analyzer(SR)
    out: list[FeatureFrame] = []
    pos, n = 0, demo.num_samples
    while pos < n:
        # Mostly live-sized blocks, some single samples and empty blocks in between.
        size = int(rng.choice([0, 1, 7, int(rng.integers(1, 4097))], p=[0.05, 0.05, 0.1, 0.8]))
        out.extend(a.process(demo.samples[pos : pos + size]))
        pos += size
    assert len(out) == len(frames) == n // a.hop
    assert out == frames  # dataclass equality: every float bit for bit


def test_mono_and_stereo_input_agree(demo: AudioClip, frames: list[FeatureFrame]) -> None:
    part = demo.samples[: SR * 3]
    mono = (part[:, 0].astype(np.float64) + part[:, 1]) / 2
    assert analyze(mono, SR) == frames[: len(analyze(mono, SR))]
    pcm = (np.clip(part[: SR // 2], -1, 1) * 32767).astype(np.int16)
    as_int = analyze(pcm, SR)
    as_float = analyze(pcm.astype(np.float64) / 32768, SR)
    assert as_int == as_float


def test_onsets_follow_the_kicks(frames: list[FeatureFrame], truth: DemoTruth) -> None:
    onsets = np.array([f.time for f in frames if f.onset])
    strengths = [f.onset_strength for f in frames if f.onset]
    assert all(0.0 < s <= 1.0 for s in strengths)
    assert all(f.onset_strength == 0.0 for f in frames if not f.onset)
    hop_s = 512 / SR
    tolerance = hop_s + 0.008  # the hit is heard within one hop, plus the window's ramp
    delays = []
    for kick in truth.kick_times:
        after = onsets[(onsets >= kick) & (onsets <= kick + tolerance)]
        assert after.size == 1, f"kick at {kick:.3f}s: onsets {after}"
        delays.append(after[0] - kick)
    # Hi-hats are onsets too; anything not just after a kick or a hat is a false positive.
    events = np.concatenate([truth.kick_times, truth.hat_times])
    lag = onsets[:, None] - events[None, :]
    explained = ((lag >= 0) & (lag <= tolerance)).any(axis=1)
    assert (~explained).sum() <= 2, f"false onsets at {onsets[~explained]}"
    assert np.mean(delays) < hop_s + 0.004


def test_steady_sounds_do_not_fire_and_clicks_do() -> None:
    rng = np.random.default_rng(0)
    noise = analyze((0.1 * rng.standard_normal(SR * 5)).astype(np.float32), SR)
    assert not any(f.onset for f in noise[50:])  # after its own start
    sine = analyze(_tone([220.0], 3.0, SR), SR)
    assert [f.sample_pos for f in sine if f.onset] == [512]
    clicks = (0.003 * rng.standard_normal(SR * 4)).astype(np.float32)
    clicks[SR // 8 :: SR // 4] += 0.8
    fired = np.array([f.time for f in analyze(clicks, SR) if f.onset and f.time > 0.1])  # not the bed's start
    expected = np.arange(SR // 8, SR * 4, SR // 4) / SR
    assert fired.size == expected.size
    assert np.all((fired - expected >= 0) & (fired - expected <= 512 / SR + 0.008))


def test_silent_break_reads_as_rest(frames: list[FeatureFrame], truth: DemoTruth) -> None:
    start, end = truth.silence
    # Band followers release with a 150 ms time constant: ~0 a second into the silence.
    quiet = [f for f in frames if start + 1.0 <= f.time <= end]
    assert len(quiet) > 200
    assert not any(f.onset for f in quiet)
    m = _matrix(quiet)
    assert m.max() < 0.01, f"largest feature in silence: {m.max(axis=0)}"
    # ...and comes back on the drop: an onset within a hop or two, bands light up.
    back = [f for f in frames if end <= f.time <= end + 0.05]
    assert any(f.onset for f in back[:2])
    assert max(max(f.bands) for f in back) > 0.5


def test_digital_silence_is_exactly_rest() -> None:
    for f in analyze(np.zeros(SR, dtype=np.float32), SR):
        assert f == FeatureFrame.rest(f.sample_pos, SR)


def test_loudness_invariance(demo: AudioClip, frames: list[FeatureFrame], truth: DemoTruth) -> None:
    quiet = analyze(demo.samples * np.float32(10 ** (-20 / 20)), SR)
    assert [f.onset for f in quiet] == [f.onset for f in frames]
    t = np.array([f.time for f in frames])
    start, end = truth.silence
    # After warm-up; the fades into and out of the break sit near the silence floor.
    keep = (t > 2.0) & ((t < start - 0.1) | (t > end + 0.1))
    diff = np.abs(_matrix(quiet)[keep] - _matrix(frames)[keep])
    assert diff.max() < 0.01
    loud = _matrix(frames)[keep]
    assert loud[:, 1:5].mean() > 0.2  # the features are not all trivially 0


def test_features_stay_in_range(frames: list[FeatureFrame]) -> None:
    m = _matrix(frames)
    assert np.all(np.isfinite(m))
    assert m.min() >= 0.0 and m.max() <= 1.0
    assert all(sum(f.chroma) <= 1.0 + 1e-9 for f in frames)
    # Every level feature uses its whole range at some point of a real track.
    assert np.all(m[:, :10].max(axis=0) > 0.9)


@pytest.mark.parametrize("sr", [44100, 48000])
def test_band_separation(sr: int) -> None:
    sub = analyze(_tone([40.0], 1.0, sr), sr)[-1]
    assert sub.bands[0] > 0.9
    assert sub.bands[3] < 0.02 and sub.bands[2] < 0.1
    high = analyze(_tone([5000.0], 1.0, sr), sr)[-1]
    assert high.bands[3] > 0.9
    assert max(high.bands[:3]) < 0.02
    mid = analyze(_tone([1000.0], 1.0, sr), sr)[-1]
    assert mid.bands[2] > 0.9
    assert mid.bands[0] < 0.02 and mid.bands[3] < 0.02
    assert sub.centroid < mid.centroid < high.centroid


def test_chroma_of_a440_and_a_c_major_chord() -> None:
    a = analyze(_tone([440.0], 1.0, SR), SR)[-1]
    assert int(np.argmax(a.chroma)) == A_CLASS
    assert sum(a.chroma) == pytest.approx(1.0, abs=1e-3)
    c_major = analyze(_tone([261.63, 329.63, 392.0], 1.0, SR), SR)[-1]
    assert set(np.argsort(c_major.chroma)[-3:]) == {0, 4, 7}  # C, E, G


def test_bad_samples_do_not_poison_the_state() -> None:
    a = Analyzer(SR)
    block = _tone([440.0], 0.2, SR)
    block[100:200] = np.nan
    block[300] = np.inf
    a.process(block)
    after = a.process(_tone([440.0], 0.5, SR))
    assert np.all(np.isfinite(_matrix(after)))
    assert after[-1].bands[2] > 0.5


def test_reset_forgets_everything(demo: AudioClip, frames: list[FeatureFrame]) -> None:
    a = Analyzer(SR)
    a.process(demo.samples[: SR * 2])
    a.reset()
    assert a.process(demo.samples[: SR]) == frames[: SR // 512]


def test_follower_time_constants_do_not_depend_on_the_step() -> None:
    assert smoothing_coefficient(0.0, 0.01) == 1.0
    coarse = EnvelopeFollower(1, attack_s=0.02, release_s=0.2, step_s=0.01)
    fine = EnvelopeFollower(1, attack_s=0.02, release_s=0.2, step_s=0.005)
    one = np.ones(1)
    for _ in range(5):  # 50 ms of rise
        coarse(one)
        fine(one)
        fine(one)
    np.testing.assert_allclose(coarse.value, fine.value, rtol=1e-12)
    assert coarse.value[0] == pytest.approx(1 - np.exp(-0.05 / 0.02))
    for _ in range(20):  # 200 ms of fall: down to 1/e of where it was
        coarse(np.zeros(1))
    assert coarse.value[0] == pytest.approx((1 - np.exp(-2.5)) * np.exp(-1.0))


def test_normalizer_scale_invariance_and_floor() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((500, 2))
    floor = np.array([1e-3, 1e-3])
    a, b = RunningNormalizer(floor, window=200), RunningNormalizer(floor, window=200)
    ya = np.array([a(v) for v in x])
    yb = np.array([b(v * 0.01) for v in x])
    np.testing.assert_allclose(ya, yb, rtol=1e-12)
    assert ya.max() == 1.0
    assert 0.45 < ya[-100:].mean() < 0.62  # uniform 0..1 over its 95th percentile: ~0.53
    tiny = RunningNormalizer(floor, window=200)
    assert max(tiny(np.full(2, 1e-6)).max() for _ in range(300)) == pytest.approx(1e-3)
