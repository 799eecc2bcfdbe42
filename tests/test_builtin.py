"""The embedded builtin generator: determinism, picture statistics, styles, noise, bends, transform,
for every world."""

from __future__ import annotations

import math

import pytest
import torch

from livegan.errors import LiveganError
from livegan.models.base import Bend, NoiseSpec, make_transform
from livegan.models.builtin import DEFAULT_WORLD, WORLD_NAMES, WORLDS, BuiltinGenerator
from livegan.models.load import load_generator, parse_builtin

torch.set_num_threads(1)


@pytest.fixture(scope="module", params=WORLD_NAMES)
def GW(request) -> BuiltinGenerator:
    """Each world at 64 px."""
    return BuiltinGenerator(seed=0, resolution=64, world=request.param).eval()


@pytest.fixture(scope="module")
def G() -> BuiltinGenerator:
    return BuiltinGenerator(seed=0, resolution=64).eval()


@pytest.fixture(scope="module")
def G128() -> BuiltinGenerator:
    return BuiltinGenerator(seed=1, resolution=128).eval()


def _ws(G: BuiltinGenerator, n: int, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    return G.mapping(z, truncation_psi=psi)


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().mean().item()


# ---- shape facts, determinism ---------------------------------------------------------


def test_shape_facts_and_layer_groups(G: BuiltinGenerator) -> None:
    assert G.family == "builtin" and G.c_dim == 0
    assert G.num_ws == len(G.layers) and 8 <= G.num_ws <= 12
    assert G.w_avg.shape == (G.w_dim,)
    assert [layer.w_index for layer in G.layers] == list(range(G.num_ws))
    res = [layer.resolution for layer in G.layers]
    assert res == sorted(res) and res[-1] == G.render_resolution == 96
    assert any(layer.has_noise for layer in G.layers)
    groups = G.layer_groups()
    assert all(groups[k] for k in ("coarse", "middle", "fine"))
    assert sorted(sum(groups.values(), [])) == list(range(G.num_ws))
    info = G.describe()
    assert info["family"] == "builtin" and info["params"] > 0 and len(info["layers"]) == G.num_ws


def test_output_shape_range_and_dtype(G: BuiltinGenerator) -> None:
    img = G.synthesis(_ws(G, 2))
    assert img.shape == (2, 3, 64, 64) and img.dtype == torch.float32
    assert torch.isfinite(img).all()
    assert img.min() >= -1.0 and img.max() <= 1.0
    # forward = mapping + synthesis
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(3))
    assert torch.equal(G(z), G.synthesis(G.mapping(z)))


def test_resolution_and_render_resolution() -> None:
    G = BuiltinGenerator(seed=0, resolution=160, render_resolution=100)
    ws = _ws(G, 1)
    big = G.synthesis(ws)
    assert big.shape == (1, 3, 160, 160) and big.abs().max() <= 1.0
    assert G.layers[-1].resolution == 100
    # Smaller output than the render: an antialiased resize of the same picture.
    small = BuiltinGenerator(seed=0, resolution=40, render_resolution=100).synthesis(ws)
    assert small.shape == (1, 3, 40, 40) and small.abs().max() <= 1.0
    shrunk = torch.nn.functional.interpolate(big, size=(40, 40), mode="area")
    assert _diff(small, shrunk) < 0.1 < _diff(small, torch.flip(shrunk, (3,)))
    for bad in ({"resolution": 8}, {"resolution": 64, "render_resolution": 32}):
        with pytest.raises(LiveganError, match="resolution"):
            BuiltinGenerator(**bad)


def test_same_seed_same_weights_and_pictures_different_seed_differs(GW: BuiltinGenerator) -> None:
    again = BuiltinGenerator(seed=0, resolution=64, world=GW.world)
    other = BuiltinGenerator(seed=1, resolution=64, world=GW.world)
    sd, sd2 = GW.state_dict(), again.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)
    z = torch.randn(2, GW.z_dim, generator=torch.Generator().manual_seed(5))
    # The same code path on both sides: bit-identical on purpose.
    assert torch.equal(GW.synthesis(GW.mapping(z)), again.synthesis(again.mapping(z)))
    assert _diff(GW.synthesis(GW.mapping(z)), other.synthesis(other.mapping(z))) > 0.05


