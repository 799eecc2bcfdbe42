"""Replaying a recorded set: its features, its parameter changes, its display values.

Three pieces, each a pure function of the set:

* ``replay_features``: the recorded audio through the same Analyzer, block by block as live
  heard it (the recorded gain per stretch, features stamped on the live clock);
* ``SetReplayer``: the recorded changes into a registry before each tick's snapshot;
* ``ValuesBySeq``: the registry values the display drew a frame with (by sequence number).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterator

import numpy as np

from ..audio.features import FeatureFrame
from ..params.registry import ParamChange, ParamRegistry
from .setfile import AnalysisSegment, RecordedSet

log = logging.getLogger("livegan.record")


def replay_features(recorded: RecordedSet) -> list[FeatureFrame]:
    """Every analysis hop of the set, stamped on the live clock, exactly as live computed it."""
    from ..audio.analyzer import Analyzer  # noqa: PLC0415

    samples = recorded.audio.samples
    mono = samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 \
        else samples[:, 0]
    sr = recorded.sample_rate
    segments = list(recorded.segments) or [AnalysisSegment(0, 1.0, 0)]
    analyzer = Analyzer(sr)
    out: list[FeatureFrame] = []
    for k, seg in enumerate(segments):
        end = segments[k + 1].pos if k + 1 < len(segments) else len(mono)
        block = mono[seg.pos:end]
        frames = analyzer.process(block * seg.gain if seg.gain != 1.0 else block)
        if seg.offset:
            frames = [dataclasses.replace(f, sample_pos=f.sample_pos + seg.offset,
                                          time=(f.sample_pos + seg.offset) / sr) for f in frames]
        out.extend(frames)
    return out


def apply_changes_until(registry: ParamRegistry, changes: tuple[ParamChange, ...], t: float,
                        cursor: int = 0, skipped: set[str] | None = None) -> int:
    """Apply ``changes[cursor:]`` with time ``<= t`` in order; return the new cursor."""
    n = len(changes)
    while cursor < n and changes[cursor].audio_time <= t:
        ch = changes[cursor]
        cursor += 1
        if ch.name not in registry:
            if skipped is not None and ch.name not in skipped:
                skipped.add(ch.name)
                log.warning("replay: %s is not declared here; its changes are skipped", ch.name)
            continue
        if registry.spec(ch.name).readonly:  # the show's own readings: the replay makes them anew
            continue
        registry.set(ch.name, ch.value, source=ch.source or "replay", audio_time=ch.audio_time)
    return cursor


class SetReplayer:
    """Feeds a recorded set's parameter changes into a registry as time advances.

    ``advance(t)`` runs before each tick's snapshot. The first call restores the values the
    set started with (over whatever preset the renderer applied).
    """

    def __init__(self, recorded: RecordedSet, registry: ParamRegistry) -> None:
        self.recorded = recorded
        self.registry = registry
        self.cursor = 0
        self.skipped: set[str] = set()
        self._started = False

    def reset(self) -> None:
        initial = {k: v for k, v in self.recorded.initial.items() if k in self.registry
                   and self.registry.spec(k).type != "trigger" and not self.registry.spec(k).readonly}
        self.skipped.update(k for k in self.recorded.initial if k not in self.registry)
        self.registry.update(initial, source="replay")
        self.registry.snapshot()  # drop triggers fired before the set began
        self.cursor = 0
        self._started = True

    def advance(self, t: float) -> None:
        if not self._started:
            self.reset()
        self.cursor = apply_changes_until(self.registry, self.recorded.changes, t, self.cursor, self.skipped)


class ValuesBySeq:
    """The values a live registry held at each sequence number (read forward only)."""

    def __init__(self, recorded: RecordedSet) -> None:
        self._values: dict[str, Any] = dict(recorded.initial)
        self._changes = sorted((c for c in recorded.changes), key=lambda c: c.seq)
        self._i = 0

    def at(self, seq: int) -> dict[str, Any]:
        while self._i < len(self._changes) and self._changes[self._i].seq <= seq:
            ch = self._changes[self._i]
            if ch.name in self._values or ch.value is not None:
                self._values[ch.name] = ch.value
            self._i += 1
        return self._values


def tick_features(features: list[FeatureFrame], positions: list[int], ticks: np.ndarray) -> Iterator[list[FeatureFrame]]:
    """For each tick, the hops it merged live: every hop since the previous tick's newest."""
    import bisect  # noqa: PLC0415

    prev = -1
    for pos in ticks["pos"]:
        k = bisect.bisect_right(positions, int(pos)) - 1
        if k > prev:
            yield features[prev + 1:k + 1]
            prev = k
        else:
            yield [features[k]] if k >= 0 else []
