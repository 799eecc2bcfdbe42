"""Scoring a tempo clock against a reference tempo (MIREX accuracies, lock time, hold).

A causal clock reports a tempo at every hop; these functions turn that curve into the
numbers the beat benchmark (``tools/bench_beat.py``) and ``livegan analyze`` report:

* **Acc1** (MIREX): the settled tempo is within 4 % of the reference;
* **Acc2**: within 4 % of the reference times 1, 2, 3, 1/2 or 1/3 (the right pulse at
  another metrical level);
* **lock time**: the first time from which the curve stays within 2 % of the level it
  settles on for ``hold_s`` seconds;
* **locked fraction**: after the lock, the share of hops within 2 % of that level.

The settled tempo is the median over the second half, the headline of ``livegan analyze``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACC_TOLERANCE = 0.04  # MIREX
LOCK_TOLERANCE = 0.02
LEVELS = (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0)


def settled_tempo(times: np.ndarray, tempo: np.ndarray) -> float:
    """The median tempo over the second half of the analysed time (0 when none)."""
    times, tempo = np.asarray(times, float), np.asarray(tempo, float)
    if times.size == 0:
        return 0.0
    half = tempo[times >= 0.5 * (times[0] + times[-1])]
    return float(np.median(half)) if half.size else 0.0


def matching_level(estimate: float, reference: float, tol: float = ACC_TOLERANCE) -> float | None:
    """The metrical factor (1, 2, 3, 1/2, 1/3) whose tempo ``estimate`` matches, else None."""
    if estimate <= 0 or reference <= 0:
        return None
    for k in LEVELS:
        if abs(estimate - k * reference) <= tol * k * reference:
            return k
    return None


def lock_time(times: np.ndarray, tempo: np.ndarray, target: float, tol: float = LOCK_TOLERANCE,
              hold_s: float = 5.0) -> float | None:
    """The first time from which ``tempo`` stays within ``tol`` of ``target`` for ``hold_s``."""
    times, tempo = np.asarray(times, float), np.asarray(tempo, float)
    good = np.abs(tempo - target) <= tol * target
    if not good.any():
        return None
    # Start of each run of good hops, and where that run ends.
    i = 0
    n = good.size
    while i < n:
        if not good[i]:
            i += 1
            continue
        j = i
        while j < n and good[j]:
            j += 1
        end_t = times[j] if j < n else times[-1] + (times[-1] - times[-2] if n > 1 else 0.0)
        if end_t - times[i] >= hold_s or j == n:
            return float(times[i])
        i = j
    return None


@dataclass(frozen=True)
class TempoScore:
    estimate: float  # settled tempo (BPM)
    acc1: bool
    acc2: bool
    level: float | None  # the metrical factor the clock settled on
    lock_s: float | None
    locked_fraction: float  # after the lock, hops within 2 % of the settled level

    def as_dict(self) -> dict:
        return {"estimate_bpm": round(self.estimate, 2), "acc1": self.acc1, "acc2": self.acc2,
                "level": None if self.level is None else round(self.level, 3),
                "lock_s": None if self.lock_s is None else round(self.lock_s, 2),
                "locked_fraction": round(self.locked_fraction, 4)}


def score_tempo(times: np.ndarray, tempo: np.ndarray, reference: float) -> TempoScore:
    """Acc1, Acc2, lock time and locked fraction of one tempo curve against ``reference`` BPM."""
    times, tempo = np.asarray(times, float), np.asarray(tempo, float)
    est = settled_tempo(times, tempo)
    level = matching_level(est, reference)
    if level is None:
        return TempoScore(est, False, False, None, None, 0.0)
    target = level * reference
    lock = lock_time(times, tempo, target)
    frac = 0.0
    if lock is not None:
        after = times >= lock
        frac = float(np.mean(np.abs(tempo[after] - target) <= LOCK_TOLERANCE * target))
    return TempoScore(est, level == 1.0, True, level, lock, frac)