def test_worlds_share_the_w_space_and_switch_by_spec_or_sibling(G: BuiltinGenerator) -> None:
    assert tuple(WORLDS) == WORLD_NAMES and G.world == DEFAULT_WORLD
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(5))
    pictures = {}
    for name in WORLD_NAMES:
        sib = G.with_world(name)
        assert sib.world == name and sib.with_world(name) is sib and sib.with_world(G.world) is G
        assert torch.equal(sib.mapping(z), G.mapping(z)) and torch.equal(sib.w_avg, G.w_avg)
        assert [layer.name for layer in sib.layers] == [layer.name for layer in G.layers]
        pictures[name] = sib.synthesis(G.mapping(z))
    assert min(_diff(pictures[a], pictures[b]) for a in WORLD_NAMES for b in WORLD_NAMES if a < b) > 0.05
    assert parse_builtin("builtin") == parse_builtin("builtin:0")
    assert (parse_builtin("builtin:cells:7").world, parse_builtin("builtin:cells:7").seed) == ("cells", 7)
    assert (parse_builtin("builtin:opart").world, parse_builtin("builtin:12").seed) == ("opart", 12)
    assert parse_builtin("model.pkl") is None
    gen = load_generator("builtin:grain:3")
    assert gen.world == "grain" and gen.seed == 3 and gen.describe()["world"] == "grain"
    for bad in ("builtin:fog", "builtin:ink:x", "builtin:ink:1:2"):
        with pytest.raises(LiveganError, match="worlds: ink"):
            parse_builtin(bad)
    with pytest.raises(LiveganError, match="unknown world 'fog'"):
        BuiltinGenerator(world="fog")


def test_batch_matches_single_samples(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 3)
    batch = GW.synthesis(ws)
    for i in range(3):
        assert torch.allclose(batch[i : i + 1], GW.synthesis(ws[i : i + 1]), atol=1e-3)


# ---- mapping and truncation --------------------------------------------------------------


def test_mapping_spread_and_truncation(G: BuiltinGenerator) -> None:
    ws = _ws(G, 64)
    assert ws.shape == (64, G.num_ws, G.w_dim)
    assert torch.equal(ws[:, 0], ws[:, -1])  # one w broadcast to every layer
    spread = ws[:, 0].std(dim=0).mean().item()
    assert 0.5 < spread < 2.0
    # psi = 0 gives w_avg everywhere; psi = 0.5 halves the distance to it.
    assert torch.allclose(_ws(G, 4, psi=0.0), G.w_avg.expand(4, G.num_ws, -1), atol=1e-5)
    half = _ws(G, 4, psi=0.5)
    assert torch.allclose(half - G.w_avg, 0.5 * (_ws(G, 4) - G.w_avg), atol=1e-5)
    # Truncated pictures are closer to the average picture than untruncated ones.
    avg_img = G.synthesis(G.w_avg.expand(1, G.num_ws, -1))
    full, trunc = G.synthesis(_ws(G, 4)), G.synthesis(_ws(G, 4, psi=0.3))
    assert _diff(trunc, avg_img) < _diff(full, avg_img)
    with pytest.raises(ValueError):
        G.mapping(torch.zeros(1, G.z_dim + 1))


# ---- what the pictures look like ---------------------------------------------------------


def _hue_bins(img: torch.Tensor, bins: int = 12) -> list[int]:
    """Per image: how many of ``bins`` hue bins hold >= 3% of its saturated pixels."""
    x = (img + 1) / 2
    sat = x.max(dim=1).values - x.min(dim=1).values
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    hue = torch.atan2(math.sqrt(3) * (g - b), 2 * r - g - b)
    out = []
    for i in range(img.shape[0]):
        h = hue[i][sat[i] > 0.15]
        hist = torch.histc(h, bins=bins, min=-math.pi, max=math.pi) / max(h.numel(), 1)
        out.append(int((hist >= 0.03).sum()))
    return out


