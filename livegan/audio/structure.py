"""A causal build-up / breakdown / drop and section detector, one step per analysis hop.

It reads the analyzer's normalised levels (about 0..1) *and* the absolute levels (dBFS of
the raw band followers), because running normalisation rescales every stretch of a few
seconds to full range: a bass-less intro looks as full as the groove after it.

* **low end**: the sub + low band power, followed over ~1 s (a groove, not single
  kicks), in dB; ``full`` is the fullest low end heard so far, slowly forgotten.
* **breakdown**: music plays but the low end is well below ``full`` (or, normalised,
  gone) for ``lull_s``; silence after music also counts.
* **build-up**: during a breakdown the highs keep rising (the ratio of a short to a long
  follower of the high band: a riser, a snare roll); ``build`` integrates that slowly.
* **drop**: the full groove arrives, i.e. the low end comes back to near ``full`` after a
  breakdown (a build-up shortens the breakdown needed), or rises well above what the
  music had for seconds before to a new high (silence -> sparse groove -> full groove:
  the drop is at the full groove, not at the first sound). The first sound of a track
  is never a drop.
* **section**: the novelty between short and long followers of the timbre (normalised
  levels, brightness, onset density, absolute band levels in dB) crosses a threshold;
  every drop also starts a section. ``section_confidence`` says how far it crossed.

Followers are one-pole filters at the hop rate, so the result depends only on the
sequence of frames (block-wise and whole-file analysis agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..smoothing import coefficient

FLOOR_DB = -80.0  # absolute levels below this count as silence
BREAK_DB = 9.0  # low end this far under the fullest groove: a breakdown
FULL_DB = 4.0  # ... and back within this of it: the full groove is back
RISE_DB = 9.0  # a new fullest low end this far above the last seconds: the full groove arrives
NOVELTY_DB = 40.0  # band levels count from this far under the loudest level: a change over all of it adds 1


@dataclass(frozen=True)
class StructureState:
    build: float  # 0..1
    drop: bool
    section: bool
    novelty: float
    breakdown: bool = False  # music without its low end (or a silence after music) for a while
    section_confidence: float = 0.0  # 0..1 when ``section`` fires, else 0


def _db(power: float) -> float:
    return max(10.0 * math.log10(power), FLOOR_DB) if power > 0.0 else FLOOR_DB


class StructureDetector:
    def __init__(self, rate: float, lull_s: float = 2.0, refractory_s: float = 4.0,
                 novelty_threshold: float = 1.0) -> None:
        self.dt = 1.0 / float(rate)
        self.lull_s = lull_s
        self.refractory_s = refractory_s
        self.novelty_threshold = novelty_threshold
        self._a = {name: coefficient(tau, self.dt) for name, tau in
                   (("low", 0.08), ("groove", 1.0), ("before", 3.0), ("hi_short", 0.5), ("hi_long", 3.0),
                    ("build_up", 1.5), ("build_down", 0.3), ("tim_short", 1.0), ("tim_long", 6.0),
                    ("density", 1.0))}
        # The fullest low end fades this many dB per second (slowly adapted: a quieter
        # second half of a set becomes the new reference within a minute or two).
        self._full_decay_db = 0.1 * self.dt
        self.reset()

    def reset(self) -> None:
        self.t = 0.0
        self._low = 0.0
        self._groove = 0.0  # low-end power, ~0.4 s
        self._before = FLOOR_DB  # low end in dB, ~3 s (what the music had lately)
        self._loud = FLOOR_DB  # the loudest overall level so far (dB), slowly forgotten
        self._full = FLOOR_DB  # the fullest low end so far (dB), slowly forgotten
        self._hi_short = 0.0
        self._hi_long = 0.0
        self._build = 0.0
        self._build_peak = 0.0  # the strongest build since the bass went
        self._lull = 0.0  # seconds the low end has been away
        self._music_s = 0.0  # seconds of sound heard so far
        self._heard_loud = False
        self._since_drop = math.inf
        self._since_section = math.inf
        self._density = 0.0  # onsets per second
        self._tim_short: np.ndarray | None = None
        self._tim_long: np.ndarray | None = None
        self._novel = False  # novelty is above the threshold (sections fire on the rising edge)
        self._jump = 0.0

    def __call__(self, rms: float, bands: tuple[float, ...], centroid: float,
                 levels: tuple[float, ...] | None = None, onset: bool = False) -> StructureState:
        """One hop: normalised ``rms``/``bands``/``centroid``; ``levels`` = absolute RMS of
        (overall, sub, low, mid, high) in full-scale units (the normalised values stand in
        when not given)."""
        a = self._a
        self.t += self.dt
        self._since_drop += self.dt
        self._since_section += self.dt
        if levels is None:
            levels = (rms, *bands)
        level_db = _db(float(levels[0]) ** 2)
        low_power = float(levels[1]) ** 2 + float(levels[2]) ** 2
        self._groove += a["groove"] * (low_power - self._groove)
        groove_db = _db(self._groove)
        # Followed in dB: a kick's power must not drag "the last seconds" up at once. Over
        # the first seconds of sound it just follows (a track's start is no rise).
        self._before += (a["before"] if self._music_s >= self.lull_s else 1.0) * (groove_db - self._before)
        before_db = self._before
        self._loud = max(level_db, self._loud - self._full_decay_db)
        sounding = level_db > FLOOR_DB + 1.0
        if sounding:
            self._music_s += self.dt

        low = 0.5 * (bands[0] + bands[1])
        self._low += a["low"] * (low - self._low)
        high = bands[3]
        self._hi_short += a["hi_short"] * (high - self._hi_short)
        self._hi_long += a["hi_long"] * (high - self._hi_long)

        # The fullest low end so far: rises at once, fades slowly.
        new_high = groove_db > self._full
        self._full = groove_db if new_high else self._full - self._full_decay_db
        weak = groove_db <= self._full - BREAK_DB
        bass_gone = self._low < 0.25 or (weak and self._heard_loud)
        if bass_gone:
            self._lull += self.dt
        rising = (self._hi_short - self._hi_long) / max(self._hi_long, 0.05)
        # A build needs the bass gone a while: the gap between two kicks is not a build-up.
        target = float(np.clip(2.0 * rising, 0.0, 1.0) * min(1.0, self._lull / 1.5)) if bass_gone else 0.0
        k = a["build_up"] if target > self._build else a["build_down"]
        self._build += k * (target - self._build)
        self._build_peak = max(self._build_peak, self._build)

        drop = False
        back = self._low >= 0.35 and groove_db >= self._full - FULL_DB
        if back and self._lull > 0.0:
            need = self.lull_s * (1.0 - 0.6 * float(np.clip((self._build_peak - 0.2) / 0.4, 0.0, 1.0)))
            if self._heard_loud and self._lull >= need:
                drop = True
            self._lull = 0.0
            self._build = 0.0
        # The full groove arriving over a quieter start: a new fullest low end, well above
        # what the last seconds had, after seconds of music (never the first sound).
        if new_high and groove_db - before_db >= RISE_DB and self._music_s >= self.lull_s:
            drop = True
        if drop and self._since_drop < self.refractory_s:
            drop = False
        if drop:
            self._since_drop = 0.0
            self._before = groove_db  # this rise is spent: the next drop needs a new one
        if self._lull == 0.0:
            self._build_peak = 0.0
        if rms > 0.5 and self._low >= 0.5:
            self._heard_loud = True
        breakdown = self._heard_loud and self._lull >= self.lull_s

        self._density += a["density"] * ((1.0 / self.dt if onset else 0.0) - self._density)
        novelty, section = self._novelty(rms, bands, centroid, levels)
        confidence = 0.0
        if drop or (section and self._since_section >= self.refractory_s):
            section = True
            self._since_section = 0.0
            # A change that is sudden and large (the instant far from the last seconds) is a
            # surer boundary than a slow drift that just crossed the threshold.
            confidence = 1.0 if drop else float(np.clip(0.5 * novelty / self.novelty_threshold
                                                        + self._jump / (8.0 * self.novelty_threshold), 0.0, 1.0))
        else:
            section = False
        return StructureState(self._build, drop, section, novelty, breakdown, confidence)

    def _novelty(self, rms: float, bands: tuple[float, ...], centroid: float,
                 levels: tuple[float, ...]) -> tuple[float, bool]:
        """How far the last second's timbre is from the last several seconds'."""
        # Absolute band levels against the loudest so far: a bass entry after a bass-less
        # intro moves these by most of their range, whatever normalisation made of it.
        band_db = [min(max(_db(float(v) ** 2) - self._loud, -NOVELTY_DB), 0.0) / NOVELTY_DB for v in levels[1:5]]
        density = min(self._density / 8.0, 1.0)  # onsets per second, 8/s = 1
        x = np.array([rms, *bands, centroid, density, *band_db])
        if self._tim_short is None or self._tim_long is None:
            self._tim_short, self._tim_long = x.copy(), x.copy()
        # Over the first seconds both are running means (from the first frame on a one-pole
        # follower would keep the track's first instant as its reference for seconds).
        start = self.dt / max(self.t, self.dt)
        self._tim_short += max(self._a["tim_short"], start) * (x - self._tim_short)
        self._tim_long += max(self._a["tim_long"], start) * (x - self._tim_long)
        novelty = float(np.abs(self._tim_short - self._tim_long).sum())
        self._jump = float(np.abs(x - self._tim_long).sum())  # this instant against the last seconds
        above = novelty > self.novelty_threshold
        # Only once the long follower has seen enough to be a reference, and only on the
        # rising edge: a long transition is one section change, not one every few seconds
        # (re-armed once the novelty has settled well under the threshold).
        fire = above and not self._novel and self.t > 8.0
        if self.t <= 8.0 or above:
            self._novel = True
        elif novelty < 0.5 * self.novelty_threshold:
            self._novel = False
        return novelty, fire
