"""Offline pictures: model frames through the session's compositor on an EGL context.

The same compositor (effect chain, crossfade, output scaler) that draws the live show,
on Mesa EGL (or a GPU's EGL), at the output size, read back for the encoder. Time-dependent
effects step once per drawn frame on the audio clock; their state (feedback textures)
can be saved at a chunk boundary and restored when a render resumes.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..gl.compositor import Compositor, read_rgb
from ..gl.context import create_headless_context
from ..gl.effects import FrameUniforms


class OffscreenPicture:
    """Draws frames at ``size`` (W, H) and hands back their pixels."""

    def __init__(self, session, size: tuple[int, int]) -> None:
        self.size = tuple(size)
        self.ctx = create_headless_context()
        self.compositor: Compositor = session.compositor(self.ctx)
        self.fbo, self.texture = self.compositor.output(self.size)
        self.uploaded: tuple[int, int] = (-1, -1)  # (current, previous) model frame ids in the textures

    def show(self, current: tuple[int, np.ndarray] | None, previous: tuple[int, np.ndarray] | None = None) -> None:
        """Make the textures hold these model frames (id, pixels), uploading only what changed."""
        if current is None:
            return
        cur_id, prev_id = current[0], (previous or current)[0]
        if (cur_id, prev_id) == self.uploaded:
            return
        if prev_id != self.uploaded[0] and previous is not None and prev_id != cur_id:
            self.compositor.upload(previous[1])
        self.compositor.upload(current[1])
        self.uploaded = (cur_id, prev_id)

    def draw(self, u: FrameUniforms, values: Mapping[str, Any]) -> None:
        self.compositor.draw(self.fbo, self.size, u, values)

    def pixels(self) -> np.ndarray:
        return read_rgb(self.fbo, self.size)

    def thumbnail(self) -> np.ndarray:
        return self.compositor.thumbnail(self.texture)

    def state(self) -> dict[str, np.ndarray]:
        return self.compositor.effects.state()

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.compositor.effects.restore(state)

    def release(self) -> None:
        self.compositor.release()
        self.ctx.release()