def test_pictures_are_structured_not_noise_not_flat(GW: BuiltinGenerator) -> None:
    img = GW.synthesis(_ws(GW, 4, seed=11))
    centred = img - img.mean(dim=(2, 3), keepdim=True)
    # Neighbouring pixels are correlated (white noise: ~0; the grain world is the grainiest) ...
    autocorr = (centred[..., 1:] * centred[..., :-1]).mean(dim=(1, 2, 3)) / centred.square().mean(dim=(1, 2, 3))
    assert (autocorr > 0.3).all(), autocorr
    # ... and the picture is far from flat.
    assert (img.std(dim=(1, 2, 3)) > 0.1).all(), img.std(dim=(1, 2, 3))
    assert img.min() < -0.8  # every world reaches (near) black


def test_worlds_differ_in_structure_not_only_colour() -> None:
    """Grey-level radial power spectra of the worlds differ (what tools/looks.py measures per preset)."""
    spectra = {}
    for name in WORLD_NAMES:
        G = BuiltinGenerator(seed=0, resolution=96, world=name)
        g = G.synthesis(_ws(G, 4, seed=2, psi=0.8)).mean(dim=1)
        power = torch.fft.fftshift(torch.fft.fft2(g - g.mean(dim=(1, 2), keepdim=True)).abs().square(), dim=(1, 2))
        yy, xx = torch.meshgrid(torch.arange(96) - 48, torch.arange(96) - 48, indexing="ij")
        r = (yy.square() + xx.square()).sqrt().round().long().flatten()
        radial = torch.zeros(49).index_add_(0, r.clamp(max=48), power.mean(0).flatten())[1:48]
        radial = torch.log10(radial / torch.bincount(r.clamp(max=48), minlength=49)[1:48] + 1e-9)
        spectra[name] = radial - radial.mean()
    far = sum((spectra[a] - spectra[b]).abs().mean().item() >= 0.3
              for i, a in enumerate(WORLD_NAMES) for b in WORLD_NAMES[i + 1:])
    pairs = len(WORLD_NAMES) * (len(WORLD_NAMES) - 1) // 2
    assert far >= pairs // 2, spectra


def test_small_ws_steps_make_small_changes(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 2, seed=4)
    a, d = ws[:1], ws[1:] - ws[:1]
    base = GW.synthesis(a)
    changes = [_diff(GW.synthesis(a + t * d), base) for t in (0.005, 0.02, 0.08, 0.3)]
    assert changes[0] < 0.03
    assert changes == sorted(changes) and changes[-1] > 3 * changes[0]
    # Interpolation frames: consecutive frames differ much less than the ends.
    t = torch.linspace(0, 1, 17)[:, None, None]
    frames = GW.synthesis(a * (1 - t) + ws[1:] * t)
    steps = (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))
    assert steps.max() < 0.5 * _diff(frames[0], frames[-1])


def _structure(img: torch.Tensor) -> torch.Tensor:
    g = img.mean(dim=1)
    return ((g[:, 1:, :-1] - g[:, :-1, :-1]).square() + (g[:, :-1, 1:] - g[:, :-1, :-1]).square()).sqrt().flatten(1)


def _corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def test_style_mixing_coarse_moves_structure_more_than_fine(G: BuiltinGenerator) -> None:
    ws = _ws(G, 12, seed=7)
    a, b = ws[:6], ws[6:]
    base = G.synthesis(a)
    kept = {}
    for name, idx in G.layer_groups().items():
        mixed = a.clone()
        mixed[:, idx] = b[:, idx]
        img = G.synthesis(mixed)
        assert _diff(img, base) > 0.05, name
        kept[name] = _corr(_structure(img), _structure(base)).mean().item()
    assert kept["fine"] > kept["coarse"] + 0.05, kept


def test_style_mixing_moves_every_world_at_every_depth(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 8, seed=7)
    a, b = ws[:4], ws[4:]
    base = GW.synthesis(a)
    for name, idx in GW.layer_groups().items():
        mixed = a.clone()
        mixed[:, idx] = b[:, idx]
        assert _diff(GW.synthesis(mixed), base) > 0.02, name


# ---- noise ---------------------------------------------------------------------------


