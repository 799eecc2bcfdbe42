"""Small real parts shared by the live tests (a pattern renderer, a click track)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


class PatternRenderer:
    """A fixed picture (quadrants and a gradient): deterministic, so window and headless can be compared.

    It stands in for a model path (``spec``, ``name``, ``render(groove)``) where the test is
    about the display, not the model.
    """

    spec = "pattern"
    name = "pattern"

    def __init__(self, size: int = 48) -> None:
        y, x = np.mgrid[0:size, 0:size]
        img = np.zeros((size, size, 3), np.uint8)
        img[..., 0] = (x * 255 // (size - 1)).astype(np.uint8)
        img[..., 1] = (y * 255 // (size - 1)).astype(np.uint8)
        img[: size // 2, : size // 2, 2] = 255
        self.image = img
        self.calls = 0

    def render(self, groove):
        self.calls += 1
        return self.image


def click_track(path: Path, clicks: list[float], seconds: float, rate: int = 48000, lead_tone: bool = False) -> Path:
    """Short 2 kHz clicks at the given times (s) over silence."""
    x = np.zeros(int(seconds * rate), np.float32)
    n = np.arange(int(0.01 * rate))
    burst = (0.8 * np.sin(2 * np.pi * 2000 * n / rate) * np.exp(-n / (0.002 * rate))).astype(np.float32)
    for t in clicks:
        i = int(t * rate)
        x[i:i + len(burst)] += burst[: len(x) - i]
    sf.write(str(path), x, rate)
    return path


def write_preset(path: Path, effects: list[dict]) -> Path:
    lines = ['name = "test"', ""]
    for e in effects:
        lines.append("[[effects]]")
        for k, v in e.items():
            lines.append(f"{k} = {v!r}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}")
        lines.append("")
    path.write_text("\n".join(lines).replace("'", '"'))
    return path


def draw_effect(surface, image: np.ndarray, effect: str, settings: dict) -> np.ndarray:
    """``image`` through one bundled effect alone (``fx/<effect>/...`` from ``settings``) into ``surface``."""
    from livegan.gl.effects import EffectChain, FrameUniforms
    from livegan.gl.upload import FrameUploader
    from livegan.session import session_registry

    reg = session_registry()
    chain = EffectChain(surface.ctx, reg)
    up = FrameUploader(surface.ctx)
    try:
        for n in chain.effects:
            reg.set(f"fx/{n}/enabled", n == effect)
        for k, v in settings.items():
            reg.set(f"fx/{effect}/{k}", v)
        up.upload(image)
        chain.render(up.current, up.previous, surface.fbo, surface.size, FrameUniforms(), reg.peek().values)
        return surface.read()
    finally:
        chain.release()
        up.release()
