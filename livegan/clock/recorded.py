"""A recorded set's external clock, fed back to the conductor at the same instants.

A show led by Link or MIDI clock records, for every tick, what that clock said
(``clock.bin``). Replayed at the live ticks, each tick gets its own reading back, so the
beat clock (and every picture that depends on it) is the live one exactly; replayed at a
new frame rate, each frame gets the newest reading carried forward at its tempo.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from ..params.registry import Snapshot
from .external import ExternalTempo


class RecordedTempo:
    """A tempo source over a set's ticks (``times``, audio seconds) and their ``CLOCK_DTYPE`` rows."""

    def __init__(self, times: np.ndarray, rows: np.ndarray) -> None:
        self._times = [float(t) for t in times]
        self._readings = [
            ExternalTempo(float(r["bpm"]), None if math.isnan(r["beats"]) else float(r["beats"]), bool(r["playing"]),
                          r["source"].decode("ascii", "replace"), float(r["host"])) if r["lead"] else None
            for r in rows]

    def __call__(self, t: float, snap: Snapshot | None = None) -> ExternalTempo | None:
        k = bisect.bisect_right(self._times, t) - 1
        if k < 0 or self._readings[k] is None:
            return None
        reading = self._readings[k]
        dt = t - self._times[k]
        return reading.at(dt) if dt > 0 else reading  # at a live tick: its own reading, untouched


def recorded_tempo(recorded) -> RecordedTempo | None:
    """The set's external clock as a tempo source (None when the show had none)."""
    if recorded.clock is None:
        return None
    return RecordedTempo(recorded.ticks["t"], recorded.clock)