def test_noise_modes(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 2)
    none = GW.synthesis(ws, noise=NoiseSpec("none"))
    const = GW.synthesis(ws, noise=NoiseSpec("const"))
    assert _diff(none, const) > 0.01
    assert torch.equal(const, GW.synthesis(ws))  # const is the default
    r1 = GW.synthesis(ws, noise=NoiseSpec("random", seed=3))
    assert torch.equal(r1, GW.synthesis(ws, noise=NoiseSpec("random", seed=3)))
    assert _diff(r1, GW.synthesis(ws, noise=NoiseSpec("random", seed=4))) > 0.01
    assert _diff(r1, const) > 0.01
    # Strength: 0 is exactly 'none', more is further from 'none'.
    assert torch.equal(GW.synthesis(ws, noise=NoiseSpec("const", strength=0.0)), none)
    weak = GW.synthesis(ws, noise=NoiseSpec("const", strength=0.5))
    strong = GW.synthesis(ws, noise=NoiseSpec("const", strength=3.0))
    assert _diff(weak, none) < _diff(strong, none)


def test_noise_per_layer_and_per_sample_strength(G: BuiltinGenerator) -> None:
    ws = _ws(G, 2)
    noisy = [layer.name for layer in G.layers if layer.has_noise]
    none = G.synthesis(ws, noise=NoiseSpec("none"))
    only_first = NoiseSpec("const", strength=0.0, layer_strength={noisy[0]: 1.0})
    assert _diff(G.synthesis(ws, noise=only_first), none) > 0.005
    all_off = NoiseSpec("const", layer_strength={n: 0.0 for n in noisy})
    assert torch.equal(G.synthesis(ws, noise=all_off), none)
    # A [B] strength tensor: sample 0 without noise, sample 1 with.
    per_sample = G.synthesis(ws, noise=NoiseSpec("const", strength=torch.tensor([0.0, 1.0])))
    assert torch.allclose(per_sample[0], none[0], atol=1e-6)
    assert torch.allclose(per_sample[1], G.synthesis(ws)[1], atol=1e-6)


def test_given_noise_maps_are_used(G: BuiltinGenerator) -> None:
    ws = _ws(G, 1)
    layer = next(layer for layer in G.layers if layer.has_noise)
    zero = {layer.name: torch.zeros(1, 1, layer.resolution, layer.resolution)}
    ones = {layer.name: torch.ones(1, 1, layer.resolution, layer.resolution) * 2}
    const = G.synthesis(ws)
    with_zero = G.synthesis(ws, noise=NoiseSpec("given", maps=zero))
    with_ones = G.synthesis(ws, noise=NoiseSpec("given", maps=ones))
    assert _diff(with_zero, const) > 0.005 and _diff(with_ones, with_zero) > 0.01
    # The const map given explicitly reproduces 'const'; other layers fall back to const.
    const_map = {layer.name: getattr(G, f"noise_const_{layer.name}")}
    assert torch.equal(G.synthesis(ws, noise=NoiseSpec("given", maps=const_map)), const)
    bad = {layer.name: torch.zeros(1, 1, 5, 5)}
    with pytest.raises(LiveganError, match=layer.name):
        G.synthesis(ws, noise=NoiseSpec("given", maps=bad))
    with pytest.raises(LiveganError, match="nope"):
        G.synthesis(ws, noise=NoiseSpec("given", maps={"nope": torch.zeros(1, 1, 5, 5)}))


# ---- bends and transform -----------------------------------------------------------------


def test_bends_change_the_picture_at_every_layer(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 1)
    base = GW.synthesis(ws)
    for layer in GW.layers:
        bent = GW.synthesis(ws, bends=[Bend(layer.name, "rotate", 45.0)])
        assert _diff(bent, base) > 0.01, layer.name
        assert bent.shape == base.shape
    # Neutral bends leave it alone.
    assert torch.equal(GW.synthesis(ws, bends=[Bend("conv32a", "multiply", 1.0)]), base)
    # Bending a quarter of the channels is a different picture from bending all of them.
    part = GW.synthesis(ws, bends=[Bend("conv32a", "ablate", 1.0, channels=0.25)])
    full = GW.synthesis(ws, bends=[Bend("conv32a", "ablate", 1.0)])
    assert min(_diff(part, base), _diff(part, full)) > 0.01
    with pytest.raises(LiveganError, match="nope"):
        GW.synthesis(ws, bends=[Bend("nope", "rotate", 1.0)])


