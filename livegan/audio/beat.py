"""A causal beat clock: tempo, beat phase, bar phase and a confidence from the onset signal.

``BeatTracker`` is fed, per analysis hop, the overall onset strength (the analyzer's
flux) and a low-band *accent* (kick emphasis). Every ``update_s`` it looks back over the
last ``window_s`` seconds:

1. **tempo** comes from the overall onset signal only: a beat period scores by how well
   its grid explains the periodicity of the onsets, the mean autocorrelation at one,
   two, three and four periods (a beat repeats a beat, a half bar and a bar later; a
   2/3 or 4/3 level misses most of those), times a broad log-tempo prior around 120 BPM
   that settles half/double ties. The period is searched in quarter hops and refined
   between grid points, so the tempo resolves well under 1 %;
2. **phase**: a comb at that period over the onsets plus the accent says where the last
   beat fell (the kick, not the hats, is usually the beat);
3. **hold**: once a level has held for ``lock_s``, another level (any ratio, not only
   half or double) must beat it clearly for ``switch_s`` in a row (``octave_switch_s``
   for half/double) before the clock moves; within its level the tempo follows drift;
4. **bar**: the low-band accent heard at the start of each of the four beat slots is
   averaged per slot; the strongest slot is the downbeat (4/4 assumed), and the margin
   over the next slot is the bar confidence.

A phase oscillator runs between updates and is pulled toward the measured phase, so the
phase never jumps and keeps running (flywheel) through breaks and silence.

Everything depends only on the values fed and the hop count, so block-wise and
whole-file analysis agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..clock.external import lead_position
from ..smoothing import coefficient

MIN_BPM = 55.0  # the periods searched (the prior keeps answers mostly in 80..160)
MAX_BPM = 185.0
MIN_HEARD_S = 1.5  # the first estimate needs about two slow beats
DUPLE_WEIGHT = 0.1  # bonus for onsets half a beat apart (see _salience)
KICK_CONTRAST = 3.0  # the kick joins the phase comb when its best phase is this far above its typical one
STRENGTH_CAP = 2.0  # onset strength cap, in units of the running 95th percentile
PHASE_NEAR = 0.15  # beats: a phase within this of the clock's is the same beat
PHASE_KEEP = 0.6  # ... and is kept while it collects this share of the best phase's onsets
BEATS_PER_BAR = 4


@dataclass(frozen=True)
class BeatState:
    """The clock after one hop."""

    tempo_bpm: float  # 0 until a tempo has been heard
    phase: float  # 0..1 within the current beat
    beat: bool  # a beat boundary fell in this hop
    confidence: float  # 0..1, how clearly periodic the recent onsets are at this tempo
    beat_count: int  # beats since the clock first found a tempo (never decreases)
    bar_phase: float = 0.0  # 0..1 within the current bar (0 on the estimated downbeat)
    downbeat: bool = False  # this hop's beat is the first of a bar
    bar_confidence: float = 0.0  # 0..1, how clearly one beat slot carries the bar's accent
    locked: bool = False  # the tempo has held long enough to resist other levels


def beat_strength(flux: float, band_onsets: tuple[float, ...]) -> float:
    """The onset signal of the beat clock's phase: overall flux with a kick emphasis.

    Tempo is measured on the flux alone (sub-band terms pull it to other levels); the
    sub and low bands only help decide *where* in the period the beat sits.
    """
    return float(flux) + beat_accent(band_onsets)


def beat_accent(band_onsets: tuple[float, ...]) -> float:
    """Kick emphasis: the sub band's onsets (below the bass lines of the low band)."""
    return float(band_onsets[0])


