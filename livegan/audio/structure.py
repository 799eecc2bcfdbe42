"""A causal build-up / drop and section-change detector, one step per analysis hop.

It reads the analyzer's normalised levels (about 0..1):

* **build-up**: the bass has gone (kick out) while the highs keep rising: the ratio of
  a short to a long follower of the high band (a riser, a snare roll) says how fast it
  rises; ``build`` integrates that slowly, so a long riser builds more than a fill.
* **drop**: the bass comes back hard after a lull. A lull of ``lull_s`` is enough on its
  own; after a build-up (the emphasis) a much shorter one is. Nothing counts as a drop
  until loud music has been heard once (the first kick of a track is not a drop).
* **section change**: the novelty between short and long followers of the timbre
  (levels, bands, brightness) crosses a threshold; every drop also starts a section.

Followers are one-pole filters at the hop rate, so the result depends only on the
sequence of frames (block-wise and whole-file analysis agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StructureState:
    build: float  # 0..1
    drop: bool
    section: bool
    novelty: float


class StructureDetector:
    def __init__(self, rate: float, lull_s: float = 2.0, refractory_s: float = 4.0,
                 novelty_threshold: float = 1.0) -> None:
        self.dt = 1.0 / float(rate)
        self.lull_s = lull_s
        self.refractory_s = refractory_s
        self.novelty_threshold = novelty_threshold
        self._a = {name: 1.0 - math.exp(-self.dt / tau) for name, tau in
                   (("low", 0.08), ("hi_short", 0.5), ("hi_long", 3.0), ("build_up", 1.5),
                    ("build_down", 0.3), ("tim_short", 1.0), ("tim_long", 6.0))}
        self.reset()

    def reset(self) -> None:
        self.t = 0.0
        self._low = 0.0
        self._hi_short = 0.0
        self._hi_long = 0.0
        self._build = 0.0
        self._build_peak = 0.0  # the strongest build since the bass went
        self._lull = 0.0  # seconds the bass has been away
        self._heard_loud = False
        self._since_drop = math.inf
        self._since_section = math.inf
        self._tim_short: np.ndarray | None = None
        self._tim_long: np.ndarray | None = None
        self._novel = False  # novelty is above the threshold (sections fire on the rising edge)

    def __call__(self, rms: float, bands: tuple[float, ...], centroid: float) -> StructureState:
        a = self._a
        self.t += self.dt
        self._since_drop += self.dt
        self._since_section += self.dt
        low = 0.5 * (bands[0] + bands[1])
        self._low += a["low"] * (low - self._low)
        high = bands[3]
        self._hi_short += a["hi_short"] * (high - self._hi_short)
        self._hi_long += a["hi_long"] * (high - self._hi_long)

        bass_gone = self._low < 0.25
        if bass_gone:
            self._lull += self.dt
        rising = (self._hi_short - self._hi_long) / max(self._hi_long, 0.05)
        # A build needs the bass gone a while: the gap between two kicks is not a build-up.
        target = float(np.clip(2.0 * rising, 0.0, 1.0) * min(1.0, self._lull / 1.5)) if bass_gone else 0.0
        k = a["build_up"] if target > self._build else a["build_down"]
        self._build += k * (target - self._build)
        self._build_peak = max(self._build_peak, self._build)

        drop = False
        if self._low >= 0.35 and self._lull > 0.0:
            need = self.lull_s * (1.0 - 0.6 * float(np.clip((self._build_peak - 0.2) / 0.4, 0.0, 1.0)))
            if self._heard_loud and self._lull >= need and self._since_drop >= self.refractory_s:
                drop = True
                self._since_drop = 0.0
            self._lull = 0.0
            self._build = 0.0
        if self._lull == 0.0:
            self._build_peak = 0.0
        if rms > 0.5 and self._low >= 0.5:
            self._heard_loud = True

        novelty, section = self._novelty(rms, bands, centroid)
        if drop or (section and self._since_section >= self.refractory_s):
            section = True
            self._since_section = 0.0
        else:
            section = False
        return StructureState(self._build, drop, section, novelty)

    def _novelty(self, rms: float, bands: tuple[float, ...], centroid: float) -> tuple[float, bool]:
        """How far the last second's timbre is from the last several seconds'."""
        x = np.array([rms, *bands, centroid])
        if self._tim_short is None or self._tim_long is None:
            self._tim_short, self._tim_long = x.copy(), x.copy()
        self._tim_short += self._a["tim_short"] * (x - self._tim_short)
        self._tim_long += self._a["tim_long"] * (x - self._tim_long)
        novelty = float(np.abs(self._tim_short - self._tim_long).sum())
        above = novelty > self.novelty_threshold
        # Only once the long follower has seen enough to be a reference, and only on the
        # rising edge: a long transition is one section change, not one every few seconds.
        fire = above and not self._novel and self.t > 8.0
        self._novel = above if self.t > 8.0 else True
        return novelty, fire
