"""Tolerances for comparing float32 results that came from different code paths.

Two computations of the same sum in a different order (another batch size, another SIMD
kernel, AVX2 vs AVX-512, another thread split) round differently. Each rounding is at most
half an ulp of the running value; over ``terms`` additions the errors add like a random walk,
so the difference stays within a few ulps of the magnitude times sqrt(terms). ``ulps`` = 8
leaves room for the products' own rounding and for a couple of chained operations.
"""

from __future__ import annotations

import math

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)  # 2**-23: one ulp at 1.0


def f32_tolerance(magnitude: float, terms: int = 1, ulps: float = 8.0) -> float:
    """Largest expected |a - b| between two float32 evaluations of sums of ``terms`` terms whose
    values reach ``magnitude``."""
    return ulps * EPS32 * max(magnitude, 1e-30) * math.sqrt(max(terms, 1))