class BeatTracker:
    """Causal tempo + phase + bar estimation at a fixed hop rate (frames per second ``rate``)."""

    def __init__(self, rate: float, window_s: float = 8.0, update_s: float = 0.1,
                 prior_lo_bpm: float = 80.0, prior_hi_bpm: float = 160.0, prior_octaves: float = 0.3, lock_s: float = 2.0,
                 switch_s: float = 6.0, octave_switch_s: float = 12.0, margin: float = 1.15) -> None:
        self.rate = float(rate)
        self.window = max(16, int(round(window_s * rate)))
        self.update_every = max(1, int(round(update_s * rate)))
        self.min_lag = 60.0 * rate / MAX_BPM
        self.max_lag = 60.0 * rate / MIN_BPM
        self._periods = np.arange(math.floor(self.min_lag), math.ceil(self.max_lag) + 0.01, 0.25)
        # Flat over the tempi listeners usually tap, falling off (log-Gaussian) outside them.
        bpm = 60.0 * rate / self._periods
        octaves = np.maximum(np.log2(prior_lo_bpm / bpm), 0.0) + np.maximum(np.log2(bpm / prior_hi_bpm), 0.0)
        self._prior = np.exp(-0.5 * (octaves / prior_octaves) ** 2)
        self._nfft = 1 << int(math.ceil(math.log2(2 * self.window)))
        update_s = self.update_every / self.rate
        self.lock_updates = max(1, int(round(lock_s / update_s)))
        self.switch_updates = max(1, int(round(switch_s / update_s)))
        self.octave_switch_updates = max(1, int(round(octave_switch_s / update_s)))
        self.margin = margin
        self.lock_window = int(round(min(4.0, window_s) * rate))
        self.min_heard = int(round(MIN_HEARD_S * rate))
        self.max_held = 4 * self.lock_updates  # a lock fades after about this long without a clear pulse
        self.relock_updates = self.lock_updates // 2
        self.phase_switch_updates = self.switch_updates // 2  # another phase must win this long
        # Onsets fire about this many hops after the hit (window fill + picking): beats are
        # reported that much earlier so the clock sits on the hits themselves.
        self.latency_hops = 2.0
        self.reset()

    def reset(self) -> None:
        self._env = np.zeros(self.window)
        self._accent = np.zeros(self.window)
        self._n = 0  # hops seen
        self._period = 0.0  # hops per beat (0: no tempo yet)
        self._phase = 0.0
        self._wrapped = False  # a phase pull crossed a beat: the next hop reports it
        self._phase_rival_wins = 0
        self._confidence = 0.0
        self._beats = 0
        self._heard = 0  # hops since the first sound
        self._held = 0  # updates the current level has held with a clear pulse (minus fading)
        self._acquiring = True  # no level has locked yet: follow the best at once
        self._window_heard = 0
        self._rival = 0.0  # a different tempo that keeps winning ...
        self._rival_wins = 0  # ... for this many updates in a row
        self._slots = np.zeros(BEATS_PER_BAR)  # mean accent at the start of each beat slot
        self._slot_peak = 0.0  # the strongest accent so far in the current beat's first quarter
        self._downbeat_slot = 0

    @property
    def tempo_bpm(self) -> float:
        return 60.0 * self.rate / self._period if self._period else 0.0

    @property
    def locked(self) -> bool:
        return self._held >= self.lock_updates

    def __call__(self, strength: float, accent: float = 0.0) -> BeatState:
        """Advance by one hop with this hop's onset strength (>= 0) and low-band accent (>= 0)."""
        self._env[:-1] = self._env[1:]
        # Strength is in units of the running 95th percentile; capped, because the first hits
        # after a silence (when the percentile is still tiny) would otherwise outweigh
        # everything else in the window for seconds.
        self._env[-1] = min(max(0.0, float(strength)), STRENGTH_CAP)
        self._accent[:-1] = self._accent[1:]
        self._accent[-1] = max(0.0, float(accent))
        self._n += 1
        if strength > 1e-6 or self._heard:
            self._heard += 1  # hops since the first sound: enough history to look for a period
        if self._n % self.update_every == 0 and self._heard >= self.min_heard:
            self._estimate()
        beat = downbeat = False
        if self._period:
            self._phase += 1.0 / self._period
            if self._phase >= 1.0 or self._wrapped:
                self._wrapped = False
                self._phase -= math.floor(self._phase)
                beat = True
                self._end_beat()
                self._beats += 1
                downbeat = self._beats % BEATS_PER_BAR == self._downbeat_slot
            elif self._phase < 0.25 + self.latency_hops / self._period:
                # The hit of this beat arrives in its first quarter (after the onset latency).
                self._slot_peak = max(self._slot_peak, float(accent))
        slot = (self._beats - self._downbeat_slot) % BEATS_PER_BAR
        bar_phase = (slot + self._phase) / BEATS_PER_BAR if self._period else 0.0
        return BeatState(self.tempo_bpm, self._phase, beat, self._confidence, self._beats, bar_phase, downbeat,
                         self._bar_confidence(), self.locked)

    # ---- bar ------------------------------------------------------------------------
    def _end_beat(self) -> None:
        """A beat ended: fold its accent into its slot's average and re-pick the downbeat."""
        slot = self._beats % BEATS_PER_BAR
        peak, self._slot_peak = self._slot_peak, 0.0
        if peak <= 1e-3:
            return  # a beat in a silence or a break says nothing about where the bar starts
        self._slots[slot] += 0.25 * (peak - self._slots[slot])
        best = int(np.argmax(self._slots))
        # Hysteresis: the downbeat moves only to a slot clearly stronger than the current one.
        if self._slots[best] > 1.2 * self._slots[self._downbeat_slot] + 1e-3:
            self._downbeat_slot = best

    def _bar_confidence(self) -> float:
        s = np.sort(self._slots)
        return float(np.clip((s[-1] - s[-2]) / max(s[-1], 1e-6), 0.0, 1.0)) if s[-1] > 1e-6 else 0.0

    # ---- estimation ----------------------------------------------------------------
    def _estimate(self) -> None:
        heard = min(self._n, self.window, self._heard)
        self._window_heard = heard
        env = self._env[-heard:]
        if float(env.max()) <= 1e-6:
            self._confidence *= 0.9  # silence: keep the tempo and phase running, trust them less
            return
        # A window spanning a silent break holds too few beats to re-measure the tempo:
        # the clock coasts on its old tempo and only re-finds the phase (over the whole
        # window, so the beats before the break still vote) until the break has passed.
        gap = _last_gap(env, int(self.rate))
        if gap is not None and self._period:
            self._pull_phase(self._comb(self._period, heard))
            return
        salience = self._salience(env)
        if salience is None:
            return
        score = salience * self._prior
        k = int(np.argmax(score))
        if score[k] <= 0.0:
            return
        best = _refine(self._periods, score, k)
        if not self._period:
            self._period, self._held = best, 0
            self._confidence = _confidence(salience[k])
        else:
            # The current level's own best score (its tempo may have drifted a little).
            near = np.abs(self._periods / self._period - 1.0) <= 0.04
            j = int(np.flatnonzero(near)[np.argmax(score[near])]) if near.any() else k
            self._confidence = _confidence(salience[j])
            # Once locked, a rival at another metrical level (4/3, 3/2 of the tempo) is judged
            # on the music's evidence alone: the held level gets the rival's prior, so the
            # prior's slope cannot walk a held beat into another metre. Between octaves the
            # prior still counts (which octave is "the beat" is what it knows about).
            ratio = best / self._period
            octave = min(abs(ratio - 2.0), abs(ratio - 0.5)) < 0.1
            held = score[j] if octave else salience[j] * max(self._prior[j], self._prior[k])
            if abs(best / self._period - 1.0) <= 0.04 or (self.locked and held * self.margin >= score[k]):
                # Same level, or no clear winner over it: stay, and follow its drift (only
                # while the pulse is clear: in a vague passage the clock coasts).
                follow = 1.0 if self._acquiring else 0.3 if self._confidence >= 0.5 else 0.0
                self._period += follow * (_refine(self._periods, score, j) - self._period)
                self._rival_wins = 0
                self._hold()
            else:
                same = self._rival and abs(best / self._rival - 1.0) <= 0.04
                self._rival, self._rival_wins = best, (self._rival_wins + 1 if same else 1)
                self._hold()
                need = 3 if self._acquiring else self.relock_updates
                if self.locked:
                    need = self.octave_switch_updates if octave else self.switch_updates
                    if score[k] >= 2.0 * score[j]:
                        need //= 3  # the held level has all but vanished: follow sooner
                # Only a clear pulse may take over from a tempo once held (not a pad in a break).
                if self._rival_wins >= need and (self._acquiring or _confidence(salience[k]) >= 0.4):
                    self._period, self._held, self._rival_wins = best, 0, 0
                    self._confidence = _confidence(salience[k])
        self._pull_phase(self._comb(self._period, heard))

    def _hold(self) -> None:
        """The lock grows while the pulse is clear and the window holds a bar or two, and fades when it is not."""
        if self._confidence >= 0.5 and self._window_heard >= self.lock_window:
            self._held = min(self._held + 1, self.max_held)
            if self.locked:
                self._acquiring = False
        elif self._confidence < 0.25:
            self._held = max(self._held - 2, 0)

    def _salience(self, env: np.ndarray) -> np.ndarray | None:
        """How well a beat of each period explains the onsets: mean autocorrelation at 1..4 periods."""
        x = env - env.mean()
        n = x.size
        spec = np.fft.rfft(x, self._nfft)
        acf = np.fft.irfft(spec.real**2 + spec.imag**2, self._nfft)[:n]
        if acf[0] <= 1e-12:
            return None
        # Unbiased: a long lag overlaps fewer samples; only lags with half the window overlapping count.
        acf = acf / acf[0] * (n / np.maximum(n - np.arange(n), 1))
        total = np.zeros(self._periods.size)
        count = np.zeros(self._periods.size)
        for m in (1, 2, 3, 4):
            lag = m * self._periods
            ok = lag <= 0.5 * n
            if not ok.any():
                break
            total[ok] += _interp(acf, lag[ok])
            count[ok] += 1
        mean = np.where(count > 0, np.maximum(total, 0.0) / np.maximum(count, 1), 0.0)
        # Tie-breaker for evenly spaced pulses (equal eighths fit 2/3 tempo as well as the
        # beat): most music divides its beat in two, so onsets half a beat apart count a little.
        return mean + DUPLE_WEIGHT * np.maximum(_interp(acf, 0.5 * self._periods), 0.0)

    def _comb(self, period: float, heard: int) -> float:
        """Beat offset (hops before the newest sample) that collects the most onset strength.

        The kick accent joins in only where it has a clear pattern of its own at this
        period (a four-on-the-floor kick under off-beat bass and hats); in most recordings
        the sub band is diffuse and would only pull the beat off the hits.
        """
        env = self._env[-heard:]
        accent = self._accent[-heard:]
        profile = _phase_profile(accent, period)[1]
        typical = float(np.median(profile))
        if typical > 1e-6 and float(profile.max()) >= KICK_CONTRAST * typical:
            env = env + accent
        offsets, values = _phase_profile(env, period)
        best = int(np.argmax(values))
        if not self.locked:
            self._phase_rival_wins = 0
            return float(offsets[best])
        # Locked: stay near the phase the clock has while it explains the onsets nearly as
        # well as the best one (a passage with loud off-beats must not flip the beat), and
        # move to another only when it has won for a while.
        here = (self._phase * period - self.latency_hops) % period
        dist = np.abs((offsets - here + 0.5 * period) % period - 0.5 * period)
        near = dist <= PHASE_NEAR * period
        k = int(np.flatnonzero(near)[np.argmax(values[near])]) if near.any() else best
        if values[k] >= PHASE_KEEP * values[best]:
            self._phase_rival_wins = 0
            return float(offsets[k])
        self._phase_rival_wins += 1
        if self._phase_rival_wins >= self.phase_switch_updates:
            self._phase_rival_wins = 0
            return float(offsets[best])
        return float(offsets[k])

    def _pull_phase(self, offset: float) -> None:
        """Pull the oscillator toward a beat ``offset`` hops ago (half way each update)."""
        target = ((offset + self.latency_hops) / self._period) % 1.0
        err = (target - self._phase + 0.5) % 1.0 - 0.5
        phase = self._phase + 0.5 * err
        # Never lose or repeat a beat: a pull across the bar of the phase forward is this
        # hop's beat; one backward waits at the start of the beat instead of counting it again.
        if phase >= 1.0:
            self._phase, self._wrapped = phase - 1.0, True
        else:
            self._phase = max(phase, 0.0)


