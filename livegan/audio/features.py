"""The message the analyzer sends downstream: one FeatureFrame per analysis hop."""

from __future__ import annotations

from dataclasses import dataclass, field

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
