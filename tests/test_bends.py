"""Network-bending ops: shapes, known outputs, channel selection, neutral fast path."""

from __future__ import annotations

import math

import pytest
import torch

from livegan.errors import LiveganError
from livegan.models.base import BEND_OPS, Bend, PerSample
from livegan.models.bends import apply_bend, apply_bends, is_neutral


def _x(c: int = 4, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, c, h, w, generator=g)


def B(op: str, amount, channels: float = 1.0) -> Bend:  # noqa: N802 - short test helper
    return Bend("b0", op, amount, channels)


NON_NEUTRAL = {
    "translate": (0.25, -0.125),
    "rotate": 30.0,
    "scale": 1.5,
    "flip": "hv",
    "erode": 1.0,
    "dilate": 1.0,
    "multiply": 2.0,
    "threshold": 0.1,
    "invert": 0.7,
    "ablate": 0.5,
}
NEUTRAL = {
    "translate": (0.0, 0.0),
    "rotate": 0.0,
    "scale": 1.0,
    "flip": "",
    "erode": 0.0,
    "dilate": 0.0,
    "multiply": 1.0,
    "threshold": -math.inf,
    "invert": 0.0,
    "ablate": 0.0,
}


def test_tables_cover_every_op() -> None:
    assert set(NON_NEUTRAL) == set(BEND_OPS) == set(NEUTRAL)


@pytest.mark.parametrize("op", BEND_OPS)
def test_shape_kept_and_changes(op: str) -> None:
    x = _x(h=8, w=12)
    y = apply_bend(x, B(op, NON_NEUTRAL[op]))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert not torch.equal(y, x)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("op", BEND_OPS)
def test_neutral_is_identity_fast_path(op: str) -> None:
    x = _x()
    assert is_neutral(B(op, NEUTRAL[op]))
    assert apply_bend(x, B(op, NEUTRAL[op])) is x
    # Zero channels selected: also untouched.
    assert apply_bend(x, B(op, NON_NEUTRAL[op], channels=0.0)) is x


@pytest.mark.parametrize("op", BEND_OPS)
def test_only_first_channels_touched(op: str) -> None:
    x = _x(c=8)
    y = apply_bend(x, B(op, NON_NEUTRAL[op], channels=0.5))
    assert torch.equal(y[:, 4:], x[:, 4:])
    assert not torch.equal(y[:, :4], x[:, :4])
    # Same result on the selected channels as bending them alone.
    assert torch.allclose(y[:, :4], apply_bend(x[:, :4], B(op, NON_NEUTRAL[op])))


def test_input_not_modified_in_place() -> None:
    x = _x()
    before = x.clone()
    for op in BEND_OPS:
        apply_bend(x, B(op, NON_NEUTRAL[op], channels=0.5))
    assert torch.equal(x, before)


def test_flip_twice_is_identity_and_matches_torch_flip() -> None:
    x = _x(h=6, w=10)
    for a in ("h", "v", "hv"):
        once = apply_bend(x, B("flip", a))
        assert torch.equal(apply_bend(once, B("flip", a)), x)
    assert torch.equal(apply_bend(x, B("flip", "h")), torch.flip(x, (3,)))
    assert torch.equal(apply_bend(x, B("flip", "v")), torch.flip(x, (2,)))
    assert torch.equal(apply_bend(x, B("flip", 1.0)), torch.flip(x, (3,)))
    assert apply_bend(x, B("flip", 0.2)) is x


def test_rotate_90_matches_rot90_counter_clockwise() -> None:
    x = _x(h=8, w=8)
    assert torch.allclose(apply_bend(x, B("rotate", 90.0)), torch.rot90(x, 1, (2, 3)), atol=1e-5)
    assert torch.allclose(apply_bend(x, B("rotate", -90.0)), torch.rot90(x, -1, (2, 3)), atol=1e-5)
    # 180 degrees on a non-square map is a double flip.
    x = _x(h=6, w=10)
    assert torch.allclose(apply_bend(x, B("rotate", 180.0)), torch.flip(x, (2, 3)), atol=1e-5)


def test_translate_wraps_whole_and_fractional_pixels() -> None:
    x = _x(h=8, w=8)
    # +dx moves content right, +dy down, wrapping around.
    assert torch.allclose(apply_bend(x, B("translate", (0.25, 0.0))), torch.roll(x, 2, 3))
    assert torch.allclose(apply_bend(x, B("translate", (0.0, -0.125))), torch.roll(x, -1, 2))
    assert torch.allclose(apply_bend(x, B("translate", 0.5)), torch.roll(x, 4, 3))  # scalar = dx
    # A full turn is the identity; half a pixel is the mean of the two neighbours.
    assert torch.allclose(apply_bend(x, B("translate", (1.0, -1.0))), x, atol=1e-6)
    half = apply_bend(x, B("translate", (1 / 16, 0.0)))
    assert torch.allclose(half, 0.5 * (x + torch.roll(x, 1, 3)), atol=1e-6)