def _confidence(salience: float) -> float:
    """0..1 from a beat salience (mean autocorrelation): noise sits near 0, a steady groove near 0.5."""
    return float(np.clip((salience - 0.05) / 0.4, 0.0, 1.0))


def _interp(a: np.ndarray, pos: np.ndarray) -> np.ndarray:
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    hi = np.minimum(lo + 1, a.size - 1)
    return a[lo] * (1.0 - frac) + a[hi] * frac


def _refine(periods: np.ndarray, score: np.ndarray, k: int) -> float:
    """The peak of ``score`` near grid point ``k``, between grid points (parabola through three)."""
    if 0 < k < score.size - 1:
        a, b, c = score[k - 1], score[k], score[k + 1]
        den = a - 2.0 * b + c
        if den < 0.0:
            return float(periods[k] + 0.5 * (a - c) / den * (periods[1] - periods[0]))
    return float(periods[k])


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


def _phase_profile(env: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate beat offset (hops before the newest sample, half-hop steps), the
    mean envelope on a grid of that period through it."""
    n = env.size
    k = int((n - 2) // period)
    offsets = np.arange(0.0, period, 0.5)
    if k < 2:
        return offsets, np.zeros(offsets.size)
    pos = (n - 1) - offsets[:, None] - period * np.arange(k)[None, :]
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    vals = env[lo] * (1.0 - frac) + env[np.minimum(lo + 1, n - 1)] * frac
    # Onsets fire up to ~1.5 hops after the hit: take the best of a 3-hop neighbourhood too.
    vals = np.maximum(vals, env[np.maximum(lo - 1, 0)])
    return offsets, vals.mean(axis=1)


def _comb(env: np.ndarray, period: float) -> tuple[float, float]:
    """Best beat offset (hops before the newest sample) and its mean envelope value."""
    offsets, mean = _phase_profile(env, period)
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
    (time constant ``pull_s``), so it never jumps when the source changes or a tap lands.
    The *requested* source (``tempo/source``) and what actually drives the clock
    (``source``, for the HUD and OSC) follow these precedence rules:

    * ``tap``: tap tempo, each tap marking a beat (the analysis until there are two taps);
    * ``analysis``: the analyzer's tempo and phase (``FeatureFrame.tempo_bpm / beat_phase``),
      the manual tempo while the analysis has none;
    * ``manual``: a fixed tempo (``tempo/bpm``), free phase (taps still set the phase);
    * ``auto``: taps when there are recent ones (``tap_hold_s``), else the analysis,
      else the manual tempo.

    ``source`` is then ``"tap"``, ``"analysis"``, ``"manual"`` or ``"none"``. Bars: with the
    analyzer's ``bar_phase`` the bar lines follow its downbeat (``bar_offset``); the beat
    count itself never jumps.
    """

    def __init__(self, pull_s: float = 0.15, tap_hold_s: float = 30.0) -> None:
        self.pull_s = pull_s
        self.tap_hold_s = tap_hold_s
        self.taps = TapTempo()
        self.beats = 0.0
        self.bpm = 0.0
        self.source = "none"  # what drives the clock now (see the class doc)
        self.bar_offset = 0  # beats the bar lines sit after multiples of four
        self.running = True  # False while a leading clock's transport is stopped (``follow``)
        self._t: float | None = None

    def tap(self, t: float) -> None:
        self.taps.tap(t)

    def update(self, t: float, tempo_bpm: float, beat_phase: float, source: str = "auto",
               manual_bpm: float = 0.0, bar_phase: float | None = None) -> tuple[bool, bool]:
        """Advance to audio time ``t``; returns (a beat passed, a bar passed)."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        self.running = True
        bpm, phase, self.source = self._source(t, tempo_bpm, beat_phase, source, manual_bpm)
        before = self.beats
        if bpm > 0:
            self.beats += dt * bpm / 60.0
            if phase is not None:
                err = (phase - self.beats + 0.5) % 1.0 - 0.5
                self.beats += err * coefficient(self.pull_s, dt)
        if bar_phase is not None and self.source == "analysis":
            # The analyzer's bar position in beats; the offset is whole beats, so the bar
            # lines move to its downbeat without the beat count jumping.
            self.bar_offset = int(round(self.beats - BEATS_PER_BAR * bar_phase)) % BEATS_PER_BAR
        self.bpm = bpm
        beat = math.floor(self.beats) > math.floor(before)
        # Both sides with the current offset: moving the bar lines is not itself a bar.
        bar = (math.floor((self.beats - self.bar_offset) / BEATS_PER_BAR)
               > math.floor((before - self.bar_offset) / BEATS_PER_BAR))
        return beat, bar

    def follow(self, t: float, bpm: float, beats: float | None, playing: bool = True) -> tuple[bool, bool]:
        """Advance to ``t`` led by an external clock (``livegan.clock``: Link, MIDI clock, a tempo
        map): its tempo, and with ``beats`` its beat and bar phase (``lead_position``: a glide,
        never a jump). Stopped (``playing`` False), the count holds until the transport starts."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        before, start = self.beats, not self.running
        self.bpm, self.running = bpm, playing
        self.bar_offset = 0  # the leader's beat count is on its bar lines (Link's quantum, a map's first row)
        if playing and bpm > 0:
            predicted = before + dt * bpm / 60.0
            self.beats = predicted if beats is None else lead_position(before, predicted, beats, dt, self.pull_s,
                                                                       start)
        beat = math.floor(self.beats) > math.floor(before)
        bar = math.floor(self.beats / BEATS_PER_BAR) > math.floor(before / BEATS_PER_BAR)
        return beat, bar

    @property
    def bar_beats(self) -> float:
        """Beats counted from a bar line (``bar_beats % 4`` is the position in the bar)."""
        return self.beats - self.bar_offset

    def next_bar_time(self, t: float, beats_per_bar: int = BEATS_PER_BAR) -> float:
        """Audio time of the next bar line after ``t`` (``t`` itself without a tempo).

        For bar-quantised changes: a preset load asked for now waits until then.
        """
        if self.bpm <= 0 or self._t is None:
            return t
        to_go = beats_per_bar - (self.bar_beats % beats_per_bar)
        return self._t + to_go * 60.0 / self.bpm

    def _source(self, t: float, tempo_bpm: float, beat_phase: float, source: str,
                manual_bpm: float) -> tuple[float, float | None, str]:
        tap_bpm = self.taps.bpm
        recent = bool(self.taps.taps) and t - self.taps.taps[-1] <= self.tap_hold_s
        if source == "tap" or (source == "auto" and tap_bpm and recent):
            if tap_bpm:
                return tap_bpm, self.taps.phase(t), "tap"
        if source in ("analysis", "auto", "tap") and tempo_bpm > 0:
            return tempo_bpm, beat_phase, "analysis"
        if manual_bpm > 0:
            phase = ((t - self.taps.taps[-1]) * manual_bpm / 60.0) % 1.0 if self.taps.taps else None
            return manual_bpm, phase, "manual"
        return 0.0, None, "none"
