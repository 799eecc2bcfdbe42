"""The per-frame uniforms of the effect chain, from the features: the same rules live and offline."""

from __future__ import annotations

from ..audio.features import FeatureFrame
from ..smoothing import decay
from .effects import FrameUniforms

ONSET_DECAY_S = 0.12  # an onset flashes u_onset to 1, then it fades with this time constant


def onset_envelope(previous: float, fired: bool, dt: float) -> float:
    """``u_onset``: 1 on the frame an onset was heard, decaying between onsets."""
    return 1.0 if fired else decay(previous, dt, ONSET_DECAY_S)


def frame_uniforms(feat: FeatureFrame, onset: float, frame_mix: float = 1.0) -> FrameUniforms:
    return FrameUniforms(time=feat.time, onset=onset, rms=feat.rms, flux=feat.flux, bands=tuple(feat.bands),
                         beat_phase=feat.beat_phase, frame_mix=frame_mix)
