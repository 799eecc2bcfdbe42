"""Generated test tracks with known structure (tempo, beats, a build-up and drop, silence).

Besides the demo track (``livegan.audio.demo``), the reactivity report and the tests use:

* ``builddrop``: 128 BPM; 4 bars of groove, a 4-bar build-up (kick and bass out, a
  riser and an accelerating snare roll), the drop, 6 bars of groove, then silence;
* ``halftime``: 96 BPM; kick on 1 and the "and" of 2, snare on 3, hats on eighths,
  a pad changing chord each bar, 2 bars of silence in the middle, no build;
* ``sparsefull``: 124 BPM; 2 bars of silence, 4 bars of a sparse groove (hats, snare, a
  faint kick), then the full groove (kick, bass, pads): the drop is at the full groove;
* ``bassentry``: 120 BPM; a 34 s intro of pads and hats only, then kick and bass enter
  (a new section, ``section_time``);
* ``steady``: 126 BPM; the same full groove throughout: no drop, no section.

Both are synthesised in code from the demo's instruments: no audio files ship.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from livegan.audio.demo import _PROGRESSION, _add, _bass, _crash, _hat, _kick, _midi_hz, _pad, _riser, demo_track, demo_truth
from livegan.audio.io import AudioClip

TRACKS = ("demo", "builddrop", "halftime", "sparsefull", "bassentry", "steady")


@dataclass(frozen=True)
class Track:
    name: str
    clip: AudioClip
    bpm: float
    beats: np.ndarray  # seconds of every beat of the grid (also where nothing plays)
    kicks: np.ndarray  # seconds
    drop_time: float | None
    silence: tuple[float, float] | None
    section_time: float | None = None  # a section boundary the structure detector must find


def make_track(name: str, sample_rate: int = 44100, seed: int = 0) -> Track:
    if name == "demo":
        truth = demo_truth(sample_rate=sample_rate)
        beats = np.arange(0.0, truth.duration, truth.beat_period)
        return Track("demo", demo_track(sample_rate=sample_rate, seed=seed), truth.bpm, beats,
                     truth.kick_times, truth.drop_time, truth.silence)
    if name == "builddrop":
        return _builddrop(sample_rate, seed)
    if name == "halftime":
        return _halftime(sample_rate, seed)
    if name == "sparsefull":
        return _sparse_full(sample_rate, seed)
    if name == "bassentry":
        return _bass_entry(sample_rate, seed)
    if name == "steady":
        return _steady(sample_rate, seed)
    raise ValueError(f"unknown test track {name!r} (known: {', '.join(TRACKS)})")


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * sr)) / sr
    sos = butter(2, [800.0, min(8000.0, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    noise = sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / 0.06)
    body = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)
    return 0.6 * noise + 0.5 * body


def _finish(mix: np.ndarray, silence: tuple[float, float] | None, sr: int, path: str) -> AudioClip:
    if silence is not None:
        a, b = (int(round(x * sr)) for x in silence)
        fade = int(0.015 * sr)
        mix[max(a - fade, 0):a] *= np.linspace(1.0, 0.0, a - max(a - fade, 0), endpoint=False)[:, None]
        mix[a:b] = 0.0
    peak = float(np.abs(mix).max())
    if peak > 0:
        mix *= 0.9 / peak
    return AudioClip(samples=mix.astype(np.float32), sample_rate=sr, path=path)


def _builddrop(sr: int, seed: int) -> Track:
    bpm = 128.0
    beat, bar = 60.0 / bpm, 240.0 / bpm
    build, drop, end_groove = 4 * bar, 8 * bar, 14 * bar
    duration = end_groove + 2 * bar
    rng = np.random.default_rng(seed)
    mix = np.zeros((int(round(duration * sr)), 2))
    beats = np.arange(0.0, duration - 1e-9, beat)
    kicks = beats[(beats < build - 1e-9) | ((beats >= drop - 1e-9) & (beats < end_groove - 1e-9))]
    kick, hat, snare = _kick(sr), _hat(sr, rng), _snare(sr, rng)
    for t in kicks:
        _add(mix, kick, int(round(t * sr)), (0.8, 0.8))
        root = _PROGRESSION[int(t // bar) % 4][0]
        _add(mix, _bass(sr, _midi_hz(root), beat * 0.45), int(round((t + beat / 2) * sr)), (0.35, 0.35))
    for t in beats[beats < end_groove - 1e-9]:
        _add(mix, hat, int(round((t + beat / 2) * sr)), (0.25, 0.25))
    # The build: snare roll doubling its rate every bar (quarters, eighths, 16ths, 32nds).
    for k in range(4):
        step = beat / 2**k
        for t in np.arange(build + k * bar, build + (k + 1) * bar - 1e-9, step):
            _add(mix, snare * (0.3 + 0.15 * k), int(round(t * sr)), (0.3, 0.3))
    _add(mix, _riser(sr, int(round((drop - build) * sr)), rng), int(round(build * sr)), (0.15, 0.15))
    _add(mix, _crash(sr, rng), int(round(drop * sr)), (0.15, 0.15))
    for b in range(int(end_groove // bar)):
        _add(mix, _pad(sr, [_midi_hz(m) for m in _PROGRESSION[b % 4][1]], bar), int(round(b * bar * sr)), (0.1, 0.1))
    silence = (end_groove + 0.5 * bar, duration)
    return Track("builddrop", _finish(mix, silence, sr, "<builddrop>"), bpm, beats, kicks, drop, silence)


def _halftime(sr: int, seed: int) -> Track:
    bpm = 96.0
    beat, bar = 60.0 / bpm, 240.0 / bpm
    duration = 14 * bar
    silence = (7 * bar, 9 * bar)
    rng = np.random.default_rng(seed + 1)
    mix = np.zeros((int(round(duration * sr)), 2))
    beats = np.arange(0.0, duration - 1e-9, beat)
    kick, snare = _kick(sr), _snare(sr, rng)
    hats = [_hat(sr, rng) for _ in range(4)]
    bars = np.arange(0.0, duration - 1e-9, bar)
    kicks = np.sort(np.concatenate([bars, bars + 1.5 * beat]))
    for t in kicks:
        _add(mix, kick, int(round(t * sr)), (0.8, 0.8))
    for t in bars + 2 * beat:
        _add(mix, snare, int(round(t * sr)), (0.45, 0.45))
    for i, t in enumerate(np.arange(0.0, duration - 1e-9, beat / 2)):
        _add(mix, hats[i % 4] * (1.0 if i % 2 else 0.6), int(round(t * sr)), (0.2, 0.25))
    for b, t in enumerate(bars):
        root, notes = _PROGRESSION[b % 4]
        _add(mix, _pad(sr, [_midi_hz(m) for m in notes], bar), int(round(t * sr)), (0.15, 0.15))
        _add(mix, _bass(sr, _midi_hz(root), beat * 1.8), int(round(t * sr)), (0.3, 0.3))
    kicks = kicks[(kicks < silence[0] - 1e-9) | (kicks >= silence[1] - 1e-9)]
    return Track("halftime", _finish(mix, silence, sr, "<halftime>"), bpm, beats, kicks, silence[1], silence)


def _groove(mix: np.ndarray, sr: int, rng: np.random.Generator, bpm: float, start: float, end: float,
            kick: float = 0.8, bass: float = 0.35, hats: float = 0.25, snare: float = 0.0, pads: float = 0.1) -> np.ndarray:
    """Four-on-the-floor parts between ``start`` and ``end`` (s) at these gains; returns the beat times."""
    beat, bar = 60.0 / bpm, 240.0 / bpm
    beats = np.arange(start, end - 1e-9, beat)
    k, h, sn = _kick(sr), _hat(sr, rng), _snare(sr, rng)
    for i, t in enumerate(beats):
        if kick:
            _add(mix, k, int(round(t * sr)), (kick, kick))
        if bass:
            root = _PROGRESSION[int(t // bar) % 4][0]
            _add(mix, _bass(sr, _midi_hz(root), beat * 0.45), int(round((t + beat / 2) * sr)), (bass, bass))
        if hats:
            _add(mix, h, int(round((t + beat / 2) * sr)), (hats, hats))
        if snare and i % 2 == 1:
            _add(mix, sn, int(round(t * sr)), (snare, snare))
    if pads:
        for t in np.arange(start, end - 1e-9, bar):
            notes = _PROGRESSION[int(t // bar) % 4][1]
            _add(mix, _pad(sr, [_midi_hz(m) for m in notes], min(bar, end - t)), int(round(t * sr)), (pads, pads))
    return beats


def _sparse_full(sr: int, seed: int) -> Track:
    bpm = 124.0
    bar = 240.0 / bpm
    sparse, full, end = 2 * bar, 6 * bar, 14 * bar
    rng = np.random.default_rng(seed + 2)
    mix = np.zeros((int(round(end * sr)), 2))
    _groove(mix, sr, rng, bpm, sparse, full, kick=0.06, bass=0.0, hats=0.2, snare=0.25, pads=0.0)
    kicks = _groove(mix, sr, rng, bpm, full, end, snare=0.25)
    beats = np.arange(sparse, end - 1e-9, 60.0 / bpm)
    return Track("sparsefull", _finish(mix, None, sr, "<sparsefull>"), bpm, beats, kicks, full, (0.0, sparse))


def _bass_entry(sr: int, seed: int) -> Track:
    bpm = 120.0
    entry, end = 34.0, 46.0
    rng = np.random.default_rng(seed + 3)
    mix = np.zeros((int(round(end * sr)), 2))
    _groove(mix, sr, rng, bpm, 0.0, entry, kick=0.0, bass=0.0, hats=0.12, pads=0.1)
    kicks = _groove(mix, sr, rng, bpm, entry, end)
    beats = np.arange(0.0, end - 1e-9, 60.0 / bpm)
    return Track("bassentry", _finish(mix, None, sr, "<bassentry>"), bpm, beats, kicks, None, None, section_time=entry)


def _steady(sr: int, seed: int) -> Track:
    bpm = 126.0
    end = 32 * 240.0 / bpm / 2
    rng = np.random.default_rng(seed + 4)
    mix = np.zeros((int(round(end * sr)), 2))
    kicks = _groove(mix, sr, rng, bpm, 0.0, end, snare=0.25)
    return Track("steady", _finish(mix, None, sr, "<steady>"), bpm, kicks, kicks, None, None)


@functools.cache
def analyzed_track(name: str) -> tuple[Track, tuple]:
    """A test track and its analysis frames (cached: tests and reports share one analysis)."""
    from livegan.audio.analyzer import analyze

    track = make_track(name)
    return track, tuple(analyze(track.clip.samples, track.clip.sample_rate))
