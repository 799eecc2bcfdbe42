"""A causal beat clock: tempo and beat phase from the onset-strength signal, plus tap tempo.

``BeatTracker`` is fed one onset-strength value per analysis hop (the analyzer's flux).
Every few hops it looks back over the last seconds of that signal:

1. **coarse tempo**: the autocorrelation of the (mean-removed) envelope over the lags
   of 70..180 BPM, weighted by a broad log-tempo prior around 120 BPM so half and double
   tempi lose ties;
2. **fine tempo**: a comb over many beats at fractional periods near the coarse lag
   (one hop is ~3 BPM at 124 BPM; over 16 beats a 0.2 BPM error is a whole hop, so
   the long comb resolves it);
3. **phase**: the comb's best offset says where the last beat fell.

A phase oscillator runs between updates and is pulled toward the measured phase, so
the phase never jumps and keeps running (flywheel) through breaks and silence.

Everything depends only on the values fed and the hop count, so block-wise and
whole-file analysis agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..clock.external import lead_position

MIN_BPM = 70.0
MAX_BPM = 180.0


@dataclass(frozen=True)
class BeatState:
    """The clock after one hop."""

    tempo_bpm: float  # 0 until a tempo has been heard
    phase: float  # 0..1 within the current beat
    beat: bool  # a beat boundary fell in this hop
    confidence: float  # 0..1, how periodic the recent onsets are
    beat_count: int  # beats since the clock locked (bar position = beat_count % 4)


def beat_strength(flux: float, band_onsets: tuple[float, ...]) -> float:
    """The onset signal the clock follows: overall flux plus the sub band's flux.

    Kicks carry the beat in most music the instrument plays to; hats and off-beat bass
    often have as much overall flux, so the sub band's onsets decide which is the beat.
    """
    return 0.5 * float(flux) + float(band_onsets[0])


class BeatTracker:
    """Causal tempo + phase estimation at a fixed hop rate (frames per second ``rate``)."""

    def __init__(self, rate: float, window_s: float = 8.0, update_s: float = 0.1,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0, switch_s: float = 1.0) -> None:
        self.rate = float(rate)
        self.window = max(16, int(round(window_s * rate)))
        self.update_every = max(1, int(round(update_s * rate)))
        self.min_lag = int(math.floor(60.0 * rate / MAX_BPM))
        self.max_lag = int(math.ceil(60.0 * rate / MIN_BPM))
        lags = np.arange(self.min_lag, self.max_lag + 1)
        self.switch_updates = max(1, int(round(switch_s / update_s)))
        # Onsets fire about this many hops after the hit (window fill + picking): beats are
        # reported that much earlier so the clock sits on the hits themselves.
        self.latency_hops = 2.0
        octaves = np.log2(60.0 * rate / lags / prior_bpm)
        self._lags = lags
        self._prior = np.exp(-0.5 * (octaves / prior_octaves) ** 2)
        self.reset()

    def reset(self) -> None:
        self._env = np.zeros(self.window)
        self._n = 0  # hops seen
        self._period = 0.0  # hops per beat (0: no tempo yet)
        self._phase = 0.0
        self._confidence = 0.0
        self._beats = 0
        self._heard = 0  # hops since the first sound
        self._rival = 0.0  # a different tempo that keeps winning ...
        self._rival_wins = 0  # ... for this many updates in a row

    @property
    def tempo_bpm(self) -> float:
        return 60.0 * self.rate / self._period if self._period else 0.0

    def __call__(self, strength: float) -> BeatState:
        """Advance by one hop with this hop's onset strength (>= 0)."""
        self._env[:-1] = self._env[1:]
        self._env[-1] = max(0.0, float(strength))
        self._n += 1
        if strength > 1e-6 or self._heard:
            self._heard += 1  # hops since the first sound: enough history to look for a period
        if self._n % self.update_every == 0 and self._heard >= 2 * self.max_lag:
            self._estimate()
        beat = False
        if self._period:
            self._phase += 1.0 / self._period
            if self._phase >= 1.0:
                self._phase -= math.floor(self._phase)
                beat = True
                self._beats += 1
        return BeatState(self.tempo_bpm, self._phase, beat, self._confidence, self._beats)

    # ---- estimation ----------------------------------------------------------------
    def _estimate(self) -> None:
        heard = min(self._n, self.window)
        env = self._env[-heard:]
        if float(env.max()) <= 1e-6:
            self._confidence *= 0.9  # silence: keep the tempo and phase running, trust them less
            return
        # A window spanning a silent break holds too few beats to re-measure the tempo:
        # the clock coasts on its old tempo and only re-finds the phase (over the whole
        # window, so the beats before the break still vote) until the break has passed.
        gap = _last_gap(env, int(self.rate))
        if gap is not None and self._period:
            off, _ = _comb(env, self._period)
            self._pull_phase(off)
            return
        x = env - env.mean()
        energy = float(np.dot(x, x))
        if energy <= 1e-12:
            return
        acf = np.maximum([_acf(x, lag) / energy for lag in self._lags], 0.0)
        acf2 = np.maximum([_acf(x, 2 * lag) / energy for lag in self._lags], 0.0)
        # Harmonic sum: the true beat also repeats a beat later, while an off-beat
        # pulse (hats between kicks) scores less at its own lag than the beat does.
        score = (acf + acf2) * self._prior
        k = int(np.argmax(score))
        if score[k] <= 0.0:
            return
        coarse = float(self._lags[k])
        # Fine search: periods within +-1.5 hops, in 1/20-hop steps, over the whole window.
        periods = coarse + np.arange(-1.5, 1.5001, 0.05)
        best_p, best_off, best_val = coarse, 0.0, -1.0
        for p in periods:
            off, val = _comb(env, p)
            if val > best_val:
                best_p, best_off, best_val = float(p), off, val
        self._confidence = float(np.clip(acf[k] * 2.0, 0.0, 1.0))
        if self._period and abs(best_p - self._period) < 0.03 * self._period:
            self._period += 0.5 * (best_p - self._period)  # settle instead of flicker
            self._rival_wins = 0
        elif self._period:
            # A different tempo must win for a while (a fill or a break must not flip it).
            same = self._rival and abs(best_p - self._rival) < 0.03 * self._rival
            self._rival, self._rival_wins = best_p, (self._rival_wins + 1 if same else 1)
            ratio = best_p / self._period
            octave = min(abs(ratio - 2.0), abs(ratio - 0.5)) < 0.1
            # Half and double tempo are the usual confusions: demand much more evidence.
            if self._rival_wins < self.switch_updates * (4 if octave else 1):
                return
            self._period, self._rival_wins = best_p, 0
        else:
            self._period = best_p
        self._pull_phase(best_off)

    def _pull_phase(self, offset: float) -> None:
        """Pull the oscillator toward a beat ``offset`` hops ago (half way each update)."""
        target = ((offset + self.latency_hops) / self._period) % 1.0
        err = (target - self._phase + 0.5) % 1.0 - 0.5
        self._phase = (self._phase + 0.5 * err) % 1.0


