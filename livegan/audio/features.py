"""The message the analyzer sends downstream: one FeatureFrame per analysis hop."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

BAND_NAMES = ("sub", "low", "mid", "high")


@dataclass(frozen=True)
class FeatureFrame:
    """What the music is doing at one instant, every value normalised to about 0..1.

    ``sample_pos`` is the index (at the source sample rate) of the first sample *after*
    the analysis window, i.e. the newest sample this frame has heard; ``time`` is the
    same position in seconds. A frame is causal: it depends only on samples before
    ``sample_pos``.
    """

    sample_pos: int
    time: float
    rms: float = 0.0
    bands: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # sub, low, mid, high followers
    band_onsets: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # per-band flux
    flux: float = 0.0  # overall spectral-flux onset strength
    onset: bool = False  # an onset event fired in this hop
    onset_strength: float = 0.0  # how far above the adaptive threshold (0 when no onset)
    centroid: float = 0.0  # spectral centroid on a log-frequency scale
    chroma: tuple[float, ...] = field(default=(0.0,) * 12)  # 12 pitch classes, C first, sums to <= 1
    # Filled by the beat clock and structure detector (musical-mapping work); rest values until then.
    tempo_bpm: float = 0.0
    beat_phase: float = 0.0  # 0..1 within the current beat
    beat: bool = False  # a beat boundary fell in this hop
    build: float = 0.0  # build-up amount 0..1
    drop: bool = False  # a drop fired in this hop
    section: bool = False  # a new section (timbre change or drop) began in this hop
    beat_count: int = 0  # beats since the clock first found a tempo (never decreases)
    # Beat clock and structure detail (issue 16).
    tempo_confidence: float = 0.0  # 0..1, how clearly periodic the onsets are at tempo_bpm
    tempo_locked: bool = False  # the tempo has held long enough to resist other levels
    bar_phase: float = 0.0  # 0..1 within the current bar (4/4; 0 on the estimated downbeat)
    downbeat: bool = False  # this hop's beat is the first of a bar (an event, like ``beat``)
    section_confidence: float = 0.0  # 0..1 with ``section``: how strong the change is (0 otherwise)
    breakdown: bool = False  # in a breakdown: music without its low end (or silence after music)

    @staticmethod
    def rest(sample_pos: int = 0, sample_rate: int = 48000) -> "FeatureFrame":
        """Silence: what features decay to when the input stops."""
        return FeatureFrame(sample_pos=sample_pos, time=sample_pos / sample_rate)


def merge_frames(frames: Sequence[FeatureFrame]) -> FeatureFrame:
    """Several analysis hops as one: levels from the newest, events and onset peaks kept.

    A video frame spans a few hops; an onset, beat or drop in a hop between two frames
    must still reach the picture. Associative, so merging in steps equals merging at once.
    """
    last = frames[-1]
    if len(frames) == 1:
        return last
    return replace(
        last,
        onset=any(f.onset for f in frames),
        onset_strength=max(f.onset_strength for f in frames),
        band_onsets=tuple(max(f.band_onsets[i] for f in frames) for i in range(4)),  # type: ignore[arg-type]
        flux=max(f.flux for f in frames),
        beat=any(f.beat for f in frames),
        downbeat=any(f.downbeat for f in frames),
        drop=any(f.drop for f in frames),
        section=any(f.section for f in frames),
        section_confidence=max(f.section_confidence for f in frames),
    )


def without_events(f: FeatureFrame) -> FeatureFrame:
    """The same levels with no events: for a frame seen before (live, latest wins)."""
    return replace(f, onset=False, onset_strength=0.0, beat=False, downbeat=False, drop=False, section=False,
                   section_confidence=0.0)


@dataclass(frozen=True)
class Clock:
    """A reading of the beat clock, as mappings, quantize and the HUD see it."""

    bpm: float = 0.0
    beats: float = 0.0  # beats elapsed (continuous); the phase is its fractional part
    beat: bool = False  # a beat line passed since the previous reading
    bar: bool = False  # a bar line passed since the previous reading
    time: float = 0.0  # audio time of this reading
    source: str = ""  # what leads the clock: tap, analysis, manual, link, midi (empty: no tempo)
    running: bool = True  # False while a leading transport is stopped (Link start/stop, MIDI stop): the count holds

    def at(self, t: float) -> "Clock":
        """The reading carried forward to audio time ``t`` at its tempo (no events)."""
        ahead = max(0.0, t - self.time) * self.bpm / 60.0 if self.running else 0.0
        return replace(self, beats=self.beats + ahead, beat=False, bar=False, time=max(t, self.time))
