"""What an external clock says at one conductor step, and which clock leads.

A tempo source is asked once per step, ``source(t, snapshot) -> ExternalTempo | None``;
None means it does not lead now and the performance's own beat clock runs (taps, the
manual tempo, the detector). The reading is a frozen value, so the live show records the
one each tick used and a replay feeds the same readings back (``recorded.py``).

Precedence (issue 18): Link while enabled, then MIDI clock, then the beat clock's own
sources (tap/manual, then the detector), which ``BeatClock.update`` orders.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol, Sequence

from ..params.registry import Snapshot

log = logging.getLogger("livegan.clock")

BEATS_PER_BAR = 4
SNAP_BEATS = 1.0 / 32.0  # closer than this to the leader, the count takes its position (~15 ms at 120 BPM)


@dataclass(frozen=True)
class ExternalTempo:
    """One reading of a leading clock.

    ``beats`` is the position on the leader's own timeline at the reading (its bar phase is
    ``beats % 4``); None when the leader gives a tempo but no position (MIDI clock before a
    Start or a song position). ``playing`` False holds the beat count (a stopped transport).
    """

    bpm: float
    beats: float | None = None
    playing: bool = True
    source: str = "link"
    host: float = 0.0  # when it was read, on the leader's own clock (Link's host clock, MIDI's arrival clock; s)

    def at(self, dt: float) -> "ExternalTempo":
        """The reading carried ``dt`` seconds forward at its tempo."""
        beats = self.beats if self.beats is None or not self.playing else self.beats + dt * self.bpm / 60.0
        return ExternalTempo(self.bpm, beats, self.playing, self.source, self.host + dt)


class TempoSource(Protocol):
    def __call__(self, t: float, snap: Snapshot) -> ExternalTempo | None:
        """The reading for the step at audio time ``t`` (None: this source does not lead now)."""


class Precedence:
    """The first of several sources that leads (Link, then MIDI clock).

    A source that fails (a network or MIDI system error) is passed over for that step and
    logged once: a sync problem never stops the show, the beat clock's own sources carry on."""

    def __init__(self, sources: Sequence[TempoSource]) -> None:
        self.sources = tuple(sources)
        self.errors = 0
        self._said: set[str] = set()

    def __call__(self, t: float, snap: Snapshot) -> ExternalTempo | None:
        for source in self.sources:
            try:
                reading = source(t, snap)
            except Exception as exc:
                self.errors += 1
                text = f"{type(source).__name__}: {exc}"
                if text not in self._said:
                    self._said.add(text)
                    log.warning("tempo source failed, passed over: %s", text)
                continue
            if reading is not None:
                return reading
        return None


def lead_position(before: float, predicted: float, leader: float, dt: float, pull_s: float,
                  start: bool) -> float:
    """The beat count after a step led by a clock at position ``leader``.

    The count keeps its own numbering and takes the leader's bar phase: the target is the
    position nearest ``predicted`` (the count run on at the leader's tempo) with the same
    phase in the bar. Far from it the count glides there (time constant ``pull_s``), never
    backwards, so the picture never jumps; close to it, it takes it exactly. At a transport
    start (``start``) it lands on the next bar line at once, as a DAW restarts on the one.
    """
    phase = leader % BEATS_PER_BAR
    if start:
        return math.ceil((before - phase) / BEATS_PER_BAR - 1e-9) * BEATS_PER_BAR + phase
    target = predicted + ((phase - predicted + BEATS_PER_BAR / 2) % BEATS_PER_BAR - BEATS_PER_BAR / 2)
    err = target - predicted
    if abs(err) <= SNAP_BEATS:
        new = target
    else:
        new = predicted + err * (1.0 - math.exp(-dt / pull_s) if dt > 0 else 0.0)
    return max(new, before)
