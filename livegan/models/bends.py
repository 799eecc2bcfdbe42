"""Network bending: feature-map transforms inserted after a synthesis layer.

``apply_bends(x, bends)`` applies every ``Bend`` in order to a feature map
``[B, C, H, W]`` (the caller picks the bends named for the layer). Each bend acts on
the first ``round(bend.channels * C)`` channels only and leaves the rest untouched,
so a bend can distort part of a layer while the other channels keep the picture
coherent. A bend whose amount is neutral is skipped without touching the tensor.

Op semantics (the amounts of ``BEND_OPS`` in ``livegan.models.base``):

* ``translate``: ``(dx, dy)`` in fractions of the map size (a single number is
  ``dx``); +dx moves content right, +dy down. The map **wraps** around (a torus),
  so moving layers never expose empty borders; sub-pixel shifts interpolate
  linearly between the two nearest whole-pixel shifts, so slow drifts stay smooth.
* ``rotate``: degrees, counter-clockwise as seen on screen, about the map centre;
  corners that come from outside the map are zero.
* ``scale``: zoom factor about the centre (> 1 zooms in, < 1 zooms out with zero
  borders); must be > 0.
* ``flip``: ``'h'``, ``'v'``, ``'hv'`` (or a number: > 0.5 flips horizontally).
* ``erode`` / ``dilate``: min / max filter of radius ``r`` pixels (a square of side
  ``2r + 1``); fractional radii blend the two nearest whole radii.
* ``multiply``: ``x * amount``.
* ``threshold``: keeps values above ``amount`` and zeroes the rest. Every finite level
  changes the map, so only ``-inf`` is neutral.
* ``invert``: mixes toward ``-x``: ``(1 - a) x + a (-x)``, ``a`` in 0..1.
* ``ablate``: zeroes the first ``round(amount * n)`` of the ``n`` selected channels.

An amount wrapped in ``PerSample`` gives each batch sample its own amount: each sample is
bent exactly as it would be alone, so the engine can batch frames whose bends move.

Bad amounts raise ``LiveganError`` naming the layer, op and value.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from livegan.errors import LiveganError
from livegan.models.base import BEND_OPS, Bend, PerSample

__all__ = ["apply_bends", "apply_bend", "is_neutral"]


def _bad(bend: Bend, why: str) -> LiveganError:
    return LiveganError(f"bend {bend.op!r} on layer {bend.layer!r}: {why} (got {bend.amount!r})")


def _scalar(bend: Bend) -> float:
    a = bend.amount
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise _bad(bend, "amount must be a number")
    a = float(a)
    if math.isnan(a):
        raise _bad(bend, "amount must not be NaN")
    return a


def _pair(bend: Bend) -> tuple[float, float]:
    a = bend.amount
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        a = (a, 0.0)
    if not isinstance(a, (tuple, list)) or len(a) != 2:
        raise _bad(bend, "amount must be (dx, dy)")
    try:
        dx, dy = float(a[0]), float(a[1])
    except (TypeError, ValueError):
        raise _bad(bend, "amount must be (dx, dy) numbers") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise _bad(bend, "amount must be finite")
    return dx, dy


def _flip_dims(bend: Bend) -> tuple[int, ...]:
    a = bend.amount
    if isinstance(a, str):
        dims = {"": (), "h": (3,), "v": (2,), "hv": (2, 3), "vh": (2, 3)}.get(a.lower())
        if dims is None:
            raise _bad(bend, "amount must be 'h', 'v' or 'hv'")
        return dims
    return (3,) if _scalar(bend) > 0.5 else ()


# ---- the ops (each takes the selected channels and the bend) -------------------------


def _roll_frac(x: Tensor, shift: float, dim: int) -> Tensor:
    """Circular shift by a fractional number of pixels (linear between whole shifts)."""
    k = math.floor(shift)
    f = shift - k
    a = torch.roll(x, k, dims=dim) if k % x.shape[dim] else x
    if f < 1e-6:
        return a
    return torch.lerp(a, torch.roll(x, k + 1, dims=dim), f)


def _translate(x: Tensor, bend: Bend) -> Tensor:
    dx, dy = _pair(bend)
    h, w = x.shape[-2:]
    if dx:
        x = _roll_frac(x, dx * w, 3)
    if dy:
        x = _roll_frac(x, dy * h, 2)
    return x


def _affine(x: Tensor, theta2x3: list[list[float]]) -> Tensor:
    """Resample ``x`` at ``theta @ (u, v, 1)`` for every output pixel (normalised coords)."""
    b, c, h, w = x.shape
    theta = torch.tensor(theta2x3, dtype=x.dtype, device=x.device).expand(b, 2, 3)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _rotate(x: Tensor, bend: Bend) -> Tensor:
    a = math.radians(_scalar(bend))
    if not math.isfinite(a):
        raise _bad(bend, "amount must be finite")
    h, w = x.shape[-2:]
    cos, sin = math.cos(a), math.sin(a)
    # Normalised coords stretch with the aspect ratio; rotate in pixel units instead.
    r = w / h
    # Output pixel (x, y) shows the input at (c x - s y, s x + c y); with y pointing
    # down this turns content counter-clockwise on screen for a positive angle.
    return _affine(x, [[cos, -sin / r, 0.0], [sin * r, cos, 0.0]])


def _scale(x: Tensor, bend: Bend) -> Tensor:
    s = _scalar(bend)
    if not (s > 0 and math.isfinite(s)):
        raise _bad(bend, "zoom factor must be > 0")
    return _affine(x, [[1.0 / s, 0.0, 0.0], [0.0, 1.0 / s, 0.0]])


def _flip(x: Tensor, bend: Bend) -> Tensor:
    return torch.flip(x, _flip_dims(bend))


def _radius(bend: Bend) -> float:
    r = _scalar(bend)
    if r < 0 or not math.isfinite(r):
        raise _bad(bend, "radius must be >= 0")
    return r


def _max_filter(x: Tensor, r: float) -> Tensor:
    k = math.floor(r)
    f = r - k

    def pool(rad: int) -> Tensor:
        return x if rad == 0 else F.max_pool2d(x, 2 * rad + 1, stride=1, padding=rad)

    lo = pool(k)
    return lo if f < 1e-6 else torch.lerp(lo, pool(k + 1), f)


def _dilate(x: Tensor, bend: Bend) -> Tensor:
    return _max_filter(x, _radius(bend))


def _erode(x: Tensor, bend: Bend) -> Tensor:
    return -_max_filter(-x, _radius(bend))


def _multiply(x: Tensor, bend: Bend) -> Tensor:
    return x * _scalar(bend)


def _threshold(x: Tensor, bend: Bend) -> Tensor:
    level = _scalar(bend)
    return torch.where(x > level, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _invert(x: Tensor, bend: Bend) -> Tensor:
    return x * (1.0 - 2.0 * _scalar(bend))


def _ablate(x: Tensor, bend: Bend) -> Tensor:
    frac = min(max(_scalar(bend), 0.0), 1.0)
    k = round(frac * x.shape[1])
    if k == 0:
        return x
    out = x.clone()
    out[:, :k] = 0
    return out


_OPS: dict[str, Callable[[Tensor, Bend], Tensor]] = {
    "translate": _translate,
    "rotate": _rotate,
    "scale": _scale,
    "flip": _flip,
    "erode": _erode,
    "dilate": _dilate,
    "multiply": _multiply,
    "threshold": _threshold,
    "invert": _invert,
    "ablate": _ablate,
}
assert set(_OPS) == set(BEND_OPS), "every op in BEND_OPS needs an implementation"


def is_neutral(bend: Bend) -> bool:
    """Whether ``bend`` leaves every feature map unchanged (so it can be skipped)."""
    if bend.channels <= 0:
        return True
    if isinstance(bend.amount, PerSample):
        return all(is_neutral(replace(bend, amount=a)) for a in bend.amount)
    op = bend.op
    if op == "translate":
        dx, dy = _pair(bend)
        return dx == 0 and dy == 0
    if op == "flip":
        return _flip_dims(bend) == ()
    v = _scalar(bend)
    if op in ("rotate", "erode", "dilate", "invert", "ablate"):
        return v == 0 if op != "ablate" else v <= 0
    if op in ("scale", "multiply"):
        return v == 1
    if op == "threshold":
        return v == -math.inf
    raise _bad(bend, "unknown op")  # unreachable: Bend checks op


def apply_bend(x: Tensor, bend: Bend) -> Tensor:
    """One bend on the first ``round(bend.channels * C)`` channels of ``x``."""
    if x.dim() != 4:
        raise ValueError(f"apply_bend expects [B, C, H, W], got shape {tuple(x.shape)}")
    if is_neutral(bend):
        return x
    if isinstance(bend.amount, PerSample):
        if len(bend.amount) != x.shape[0]:
            raise _bad(bend, f"{len(bend.amount)} per-sample amounts for a batch of {x.shape[0]}")
        # Sample by sample: the convs around it stay batched, and each sample is bent as if alone.
        return torch.cat([apply_bend(x[i:i + 1], replace(bend, amount=a)) for i, a in enumerate(bend.amount)])
    c = x.shape[1]
    n = round(min(max(float(bend.channels), 0.0), 1.0) * c)
    if n == 0:
        return x
    fn = _OPS[bend.op]
    if n == c:
        return fn(x, bend)
    return torch.cat([fn(x[:, :n], bend), x[:, n:]], dim=1)


def apply_bends(x: Tensor, bends: Sequence[Bend]) -> Tensor:
    """Apply ``bends`` in order (whatever their ``layer``; the caller selects them)."""
    for bend in bends:
        x = apply_bend(x, bend)
    return x
