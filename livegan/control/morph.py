"""Morphing between presets over seconds or beats.

Numbers glide linearly; switches (bools, enums, strings) flip half way. A morph can be
stepped by whoever owns the clock (``step(now)``, deterministic for offline work) or run
in its own short-lived thread on the wall clock (``start_thread``), which is what a
controller's "morph to preset" does live. Each step goes through the registry, so a
recorded set replays the morph exactly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..conductor.preset import SHOW_CONTROLS, Preset, preset_values
from ..params.registry import ParamRegistry

SHOW_KEEP = SHOW_CONTROLS  # a morph leaves alone what a preset load leaves alone


@dataclass(frozen=True)
class Morph:
    start: Mapping[str, Any]
    target: Mapping[str, Any]
    duration: float  # seconds

    def values_at(self, elapsed: float) -> dict[str, Any]:
        frac = 1.0 if self.duration <= 0 else min(max(elapsed / self.duration, 0.0), 1.0)
        out: dict[str, Any] = {}
        for name, b in self.target.items():
            a = self.start.get(name, b)
            if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
                    or not isinstance(b, (int, float)):
                out[name] = b if frac >= 0.5 else a
            elif isinstance(b, int):
                out[name] = int(round(a + (b - a) * frac))
            else:
                out[name] = float(a + (b - a) * frac)
        return out


def preset_targets(registry: ParamRegistry, preset: Preset, keep: tuple[str, ...] = SHOW_KEEP) -> dict[str, Any]:
    """The values loading ``preset`` would leave: its own, and defaults for everything else.

    The preset's name is not among them: it changes when the morph lands and the preset loads.
    """
    return {k: v for k, v in preset_values(registry, preset, keep).items() if k != "preset/name"}


class MorphRunner:
    """Applies at most one morph at a time to a registry."""

    def __init__(self, registry: ParamRegistry, clock: Callable[[], float] = time.monotonic,
                 bpm: Callable[[], float] | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.bpm = bpm or self._registry_bpm
        self._lock = threading.Lock()
        self._morph: Morph | None = None
        self._t0 = 0.0
        self._last: dict[str, Any] = {}
        self._generation = 0

    def _registry_bpm(self) -> float:
        for name in ("tempo/bpm", "tempo/tempo"):
            if name in self.registry:
                v = self.registry.get(name)
                if isinstance(v, (int, float)) and v > 0:
                    return float(v)
        return 120.0

    def seconds(self, amount: float, unit: str) -> float:
        return amount * 60.0 / self.bpm() if unit == "beats" else amount

    def start(self, target: Mapping[str, Any], duration_s: float, now: float | None = None) -> None:
        """Begin a morph from the current values to ``target`` (replaces a running one)."""
        current = self.registry.peek().values
        start = {k: current[k] for k in target if k in current}
        with self._lock:
            self._morph = Morph(start, dict(target), max(0.0, duration_s))
            self._t0 = self.clock() if now is None else now
            self._last = dict(start)
            self._generation += 1

    @property
    def active(self) -> bool:
        return self._morph is not None

    def cancel(self) -> None:
        """Stop the running morph where it is (its thread ends at its next step)."""
        with self._lock:
            self._morph = None
            self._generation += 1

    @property
    def generation(self) -> int:
        """Counts started morphs: tells whether the one a caller started is still the latest."""
        return self._generation

    def step(self, now: float | None = None) -> bool:
        """Apply the values for ``now``; returns whether the morph is still running."""
        with self._lock:
            morph = self._morph
            if morph is None:
                return False
            t = (self.clock() if now is None else now) - self._t0
            values = morph.values_at(t)
            changed = {k: v for k, v in values.items() if self._last.get(k) != v}
            self._last.update(changed)
            done = t >= morph.duration
            if done:
                self._morph = None
        if changed:
            self.registry.update({k: v for k, v in changed.items() if k in self.registry}, source="morph")
        return not done

    def start_thread(self, target: Mapping[str, Any], duration_s: float, rate_hz: float = 60.0) -> threading.Thread:
        """Start a morph and step it on the wall clock in a daemon thread until it ends or is replaced."""
        self.start(target, duration_s)
        gen = self._generation

        def run() -> None:
            while self._generation == gen and self.step():
                time.sleep(1.0 / rate_hz)

        th = threading.Thread(target=run, name="livegan-morph", daemon=True)
        th.start()
        return th
