"""Preset changes that land on the music's beat or bar, as clip launches do in a DAW.

The display thread holds a requested preset until the beat clock reaches the next beat or bar
line. The clock is the conductor's (taps, manual tempo or analysis, whatever drives the
visuals), read as a continuous beat position. Without a running clock (no tempo yet) the
change is immediate: a VJ pressing a button must always see something happen. If the clock
stops while a change waits, the change still lands when the line was due (plus a little slack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..audio.features import Clock

T = TypeVar("T")
BEATS_PER_BAR = 4
_SLACK_S = 0.25
_MODE_BEATS = {"beat": 1, "bar": BEATS_PER_BAR}


@dataclass
class _Pending(Generic[T]):
    item: T
    target: float  # the beat position it lands on
    deadline: float  # wall-clock time after which it lands regardless


def next_line(beats: float, mode: str) -> float:
    """The next beat or bar line after ``beats`` (exactly on a line counts as reached)."""
    n = _MODE_BEATS[mode]
    return (math.floor(beats / n) + 1) * n


class Quantizer(Generic[T]):
    """Holds one pending change (a newer request replaces it) until its line."""

    def __init__(self) -> None:
        self._pending: _Pending[T] | None = None

    @property
    def waiting(self) -> T | None:
        return self._pending.item if self._pending else None

    def request(self, item: T, mode: str, clock: Clock | None, now: float) -> T | None:
        """Queue ``item``; returns it at once when it need not wait (then nothing is pending)."""
        if mode not in _MODE_BEATS or clock is None or clock.bpm <= 0.0:
            self._pending = None
            return item
        target = next_line(clock.beats, mode)
        self._pending = _Pending(item, target, now + (target - clock.beats) * 60.0 / clock.bpm + _SLACK_S)
        return None

    def due(self, clock: Clock | None, now: float) -> T | None:
        """The pending item once the clock reaches its line (or its deadline passes), else None."""
        p = self._pending
        if p is None:
            return None
        if (clock is not None and clock.beats >= p.target) or now >= p.deadline:
            self._pending = None
            return p.item
        return None
