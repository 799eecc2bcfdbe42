"""One-pole smoothing: the one primitive behind every envelope, glide and decay in livegan.

Coefficients come from a time constant in seconds and the step actually taken, so a
value moves the same way in seconds at 24, 30 or 60 frames per second, or per analysis
hop. ``tau <= 0`` means "no smoothing": the target is taken at once (and a decay drops
to zero).
"""

from __future__ import annotations

import math

import numpy as np


def coefficient(tau: float, dt: float) -> float:
    """How far (0..1) a one-pole smoother with time constant ``tau`` moves in a step of ``dt``."""
    if tau <= 0.0:
        return 1.0
    if dt <= 0.0:
        return 0.0
    return 1.0 - math.exp(-dt / tau)


def approach(current: float, target: float, dt: float, tau: float) -> float:
    """``current`` moved toward ``target`` over ``dt`` seconds."""
    return current + (target - current) * coefficient(tau, dt)


def approach_array(current: np.ndarray, target: np.ndarray, dt: float, tau: float) -> np.ndarray:
    """``approach`` for arrays (a new array)."""
    return current + (np.asarray(target, dtype=np.float64) - current) * coefficient(tau, dt)


def attack_release(current: float, target: float, dt: float, attack: float, release: float) -> float:
    """Rise with ``attack``, fall with ``release``."""
    return approach(current, target, dt, attack if target > current else release)


def decay(value: float, dt: float, tau: float) -> float:
    """``value`` decayed toward zero over ``dt`` seconds."""
    return approach(value, 0.0, dt, tau)


class Envelope:
    """An attack / release follower; events jump up at once and decay with the release."""

    def __init__(self, attack: float, release: float) -> None:
        self.attack, self.release = attack, release
        self.value = 0.0

    def follow(self, target: float, dt: float) -> float:
        self.value = attack_release(self.value, target, dt, self.attack, self.release)
        return self.value

    def trigger(self, strength: float, dt: float) -> float:
        self.value = max(decay(self.value, dt, self.release), strength)
        return self.value
