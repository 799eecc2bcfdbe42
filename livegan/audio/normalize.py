"""Running normalisation: divide each feature by a rolling high percentile of its history."""

from __future__ import annotations

import numpy as np


class RunningNormalizer:
    """Maps a vector of non-negative features into 0..1 whatever the input loudness.

    Each feature is divided by the ``percentile`` of its last ``window`` values (or by
    ``floor`` when that is larger, so silence and noise far below ``floor`` stay near 0)
    and clipped to 1. The percentile is refreshed every ``refresh`` steps: a partition
    over ~10 s of history every hop would cost more than the rest of the analysis.
    Everything depends only on the step count, so results do not depend on how the
    input was split into blocks.
    """

    def __init__(self, floor: np.ndarray, window: int, percentile: float = 95.0, refresh: int = 8) -> None:
        self._floor = np.asarray(floor, dtype=np.float64).copy()
        if window < 1 or refresh < 1 or not 0.0 < percentile <= 100.0:
            raise ValueError("window and refresh must be >= 1, percentile in (0, 100]")
        self._history = np.zeros((self._floor.size, window), dtype=np.float64)
        self._percentile = percentile
        self._refresh = refresh
        self._count = 0
        self._scale = self._floor.copy()

    @property
    def scale(self) -> np.ndarray:
        """The current divisor per feature (>= floor)."""
        return self._scale

    def reset(self) -> None:
        self._history[:] = 0.0
        self._count = 0
        self._scale = self._floor.copy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        window = self._history.shape[1]
        self._history[:, self._count % window] = x
        self._count += 1
        if (self._count - 1) % self._refresh == 0:
            n = min(self._count, window)
            k = int(round(self._percentile / 100.0 * (n - 1)))
            level = np.partition(self._history[:, :n], k, axis=1)[:, k]
            self._scale = np.maximum(level, self._floor)
        return np.minimum(x / self._scale, 1.0)