def test_palette_bend_acts_on_rgb(G: BuiltinGenerator) -> None:
    ws = _ws(G, 1)
    base = G.synthesis(ws)
    flipped = G.synthesis(ws, bends=[Bend("palette", "flip", "h")])
    assert torch.allclose(flipped, torch.flip(base, (3,)), atol=1e-5)
    # invert on the last layer is the photographic negative of the picture
    negative = G.synthesis(ws, bends=[Bend("palette", "invert", 1.0)])
    assert torch.allclose(negative, -base, atol=1e-5)


def _nearly_same(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal to float32 interpolation error, but for at most 1% of pixels a little more."""
    d = (a - b).abs()
    assert (d > 2e-3).float().mean() < 0.01 and d.max() < 0.05, (d.max(), (d > 2e-3).float().mean())


def test_transform_translates_and_rotates_the_picture(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 2)
    # The grain world's grain is the film's, fixed to the screen: move the scene without it.
    noise = NoiseSpec("none") if GW.world == "grain" else None
    base = GW.synthesis(ws, noise=noise)
    # 0.25 image widths = 16 px right; 0.125 = 8 px down (whole pixels at every stage here;
    # the border pixels differ by the resizes' and edge filters' edge handling, and a
    # strongly warped world may reach the canvas's edge, where the convs' padding shows).
    right = GW.synthesis(ws, noise=noise, transform=make_transform((0.25, 0.0)))
    _nearly_same(right[..., 4:-4, 20:-4], base[..., 4:-4, 4:-20])
    down = GW.synthesis(ws, noise=noise, transform=make_transform((0.0, 0.125)))
    _nearly_same(down[..., 12:-4, 4:-4], base[..., 4:-12, 4:-4])
    assert _diff(right, base) > 0.05
    turned = GW.synthesis(ws, noise=noise, transform=make_transform(rotate_deg=90.0))
    assert torch.allclose(turned, torch.rot90(base, 1, (2, 3)), atol=2e-3)
    # Exact: the identity maps each point with products by 1 and 0 and sums with 0, all exact.
    assert torch.equal(GW.synthesis(ws, noise=noise, transform=make_transform()), base)


def test_transform_pans_far_with_noise_attached() -> None:
    G = BuiltinGenerator(seed=2, resolution=32)
    ws = _ws(G, 1)
    # Far from the start (the canvas has moved many cells), a further 1/4 width shift is
    # still an exact shift, const noise included.
    far = G.synthesis(ws, transform=make_transform((3.0, -2.0)))
    further = G.synthesis(ws, transform=make_transform((3.25, -2.0)))
    assert torch.allclose(further[..., 2:-2, 10:-2], far[..., 2:-2, 2:-10], atol=1e-3)
    assert _diff(far, G.synthesis(ws)) > 0.05
    # Sub-pixel pans change the picture a little, not a lot.
    nudged = G.synthesis(ws, transform=make_transform((3.005, -2.0)))
    assert 0 < _diff(nudged, far) < 0.1


def test_per_sample_transforms(GW: BuiltinGenerator) -> None:
    ws = _ws(GW, 2)
    t = torch.stack([make_transform((0.25, 0.0)), make_transform(rotate_deg=90.0)])
    both = GW.synthesis(ws, transform=t)
    assert torch.allclose(both[0], GW.synthesis(ws[:1], transform=t[0])[0], atol=1e-4)
    assert torch.allclose(both[1], GW.synthesis(ws[1:], transform=t[1])[0], atol=1e-4)


def test_precision_stays_float32_and_output_follows_ws_dtype(G: BuiltinGenerator) -> None:
    ws = _ws(G, 1)
    ref = G.synthesis(ws)
    for mode in ("fp16", "bf16", "auto"):
        G.set_precision(mode)
        assert G.w_avg.dtype == torch.float32
    out = G.synthesis(ws.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16 and _diff(out.float(), ref) < 0.02
    out64 = G.synthesis(ws.double())
    assert out64.dtype == torch.float64 and torch.allclose(out64.float(), ref, atol=1e-5)
    with pytest.raises(LiveganError, match="precision"):
        G.set_precision("int8")
