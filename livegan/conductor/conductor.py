"""The conductor: a performance (model-free time state) driving a latent rig (one generator).

``Conductor.step`` is what a renderer calls once per frame: features + parameter snapshot
+ audio time -> ``GeneratorInputs``. The Session builds it (``livegan.session``); a model
swap replaces the rig and keeps the performance, so the groove and the beat clock carry on.
"""

from __future__ import annotations

from typing import Sequence

from ..audio.features import FeatureFrame
from ..params.registry import Snapshot
from .inputs import GeneratorInputs
from .performance import Groove, Performance
from .rig import LatentRig


class Conductor:
    """One performance and the rig it currently drives."""

    def __init__(self, performance: Performance, rig: LatentRig) -> None:
        self.performance = performance
        self.rig = rig
        self.last: Groove | None = None  # the newest groove (owned by the calling thread)

    def step(self, features: FeatureFrame | Sequence[FeatureFrame], snap: Snapshot, t: float) -> GeneratorInputs:
        groove = self.performance.step(features, snap, t)
        self.last = groove
        return self.rig.inputs(groove)

    def with_rig(self, rig: LatentRig) -> "Conductor":
        """The same performance driving another generator (a model swap)."""
        return Conductor(self.performance, rig)
