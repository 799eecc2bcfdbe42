"""Causal onset picking on a spectral-flux curve with an adaptive threshold."""

from __future__ import annotations

import numpy as np


class OnsetPicker:
    """Fires when flux rises above median + k * MAD of its recent history.

    ``min_rise`` (a fraction of the flux's running scale) keeps tiny wiggles in quiet
    passages from counting; after firing, the picker waits ``min_gap`` steps and for the
    flux to fall back under the threshold, because one hit spreads over several
    overlapping analysis windows.
    """

    def __init__(self, history: int, k: float, min_gap: int, min_rise: float) -> None:
        self._history = np.zeros(history, dtype=np.float64)
        self._k = k
        self._min_gap = min_gap
        self._min_rise = min_rise
        self._count = 0
        self._since = min_gap  # steps since the last onset
        self._armed = True

    def reset(self) -> None:
        self._history[:] = 0.0
        self._count = 0
        self._since = self._min_gap
        self._armed = True

    def __call__(self, flux: float, scale: float) -> tuple[bool, float]:
        """One step: returns (onset fired, strength above threshold in units of ``scale``, 0..1)."""
        n = min(self._count, self._history.size)
        recent = self._history[:n] if n < self._history.size else self._history
        if n:
            med = float(np.median(recent))
            mad = float(np.median(np.abs(recent - med)))
        else:
            med = mad = 0.0
        threshold = med + self._k * mad + self._min_rise * scale
        self._history[self._count % self._history.size] = flux
        self._count += 1
        self._since += 1
        fired = False
        if flux <= threshold:
            self._armed = True
        elif self._armed and self._since >= self._min_gap:
            fired = True
            self._armed = False
            self._since = 0
        strength = min((flux - threshold) / scale, 1.0) if fired else 0.0
        return fired, strength
