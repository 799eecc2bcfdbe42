"""What the driver sends a worker for one chunk: the performance's cues, already stepped.

The performance (envelopes, smoothing, the beat clock) is sequential: frame ``i`` depends
on every frame before it. Stepping it costs well under a millisecond a frame with no model,
so the driver steps it once for the whole render and ships each chunk's cues (a few hundred
bytes a frame); a worker that stepped from frame 0 to its chunk would repeat that work for
every chunk (``tools/bench_ray.py`` measures both).

Effects with memory (``feedback``: it reads its own previous output) make a chunk's
pictures depend on the chunk before. A chunk during which no such effect is on is
independent; one during which one is on continues the previous chunk's effect state
(``ChunkPlan.stateful``), which the driver hands along the chunks in order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..gl.declarations import shader_folder
from ..render.offline import Cue

FEEDBACK_UNIFORM = "u_prev_output"  # gl/effects.py: an effect's own previous output


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    start: int  # first frame
    cues: tuple[Cue, ...]
    stateful: bool  # an effect with memory is on during it

    @property
    def end(self) -> int:
        return self.start + len(self.cues)


def feedback_effects(shader_dir: str | Path | None) -> frozenset[str]:
    """Effects whose shader reads its own previous output (judged from the text, so a shader
    that declares it but never uses it counts too: that costs parallelism, never exactness)."""
    return frozenset(p.stem for p in shader_folder(shader_dir).glob("*.glsl")
                     if FEEDBACK_UNIFORM in p.read_text(encoding="utf-8", errors="replace"))


def shaders_digest(shader_dir: str | Path | None) -> str:
    """One hash of every shader's name and text: workers must draw with the driver's shaders."""
    h = hashlib.sha1()
    for p in sorted(shader_folder(shader_dir).glob("*.glsl")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def continues_trails(cues: Iterable[Cue], feedback: frozenset[str]) -> bool:
    return any(bool(c.values.get(f"fx/{name}/enabled", False)) for c in cues for name in feedback)


def _shippable(cues: list[Cue]) -> tuple[Cue, ...]:
    """Plain dicts (a snapshot's read-only view does not pickle); consecutive equal values
    share one object, so pickling sends them once."""
    out = []
    prev: dict[str, Any] | None = None
    for c in cues:
        values: Mapping[str, Any] = c.values
        if prev is None or values != prev:
            prev = dict(values)
        out.append(Cue(c.groove, c.uniforms, prev))
    return tuple(out)


def chunk_plans(cues: Iterator[Cue], ranges: list[tuple[int, int]], feedback: frozenset[str]) -> Iterator[ChunkPlan]:
    """Every chunk's plan, in order (the cue stream is stepped once, as the plans are taken)."""
    for k, (a, b) in enumerate(ranges):
        part = [next(cues) for _ in range(b - a)]
        yield ChunkPlan(k, a, _shippable(part), continues_trails(part, feedback))
