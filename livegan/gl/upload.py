"""Frames from the inference thread into GL textures, through pixel buffer objects.

Two PBOs alternate so the driver can still be reading one while the next frame is
written; two textures alternate so the previous model frame stays available for the
crossfade effect. (The host copy from CUDA is already done asynchronously into pinned
memory by the inference thread, see ``HostCopier``.)
"""

from __future__ import annotations

import numpy as np


class FrameUploader:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._pbos: list = []
        self._pbo_i = 0
        self.current = None  # texture with the newest frame
        self.previous = None  # texture with the frame before it
        self.uploads = 0

    def _ensure(self, w: int, h: int) -> None:
        if self.current is not None and self.current.size == (w, h):
            return
        for obj in [*self._pbos, self.current, self.previous]:
            if obj is not None:
                obj.release()
        nbytes = w * h * 3
        self._pbos = [self.ctx.buffer(reserve=nbytes) for _ in range(2)]
        self.current = self._texture(w, h)
        self.previous = self._texture(w, h)

    def _texture(self, w: int, h: int):
        import moderngl  # noqa: PLC0415

        tex = self.ctx.texture((w, h), 3, alignment=1)
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def upload(self, pixels: np.ndarray):
        """Upload one [H, W, 3] uint8 frame, top row at v = 1 (GL's orientation, so no pass has to flip)."""
        h, w = pixels.shape[:2]
        first = self.current is None or self.current.size != (w, h)
        self._ensure(w, h)
        self.current, self.previous = self.previous, self.current
        pbo = self._pbos[self._pbo_i]
        self._pbo_i ^= 1
        pbo.orphan()  # a fresh store: no stall on a buffer the GPU may still read
        pbo.write(np.ascontiguousarray(pixels[::-1], np.uint8))
        self.current.write(pbo, alignment=1)
        if first:
            self.previous.write(pbo, alignment=1)
        self.uploads += 1
        return self.current

    def release(self) -> None:
        for obj in [*self._pbos, self.current, self.previous]:
            if obj is not None:
                obj.release()
        self._pbos, self.current, self.previous = [], None, None
