"""A synthesised demo track (house-ish, A minor) with known kick times and a silent break.

Used for demos without a music file and as ground truth in tests: the kick lands on
every beat, bass and hi-hats sit on the off-beats, pads play Am-F-C-G one chord per bar,
and a two-bar break of true digital silence sits in the second half before everything
drops back in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from livegan.audio.io import AudioClip

PEAK = 0.9
_A4 = 440.0
# (bass root, pad notes) per bar as MIDI numbers: Am, F, C/G, G.
_PROGRESSION = (
    (33, (57, 60, 64)),
    (29, (57, 60, 65)),
    (36, (55, 60, 64)),
    (31, (55, 59, 62)),
)


@dataclass(frozen=True)
class DemoTruth:
    """What the demo track contains, in seconds (kick and hat times are exact sample starts)."""

    bpm: float
    sample_rate: int
    duration: float
    kick_times: np.ndarray
    hat_times: np.ndarray
    silence: tuple[float, float]  # [start, end): every sample in here is exactly 0
    drop_time: float  # where everything comes back in (the end of the silence)

    @property
    def beat_period(self) -> float:
        return 60.0 / self.bpm


@dataclass(frozen=True)
class _Schedule:
    beat: float
    bar: float
    n_bars: int
    silence: tuple[float, float]
    kicks: np.ndarray  # seconds
    offbeats: np.ndarray  # seconds (bass and hats)


def _midi_hz(note: float) -> float:
    return _A4 * 2.0 ** ((note - 69.0) / 12.0)


def _schedule(duration: float, bpm: float) -> _Schedule:
    if duration <= 0 or bpm <= 0:
        raise ValueError("duration and bpm must be positive")
    beat = 60.0 / bpm
    bar = 4 * beat
    n_bars = int(np.ceil(duration / bar))
    # A two-bar break starting on the bar nearest 60% of the way in.
    start = round(0.6 * duration / bar) * bar
    end = min(start + 2 * bar, duration)
    beats = np.arange(0.0, duration, beat)
    in_break = (beats >= start - 1e-9) & (beats < end - 1e-9)
    kicks = beats[~in_break]
    offbeats = beats + beat / 2
    offbeats = offbeats[(offbeats >= 2 * bar - 1e-9) & (offbeats < duration)]  # enter at bar 3
    offbeats = offbeats[(offbeats < start) | (offbeats >= end - 1e-9)]
    return _Schedule(beat, bar, n_bars, (start, end), kicks, offbeats)


def demo_truth(duration: float = 30.0, sample_rate: int = 44100, bpm: float = 124.0) -> DemoTruth:
    """The ground truth of ``demo_track`` with the same arguments (it does not depend on the seed)."""
    s = _schedule(duration, bpm)

    def to_sample_time(t: np.ndarray | float) -> np.ndarray:
        # Events start on whole samples: report exactly those instants.
        return np.round(np.asarray(t) * sample_rate) / sample_rate

    return DemoTruth(
        bpm=float(bpm),
        sample_rate=int(sample_rate),
        duration=float(duration),
        kick_times=to_sample_time(s.kicks),
        hat_times=to_sample_time(s.offbeats),
        silence=(float(to_sample_time(s.silence[0])), float(to_sample_time(s.silence[1]))),
        drop_time=float(to_sample_time(s.silence[1])),
    )


def demo_track(duration: float = 30.0, sample_rate: int = 44100, bpm: float = 124.0, seed: int = 0) -> AudioClip:
    """Synthesise the demo track: stereo float32, deterministic for a given seed, peak 0.9."""
    s = _schedule(duration, bpm)
    sr = int(sample_rate)
    n = int(round(duration * sr))
    rng = np.random.default_rng(seed)
    mix = np.zeros((n, 2), dtype=np.float64)

    kick = _kick(sr)
    for t in s.kicks:
        _add(mix, kick, int(round(t * sr)), (0.8, 0.8))

    hats = [_hat(sr, rng) for _ in range(8)]
    for i, t in enumerate(s.offbeats):
        pan = (0.22, 0.3) if i % 2 else (0.3, 0.22)
        _add(mix, hats[i % len(hats)], int(round(t * sr)), pan)

    bass = {root: _bass(sr, _midi_hz(root), s.beat * 0.45) for root, _ in _PROGRESSION}
    for t in s.offbeats:
        root = _PROGRESSION[int(t // s.bar) % len(_PROGRESSION)][0]
        _add(mix, bass[root], int(round(t * sr)), (0.35, 0.35))

    for b in range(s.n_bars):
        _, notes = _PROGRESSION[b % len(_PROGRESSION)]
        pad = _pad(sr, [_midi_hz(m) for m in notes], s.bar)
        _add(mix, pad, int(round(b * s.bar * sr)), (0.12, 0.12))

    # A noise riser through the bar before the break, a crash on the drop.
    start, end = (int(round(x * sr)) for x in s.silence)
    riser_len = int(round(s.bar * sr))
    _add(mix, _riser(sr, riser_len, rng), start - riser_len, (0.05, 0.05))
    if end < n:
        _add(mix, _crash(sr, rng), end, (0.12, 0.12))

    # True silence in the break, with a short fade so the cut does not click.
    fade = int(0.015 * sr)
    lo = max(start - fade, 0)
    mix[lo:start] *= np.linspace(1.0, 0.0, start - lo, endpoint=False)[:, None]
    mix[start:end] = 0.0
    tail = min(int(0.05 * sr), n)
    mix[n - tail :] *= np.linspace(1.0, 0.0, tail)[:, None]

    peak = float(np.max(np.abs(mix)))
    if peak > 0:
        mix *= PEAK / peak
    return AudioClip(samples=mix.astype(np.float32), sample_rate=sr, path=f"<demo seed={seed}>")


def _add(mix: np.ndarray, sound: np.ndarray, at: int, gains: tuple[float, float]) -> None:
    """Mix a mono ``sound`` (or stereo ``[n, 2]``) into ``mix`` from sample ``at``, clipped to its length."""
    begin, end = max(at, 0), min(at + sound.shape[0], mix.shape[0])
    if end <= begin:
        return
    part = sound[begin - at : end - at]
    if part.ndim == 1:
        part = part[:, None]
    mix[begin:end] += part * np.asarray(gains)


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.4 * sr)) / sr
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)  # pitch drops fast: the "thump"
    phase = 2 * np.pi * np.cumsum(freq) / sr
    env = np.exp(-t / 0.16) * np.minimum(t / 0.001, 1.0) * np.minimum((t[-1] - t) / 0.05, 1.0)
    click = np.exp(-t / 0.002) * np.sin(2 * np.pi * 1800 * t) * 0.3
    return np.sin(phase) * env + click


def _hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.08 * sr)) / sr
    sos = butter(4, min(7000.0, 0.4 * sr), btype="highpass", fs=sr, output="sos")
    noise = sosfilt(sos, rng.standard_normal(t.size))
    return noise * np.exp(-t / 0.018) * 0.5


def _bass(sr: int, freq: float, length_s: float) -> np.ndarray:
    t = np.arange(int(length_s * sr)) / sr
    env = np.minimum(t / 0.004, 1.0) * np.exp(-t / 0.12) * np.minimum((length_s - t) / 0.01, 1.0)
    wave = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(4 * np.pi * freq * t) + 0.15 * np.sin(6 * np.pi * freq * t)
    return wave * env


def _pad(sr: int, freqs: list[float], length_s: float) -> np.ndarray:
    """A soft stereo chord: a few decaying harmonics per note, detuned left/right for width."""
    release = 0.4
    t = np.arange(int((length_s + release) * sr)) / sr
    env = np.minimum(t / 0.25, 1.0) * np.clip((length_s + release - t) / release, 0.0, 1.0)
    out = np.zeros((t.size, 2))
    for f in freqs:
        for ch, cents in enumerate((-4.0, 4.0)):
            fd = f * 2.0 ** (cents / 1200.0)
            for k in range(1, 6):
                if k * fd < 0.45 * sr:
                    out[:, ch] += np.sin(2 * np.pi * k * fd * t + ch * k) / k**1.6
    return out * env[:, None] / len(freqs)


def _riser(sr: int, length: int, rng: np.random.Generator) -> np.ndarray:
    sos = butter(2, [1500.0, min(9000.0, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    ramp = np.linspace(0.0, 1.0, length) ** 2
    return sosfilt(sos, rng.standard_normal(length)) * ramp


def _crash(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(1.5 * sr)) / sr
    sos = butter(2, min(4000.0, 0.4 * sr), btype="highpass", fs=sr, output="sos")
    return sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / 0.45) * 0.6