def _last_gap(env: np.ndarray, min_len: int) -> int | None:
    """Index just after the newest run of at least ``min_len`` silent hops, or None."""
    quiet = env <= 1e-6
    run = 0
    for i in range(env.size - 1, -1, -1):
        run = run + 1 if quiet[i] else 0
        if run >= min_len:
            end = i + run
            while end < env.size and quiet[end]:
                end += 1
            return end
    return None


def _acf(x: np.ndarray, lag: int) -> float:
    return float(np.dot(x[:-lag], x[lag:])) if lag < x.size else 0.0


def _comb(env: np.ndarray, period: float) -> tuple[float, float]:
    """Best beat offset (hops before the newest sample) and its mean envelope value."""
    n = env.size
    k = int((n - 2) // period)
    if k < 2:
        return 0.0, 0.0
    offsets = np.arange(0.0, period, 0.5)
    pos = (n - 1) - offsets[:, None] - period * np.arange(k)[None, :]
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    vals = env[lo] * (1.0 - frac) + env[np.minimum(lo + 1, n - 1)] * frac
    # Onsets fire up to ~1.5 hops after the hit: take the best of a 3-hop neighbourhood too.
    vals = np.maximum(vals, env[np.maximum(lo - 1, 0)])
    mean = vals.mean(axis=1)
    i = int(np.argmax(mean))
    return float(offsets[i]), float(mean[i])


class TapTempo:
    """Tap tempo: the median interval of the recent taps; a pause over ``reset_s`` starts afresh."""

    def __init__(self, reset_s: float = 2.0, keep: int = 8) -> None:
        self.reset_s = reset_s
        self.keep = keep
        self.taps: list[float] = []

    def tap(self, t: float) -> None:
        if self.taps and (t - self.taps[-1] > self.reset_s or t <= self.taps[-1]):
            self.taps = []
        self.taps = (self.taps + [float(t)])[-self.keep:]

    @property
    def period(self) -> float | None:
        if len(self.taps) < 2:
            return None
        return float(np.median(np.diff(self.taps)))

    @property
    def bpm(self) -> float | None:
        p = self.period
        return 60.0 / p if p else None

    def phase(self, t: float) -> float | None:
        """Beat phase at ``t``: the last tap was a beat."""
        p = self.period
        if not p:
            return None
        return ((t - self.taps[-1]) / p) % 1.0


CLOCK_SOURCES = ("auto", "analysis", "tap", "manual")


class BeatClock:
    """The conductor's beat clock: a continuous beat count on the audio clock.

    It integrates the tempo of its source and pulls its phase toward the source's phase
    (time constant ``pull_s``), so it never jumps when the source changes or a tap lands:

    * ``analysis``: the analyzer's tempo and phase (``FeatureFrame.tempo_bpm / beat_phase``);
    * ``tap``: tap tempo, each tap marking a beat;
    * ``manual``: a fixed tempo (``tempo/bpm``), free phase (taps still set the phase);
    * ``auto``: taps when there are recent ones (``tap_hold_s``), else the analysis,
      else the manual tempo.
    """

    def __init__(self, pull_s: float = 0.15, tap_hold_s: float = 30.0) -> None:
        self.pull_s = pull_s
        self.tap_hold_s = tap_hold_s
        self.taps = TapTempo()
        self.beats = 0.0
        self.bpm = 0.0
        self.running = True  # False while a leading clock's transport is stopped (``follow``)
        self._t: float | None = None

    def tap(self, t: float) -> None:
        self.taps.tap(t)

    def update(self, t: float, tempo_bpm: float, beat_phase: float, source: str = "auto",
               manual_bpm: float = 0.0) -> tuple[bool, bool]:
        """Advance to audio time ``t``; returns (a beat passed, a bar passed)."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        self.running = True
        bpm, phase = self._source(t, tempo_bpm, beat_phase, source, manual_bpm)
        before = self.beats
        if bpm > 0:
            self.beats += dt * bpm / 60.0
            if phase is not None:
                err = (phase - self.beats + 0.5) % 1.0 - 0.5
                self.beats += err * (1.0 - math.exp(-dt / self.pull_s) if dt > 0 else 0.0)
        self.bpm = bpm
        beat = math.floor(self.beats) > math.floor(before)
        bar = math.floor(self.beats / 4.0) > math.floor(before / 4.0)
        return beat, bar

    def follow(self, t: float, bpm: float, beats: float | None, playing: bool = True) -> tuple[bool, bool]:
        """Advance to ``t`` led by an external clock (``livegan.clock``: Link, MIDI clock, a tempo
        map): its tempo, and with ``beats`` its beat and bar phase (``lead_position``: a glide,
        never a jump). Stopped (``playing`` False), the count holds until the transport starts."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        before, start = self.beats, not self.running
        self.bpm, self.running = bpm, playing
        if playing and bpm > 0:
            predicted = before + dt * bpm / 60.0
            self.beats = predicted if beats is None else lead_position(before, predicted, beats, dt, self.pull_s,
                                                                       start)
        beat = math.floor(self.beats) > math.floor(before)
        bar = math.floor(self.beats / 4.0) > math.floor(before / 4.0)
        return beat, bar

    def next_bar_time(self, t: float, beats_per_bar: int = 4) -> float:
        """Audio time of the next bar line after ``t`` (``t`` itself without a tempo).

        For bar-quantised changes: a preset load asked for now waits until then.
        """
        if self.bpm <= 0 or self._t is None:
            return t
        to_go = beats_per_bar - (self.beats % beats_per_bar)
        return self._t + to_go * 60.0 / self.bpm

    def _source(self, t: float, tempo_bpm: float, beat_phase: float, source: str,
                manual_bpm: float) -> tuple[float, float | None]:
        tap_bpm = self.taps.bpm
        recent = bool(self.taps.taps) and t - self.taps.taps[-1] <= self.tap_hold_s
        if source == "tap" or (source == "auto" and tap_bpm and recent):
            if tap_bpm:
                return tap_bpm, self.taps.phase(t)
        if source in ("analysis", "auto", "tap") and tempo_bpm > 0:
            return tempo_bpm, beat_phase
        if manual_bpm > 0:
            phase = ((t - self.taps.taps[-1]) * manual_bpm / 60.0) % 1.0 if self.taps.taps else None
            return manual_bpm, phase
        return 0.0, None
