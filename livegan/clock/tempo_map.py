"""A known tempo for an offline render: ``--link-tempo BPM`` or ``--tempo-map FILE``.

A tempo map is a text file of tempo changes, one per line: ``SECONDS BPM`` (spaces or a
comma between them; ``#`` starts a comment). The first row's time is a bar line (beat 0);
each tempo holds until the next row. So a render follows the tempo a Link session or a DAW
had instead of the detector's, e.g. for a set whose tempo is known::

    # seconds  bpm
    0.48       124
    95.2       126
"""

from __future__ import annotations

import bisect
import math
import re
from pathlib import Path

from ..errors import LiveganError
from ..params.registry import Snapshot
from .external import ExternalTempo

MIN_BPM, MAX_BPM = 20.0, 999.0
MAX_BYTES = 4 * 2**20  # a tempo map is a few lines; a larger file is not one
_SPLIT = re.compile(r"[,\s]+")


def check_bpm(bpm: float, where: str) -> float:
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise LiveganError(f"{where}: tempo {bpm:g} BPM is outside {MIN_BPM:g}..{MAX_BPM:g}")
    return float(bpm)


class TempoMap:
    """Tempo changes ``(seconds, bpm)`` in time order, beat 0 at the first: a tempo source.

    ``offset`` is the audio time of the render's time 0 (``--start``)."""

    source = "map"

    def __init__(self, changes: tuple[tuple[float, float], ...], offset: float = 0.0) -> None:
        self.changes = tuple(changes)
        self.offset = float(offset)
        self._times = [t for t, _ in self.changes]
        self._beats = [0.0]
        for (t0, bpm), (t1, _) in zip(self.changes, self.changes[1:]):
            self._beats.append(self._beats[-1] + (t1 - t0) * bpm / 60.0)

    @classmethod
    def constant(cls, bpm: float, offset: float = 0.0) -> "TempoMap":
        return cls(((0.0, check_bpm(bpm, "--link-tempo")),), offset)

    def bpm_at(self, t: float) -> float:
        k = max(0, bisect.bisect_right(self._times, t) - 1)
        return self.changes[k][1]

    def beats_at(self, t: float) -> float:
        k = max(0, bisect.bisect_right(self._times, t) - 1)
        t0, bpm = self.changes[k]
        return self._beats[k] + (t - t0) * bpm / 60.0

    def __call__(self, t: float, snap: Snapshot | None = None) -> ExternalTempo:
        at = t + self.offset
        return ExternalTempo(self.bpm_at(at), self.beats_at(at), True, self.source)


def load_tempo_map(path: str | Path, offset: float = 0.0) -> TempoMap:
    """Read a tempo map; every problem is one line naming the file (and line)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise LiveganError(f"--tempo-map {p}: larger than {MAX_BYTES // 2**20} MiB, not a tempo map")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LiveganError(f"--tempo-map {p}: cannot read ({exc.__class__.__name__})") from None
    changes: list[tuple[float, float]] = []
    for n, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = _SPLIT.split(body)
        where = f"{p}:{n}"
        try:
            t, bpm = (float(x) for x in parts)
        except ValueError:
            raise LiveganError(f"{where}: expected 'SECONDS BPM', got {body[:40]!r}") from None
        if not (math.isfinite(t) and t >= 0):
            raise LiveganError(f"{where}: time {t:g} must be a number of seconds >= 0")
        if changes and t <= changes[-1][0]:
            raise LiveganError(f"{where}: time {t:g} is not after the previous row's {changes[-1][0]:g}")
        changes.append((t, check_bpm(bpm, where)))
    if not changes:
        raise LiveganError(f"--tempo-map {p}: no tempo rows ('SECONDS BPM')")
    return TempoMap(tuple(changes), offset)
