"""The display: the newest model frame through the compositor onto the window (or EGL), every tick.

It never waits on inference: each tick takes whatever model frame is newest (uploading it
only when it is new) and draws it, blending from the previous one while the model is
slower than the display. Audio-reactive uniforms follow the newest features, not the
(older) features of the model frame, so effects stay tight to the music. Each tick's
inputs are returned as a ``DISPLAY_DTYPE`` record, which is everything a replay needs to
draw the same picture again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..audio.features import FeatureFrame
from ..gl.compositor import Compositor
from ..gl.context import Surface
from ..gl.uniforms import frame_uniforms, onset_envelope
from ..record.setfile import DISPLAY_DTYPE
from .inference_thread import RenderedFrame
from .latest import Latest


@dataclass
class _State:
    """Display-thread state between ticks."""

    shown_version: int = 0
    frame: RenderedFrame | None = None
    previous_index: int = -1  # the model frame in the compositor's "previous" texture
    pending: RenderedFrame | None = None  # newest frame whose latency is not yet recorded
    weight: float = 0.0  # how much of the newest frame the last draw showed
    frame_t: float = 0.0
    model_interval: float = 0.1
    display_interval: float = 1.0 / 60.0  # measured, not the nominal refresh
    onset_env: float = 0.0
    last_t: float = field(default_factory=time.perf_counter)


class Display:
    """Draws one tick at a time into a surface; keeps what the last tick showed."""

    def __init__(self, surface: Surface, compositor: Compositor, offscreen: bool = False) -> None:
        self.surface = surface
        self.compositor = compositor
        # Draw into the compositor's own texture first (then copy to the window) when a
        # thumbnail of the post-effects picture is needed and the surface has no texture.
        self.offscreen = offscreen and surface.texture is None
        self.state = _State()
        self.dropped_model_frames = 0  # replaced before they were ever half visible

    @property
    def shown(self) -> RenderedFrame | None:
        return self.state.frame

    def take(self, frames: Latest[RenderedFrame], now: float) -> RenderedFrame | None:
        """Upload the newest model frame if it is new."""
        d = self.state
        frame, version = frames.get()
        if frame is None or version == d.shown_version:
            return None
        self.compositor.upload(frame.pixels)
        if d.pending is not None:
            self.dropped_model_frames += 1
        d.pending = frame
        if d.frame is not None:
            gap = now - d.frame_t
            d.model_interval += 0.2 * (min(gap, 1.0) - d.model_interval)
        d.previous_index = d.frame.index if d.frame is not None else frame.index
        d.shown_version, d.frame, d.frame_t = version, frame, now
        return frame

    def draw(self, now: float, feat: FeatureFrame, onset_fired: bool, values: Mapping[str, Any],
             seq: int, audio_pos: int) -> np.ndarray:
        """Draw the tick; returns its ``DISPLAY_DTYPE`` record (without thumbnail)."""
        d = self.state
        dt = now - d.last_t
        d.last_t = now
        d.display_interval += 0.1 * (min(dt, 0.5) - d.display_interval)
        d.onset_env = onset_envelope(d.onset_env, onset_fired, dt)
        # Blend only when the model is slower than the display: a new frame starts one display
        # period in, so a model at display rate shows every frame whole.
        mix = 1.0 if d.frame is None else min(1.0, (now - d.frame_t + d.display_interval) / max(d.model_interval, 1e-3))
        u = frame_uniforms(feat, d.onset_env, mix)
        size = self.surface.size
        target = self.compositor.output(size)[0] if self.offscreen else self.surface.fbo
        d.weight = self.compositor.draw(target, size, u, values)
        if self.offscreen:
            self.compositor.blit(self.compositor.output(size)[1], self.surface.fbo, size)
        rec = np.zeros(1, DISPLAY_DTYPE)
        rec["pos"], rec["mix"], rec["seq"], rec["w"], rec["h"] = audio_pos, mix, seq, size[0], size[1]
        rec["cur"] = d.frame.index if d.frame is not None else -1
        rec["prev"] = d.previous_index if d.frame is not None else -1
        rec["time"], rec["onset"], rec["rms"], rec["flux"] = u.time, u.onset, u.rms, u.flux
        rec["bands"], rec["beat_phase"] = u.bands, u.beat_phase
        return rec

    def picture_fbo(self):
        """The framebuffer holding the last draw's post-effects picture (before the HUD)."""
        return self.compositor.output(self.surface.size)[0] if self.offscreen else self.surface.fbo

    def thumbnail(self) -> np.ndarray:
        """The post-effects picture of the last draw (before the HUD), box-filtered small."""
        tex = self.compositor.output(self.surface.size)[1] if self.offscreen else self.surface.texture
        return self.compositor.thumbnail(tex)
