"""Attack/release envelope followers with frame-rate independent coefficients."""

from __future__ import annotations

import numpy as np

from ..smoothing import coefficient


def smoothing_coefficient(time_constant_s: float, step_s: float) -> float:
    """The per-step blend factor of a one-pole smoother with the given time constant.

    Derived from the time constant rather than fixed per frame, so the envelope has
    the same shape in seconds whatever the hop size or sample rate.
    """
    return coefficient(time_constant_s, step_s)


class EnvelopeFollower:
    """A vector of one-pole followers that rise with ``attack_s`` and fall with ``release_s``."""

    def __init__(self, size: int, attack_s: float, release_s: float, step_s: float) -> None:
        self._attack = smoothing_coefficient(attack_s, step_s)
        self._release = smoothing_coefficient(release_s, step_s)
        self._state = np.zeros(size, dtype=np.float64)

    @property
    def value(self) -> np.ndarray:
        return self._state

    def reset(self) -> None:
        self._state[:] = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Advance one step towards ``x`` and return the new envelope (a view; copy to keep)."""
        diff = x - self._state
        coef = np.where(diff > 0.0, self._attack, self._release)
        self._state += coef * diff
        return self._state