def test_scale_zooms_about_centre() -> None:
    # A centred bright square grows when zoomed in and shrinks when zoomed out.
    x = torch.zeros(1, 1, 16, 16)
    x[..., 6:10, 6:10] = 1.0
    big = apply_bend(x, B("scale", 2.0))
    small = apply_bend(x, B("scale", 0.5))
    assert big.sum() > 2.5 * x.sum() and small.sum() < 0.5 * x.sum()
    assert torch.allclose(big, torch.flip(big, (2, 3)), atol=1e-6)  # stays centred
    assert (big[..., 0, :] == 0).all()
    # Zoom 2 on a linear ramp halves its slope around the centre.
    ramp = torch.linspace(-1, 1, 16).expand(1, 1, 16, 16).contiguous()
    z = apply_bend(ramp, B("scale", 2.0))
    assert torch.allclose(z[..., 4:12], ramp[..., 4:12] / 2, atol=0.07)


def test_erode_dilate_are_min_max_filters() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[..., 4, 4] = 1.0
    d = apply_bend(x, B("dilate", 1.0))
    assert d.sum() == 9 and d[..., 3:6, 3:6].min() == 1
    d2 = apply_bend(x, B("dilate", 2.0))
    assert d2.sum() == 25
    # A 3x3 block erodes to its centre pixel with radius 1.
    e = apply_bend(d, B("erode", 1.0))
    assert torch.equal(e, x)
    # Fractional radius blends the neighbouring radii.
    half = apply_bend(x, B("dilate", 0.5))
    assert torch.allclose(half, 0.5 * (x + d))
    xr = _x()
    assert (apply_bend(xr, B("dilate", 1.0)) >= xr).all()
    assert (apply_bend(xr, B("erode", 1.0)) <= xr).all()


def test_pointwise_ops() -> None:
    x = _x()
    assert torch.allclose(apply_bend(x, B("multiply", -0.5)), -0.5 * x)
    assert torch.allclose(apply_bend(x, B("invert", 1.0)), -x)
    assert torch.allclose(apply_bend(x, B("invert", 0.5)), torch.zeros_like(x))
    t = apply_bend(x, B("threshold", 0.3))
    assert torch.equal(t, torch.where(x > 0.3, x, torch.zeros_like(x)))


def test_ablate_zeroes_fraction_of_selected_channels() -> None:
    x = _x(c=8) + 5.0  # no zeros to start with
    y = apply_bend(x, B("ablate", 0.25))
    assert torch.equal(y[:, :2], torch.zeros_like(y[:, :2]))
    assert torch.equal(y[:, 2:], x[:, 2:])
    # Half the channels selected, half of those ablated -> 2 of 8.
    y = apply_bend(x, B("ablate", 0.5, channels=0.5))
    assert (y[:, :2] == 0).all() and torch.equal(y[:, 2:], x[:, 2:])
    assert (apply_bend(x, B("ablate", 1.0)) == 0).all()


def test_apply_bends_in_order() -> None:
    x = _x()
    y = apply_bends(x, [B("multiply", 2.0), B("threshold", 1.0)])
    assert torch.equal(y, torch.where(2 * x > 1.0, 2 * x, torch.zeros_like(x)))
    assert apply_bends(x, []) is x


def test_channels_last_input() -> None:
    x = _x(c=8).contiguous(memory_format=torch.channels_last)
    for op in BEND_OPS:
        y = apply_bend(x, B(op, NON_NEUTRAL[op], channels=0.5))
        assert torch.allclose(y, apply_bend(x.contiguous(), B(op, NON_NEUTRAL[op], channels=0.5)))


@pytest.mark.parametrize(
    "op, amount",
    [
        ("translate", "left"),
        ("translate", (1.0,)),
        ("rotate", "x"),
        ("rotate", math.inf),
        ("scale", 0.0),
        ("scale", -1.0),
        ("flip", "diag"),
        ("erode", -1.0),
        ("multiply", math.nan),
    ],
)
def test_bad_amount_is_user_error(op: str, amount) -> None:
    with pytest.raises(LiveganError, match=op):
        apply_bend(_x(), B(op, amount))


@pytest.mark.parametrize("op", sorted(NON_NEUTRAL))
def test_per_sample_amounts_bend_each_sample_as_if_alone(op: str) -> None:
    x = _x(c=6)
    amounts = PerSample([NON_NEUTRAL[op], NEUTRAL[op]])
    out = apply_bend(x, B(op, amounts, channels=0.5))
    for i, a in enumerate(amounts):  # exact: per-sample amounts run this very single-sample path
        assert torch.equal(out[i:i + 1], apply_bend(x[i:i + 1], B(op, a, channels=0.5)))
    assert is_neutral(B(op, PerSample([NEUTRAL[op]] * 2))) and not is_neutral(B(op, amounts))
    with pytest.raises(LiveganError, match="3 per-sample amounts for a batch of 2"):
        apply_bend(x, B(op, PerSample([NON_NEUTRAL[op]] * 3)))
