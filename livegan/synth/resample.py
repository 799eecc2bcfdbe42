"""The output scaler's filter, on the CPU: the twin of ``shaders/scale.glsl``.

Live, the GL ``scale`` pass resizes the picture to the window; offline without the
effect chain, ``fill_resize`` does the same with this code. Both take one output pixel
centre back to a point in the source, weigh the source pixels around it with the same
kernel (Catmull-Rom bicubic, Lanczos-3, linear or nearest), stretched by the shrink
factor when downscaling (so shrinking is antialiased), optionally sharpened, and clamp
to the edge. ``tests/test_upscale.py`` checks the two agree and measures both against a
reference resize.

Sharpening folds an unsharp mask into the kernel, per axis: ``(1 + s) k - s (k * b)``
with ``b`` the binomial ``[1, 2, 1] / 4`` blur, i.e. ``(1 + s/2) k(x) - s/4 (k(x-1) +
k(x+1))``: one pass, one more tap each side, and exactly the same in GLSL.
"""

from __future__ import annotations

import math

import torch

FILTERS = ("bicubic", "linear", "nearest", "lanczos")  # the order of scale.glsl's u_filter choices
_SUPPORT = {"bicubic": 2.0, "linear": 1.0, "lanczos": 3.0}
MAX_TAPS = 24  # per axis, as scale.glsl


def kernel(x: torch.Tensor, name: str) -> torch.Tensor:
    """The filter's weight at distance ``x`` (in pixels of the finer grid)."""
    x = x.abs()
    if name == "linear":
        return (1.0 - x).clamp_min(0.0)
    if name == "lanczos":
        px = math.pi * x
        safe = torch.where(x < 1e-5, torch.ones_like(px), px)
        w = 3.0 * torch.sin(safe) * torch.sin(safe / 3.0) / (safe * safe)
        return torch.where(x < 1e-5, torch.ones_like(x), torch.where(x < 3.0, w, torch.zeros_like(x)))
    # Catmull-Rom (a = -0.5): sharp, little ringing.
    near = (1.5 * x - 2.5) * x * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, torch.zeros_like(x)))


def _sharpened(x: torch.Tensor, name: str, sharpen: float) -> torch.Tensor:
    k = kernel(x, name)
    if sharpen > 0.0:
        k = (1.0 + 0.5 * sharpen) * k - 0.25 * sharpen * (kernel(x - 1.0, name) + kernel(x + 1.0, name))
    return k


def axis_weights(n_src: int, n_dst: int, scale: float, name: str = "bicubic",
                 sharpen: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Source indices and weights ``[n_dst, taps]`` for one axis of a centred resize by
    ``scale`` (output pixels per source pixel; the shown picture is ``n_src * scale``
    wide, centred on the ``n_dst`` output pixels, as in scale.glsl)."""
    o = torch.arange(n_dst, dtype=torch.float64)
    shown = n_src * scale
    c = (o + 0.5 + 0.5 * (shown - n_dst)) / scale - 0.5  # source coordinate of each output centre
    if name == "nearest":
        idx = torch.floor(c + 0.5).long().clamp(0, n_src - 1)[:, None]
        return idx, torch.ones(n_dst, 1, dtype=torch.float32)
    f = max(1.0, 1.0 / scale)  # stretch the kernel when shrinking: antialiasing
    radius = (_SUPPORT[name] + (1.0 if sharpen > 0.0 else 0.0)) * f
    first = torch.floor(c - radius) + 1.0
    taps = min(int(math.floor(2 * radius)) + 1, MAX_TAPS)
    pos = first[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    w = _sharpened(((pos - c[:, None]) / f).float(), name, sharpen)
    w = w / w.sum(dim=1, keepdim=True)
    return pos.long().clamp(0, n_src - 1), w


def resample_axis(x: torch.Tensor, idx: torch.Tensor, w: torch.Tensor, dim: int) -> torch.Tensor:
    """Apply one axis' taps to ``x`` along ``dim`` (-1 width, -2 height)."""
    idx, w = idx.to(x.device), w.to(x.device, x.dtype)
    if dim == -1:
        return (x[..., idx] * w).sum(-1)
    return (x[..., idx, :] * w[..., None]).sum(-2)


def fill_resize(x: torch.Tensor, size: tuple[int, int], name: str = "bicubic", sharpen: float = 0.0) -> torch.Tensor:
    """Scale ``x`` ``[B, C, h, w]`` to cover (W, H) keeping its aspect, centred and cropped
    (scale.glsl's ``fill`` mode), with the same filter as the GL pass."""
    if name not in FILTERS:
        raise ValueError(f"filter must be one of {', '.join(FILTERS)}, not {name!r}")
    W, H = size
    h, w = x.shape[-2:]
    if (w, h) == (W, H):
        return x
    scale = max(W / w, H / h)
    x = resample_axis(x, *axis_weights(w, W, scale, name, sharpen), dim=-1)
    return resample_axis(x, *axis_weights(h, H, scale, name, sharpen), dim=-2)
