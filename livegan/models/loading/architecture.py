"""What a model file's own kwargs say the network is, checked before any array exists.

A file declares its generator twice: in the constructor kwargs (``G_ema._init_kwargs``
of a pickle, ``kwargs`` of a native file) and in its tensor records. Both come from the
file, so both are checked: the kwargs against what NVIDIA's trainers can produce
(:func:`check_kwargs`), then every tensor's shape against the architecture those kwargs
(and the pickled attributes) describe (:func:`check_shapes`). The architecture's shapes are
computed from its config, never allocated, so a file that claims a 4096-channel network
costs nothing to refuse.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ...errors import LiveganError

# (lowest, highest) for integer kwargs, wherever they sit (top level, synthesis_kwargs,
# mapping_kwargs). Bounds are what NVIDIA's trainers accept, with room to spare.
MAX_CHANNELS = 4096
INT_LIMITS: dict[str, tuple[int, int]] = {
    "img_resolution": (4, 4096),
    "img_channels": (1, 4),
    "z_dim": (0, 4096),
    "w_dim": (1, 4096),
    "c_dim": (0, 100_000),
    "channel_base": (1, 1 << 20),
    "channel_max": (1, MAX_CHANNELS),
    "num_fp16_res": (0, 16),
    "num_critical": (0, 64),
    "margin_size": (0, 256),
    "conv_kernel": (1, 15),
    "kernel_size": (1, 15),
    "filter_size": (1, 64),
    "lrelu_upsampling": (1, 16),
    "embed_features": (1, MAX_CHANNELS),
    "layer_features": (1, MAX_CHANNELS),
}
NULLABLE = ("embed_features", "layer_features")  # None: the builder's default (w_dim), as legacy.py writes
MAX_LAYERS = 64  # mapping layers (NVIDIA: 2 or 8) and StyleGAN3 synthesis layers (NVIDIA: 14 + 1)
POSITIVE_FLOATS = ("first_cutoff", "first_stopband", "last_stopband_rel")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_field(where: str, value: Any, lo: int, hi: int, power_of_two: bool = False) -> None:
    if type(value) is not int:
        raise LiveganError(f"{where} = {_short(value)} is not an integer")
    ok = lo <= value <= hi and (not power_of_two or value & (value - 1) == 0)
    if not ok:
        what = f"a power of two from {lo} to {hi}" if power_of_two else f"{lo} to {hi}"
        raise LiveganError(f"{where} = {value} is out of range ({what})")


def _check_fields(where: str, values: Mapping[str, Any], sg3: bool, nested: bool) -> None:
    for key, value in values.items():
        at = f"{where}.{key}"
        if key == "num_layers":  # mapping layers, or StyleGAN3 synthesis layers at the top level
            _int_field(at, value, 1, MAX_LAYERS)
        elif key == "img_resolution":
            _int_field(at, value, *INT_LIMITS[key], power_of_two=not sg3)
        elif key in INT_LIMITS and not (value is None and key in NULLABLE):
            _int_field(at, value, *INT_LIMITS[key])
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, float) and not math.isfinite(value):
            raise LiveganError(f"{at} = {value} is not a finite number")
        elif key in POSITIVE_FLOATS and (not isinstance(value, (int, float)) or value <= 0):
            raise LiveganError(f"{at} = {_short(value)} is out of range (a positive number)")
        elif key == "conv_clamp" and (not isinstance(value, (int, float)) or value < 0):
            raise LiveganError(f"{at} = {_short(value)} is out of range (none or a number >= 0)")
        elif isinstance(value, Mapping) and not nested and key in ("mapping_kwargs", "synthesis_kwargs"):
            _check_fields(at, value, sg3, nested=True)
        elif isinstance(value, Mapping) or isinstance(value, list):
            continue  # options the builder does not read
        elif not isinstance(value, (int, float)):
            raise LiveganError(f"{at} has an unsupported value type {type(value).__name__}")


def check_kwargs(kwargs: Mapping[str, Any], where: str, sg3: bool = False) -> None:
    """Refuse constructor kwargs no NVIDIA trainer writes; the one-line message names the field."""
    if "img_resolution" not in kwargs:
        raise LiveganError(f"{where}.img_resolution is missing")
    for key in ("mapping_kwargs", "synthesis_kwargs"):
        if key in kwargs and not isinstance(kwargs[key], Mapping):
            raise LiveganError(f"{where}.{key} is not a dict")
    _check_fields(where, kwargs, sg3, nested=False)


def _check_attrs(attrs: Mapping[str, Any], attrs_where: str) -> None:
    names = (attrs.get("synthesis") or {}).get("attributes", {}).get("layer_names")
    if names is not None and (not isinstance(names, list) or len(names) > MAX_LAYERS + 1):
        count = len(names) if isinstance(names, list) else type(names).__name__
        raise LiveganError(f"{attrs_where}.synthesis.layer_names has {count} entries (limit {MAX_LAYERS + 1})")


def family_of(names: Any) -> str:
    """'stylegan3' or 'stylegan2' from the tensor names (how the model code tells them apart)."""
    names = set(names)
    if "synthesis.input.freqs" in names:
        return "stylegan3"
    if any(n.startswith("synthesis.b") for n in names):
        return "stylegan2"
    raise LiveganError("checkpoint is neither StyleGAN2 (synthesis.b*) nor StyleGAN3 (synthesis.input.freqs)")


Shapes = dict[str, tuple[int, ...]]


def _fc(out: Shapes, name: str, n_in: int, n_out: int) -> None:
    out[f"{name}.weight"], out[f"{name}.bias"] = (n_out, n_in), (n_out,)


def _mapping_shapes(m: Any, out: Shapes) -> None:
    widths = m.widths()
    if m.c_dim > 0:
        _fc(out, "mapping.embed", m.c_dim, m.embed_dim())
    for i in range(m.num_layers):
        _fc(out, f"mapping.fc{i}", widths[i], widths[i + 1])
    out["mapping.w_avg"] = (m.w_dim,)


def _sg2_shapes(cfg: Any, where: str, attrs_where: str) -> Shapes:
    out: Shapes = {}
    _mapping_shapes(cfg.mapping, out)
    w_dim, used = cfg.mapping.w_dim, 0
    for b in cfg.blocks:
        p, r, cout, k = f"synthesis.b{b.resolution}", b.resolution, b.out_channels, b.conv_kernel
        if b.architecture not in ("skip", "orig"):
            raise LiveganError(f"{where}: StyleGAN2 architecture {str(b.architecture)[:20]!r} is not supported "
                               "(only 'skip', 'orig')")
        convs = [("conv1", cout, cout)] if b.in_channels == 0 else [("conv0", b.in_channels, cout), ("conv1", cout, cout)]
        if b.in_channels == 0:
            out[f"{p}.const"] = (cout, r, r)
        for name, n_in, n_out in convs:
            _fc(out, f"{p}.{name}.affine", w_dim, n_in)
            out[f"{p}.{name}.weight"], out[f"{p}.{name}.bias"] = (n_out, n_in, k, k), (n_out,)
            out[f"{p}.{name}.resample_filter"] = (4, 4)
            if b.layers[name].use_noise:
                out[f"{p}.{name}.noise_strength"], out[f"{p}.{name}.noise_const"] = (), (r, r)
        if b.num_torgb:
            _fc(out, f"{p}.torgb.affine", w_dim, cout)
            out[f"{p}.torgb.weight"], out[f"{p}.torgb.bias"] = (b.img_channels, cout, 1, 1), (b.img_channels,)
        out[f"{p}.resample_filter"] = (4, 4)
        used += b.num_conv
    need_ws = used + (cfg.blocks[-1].num_torgb if cfg.blocks else 0)
    if need_ws != cfg.mapping.num_ws:
        raise LiveganError(f"{attrs_where}.num_ws = {cfg.mapping.num_ws} disagrees with the {need_ws} ws the "
                           f"stylegan2 network of {where} uses")
    return out


def _sg3_shapes(cfg: Any, where: str) -> Shapes:
    out: Shapes = {}
    _mapping_shapes(cfg.mapping, out)
    w_dim, c = cfg.mapping.w_dim, cfg.input.channels
    out.update({"synthesis.input.weight": (c, c), "synthesis.input.transform": (3, 3),
                "synthesis.input.freqs": (c, 2), "synthesis.input.phases": (c,)})
    _fc(out, "synthesis.input.affine", w_dim, 4)
    for lc in cfg.layers:
        p, k = f"synthesis.{lc.name}", lc.conv_kernel
        _fc(out, f"{p}.affine", w_dim, lc.in_channels)
        out[f"{p}.weight"], out[f"{p}.bias"] = (lc.out_channels, lc.in_channels, k, k), (lc.out_channels,)
        out[f"{p}.magnitude_ema"] = ()
        if lc.up_taps > 1:
            out[f"{p}.up_filter"] = (lc.up_taps,)
        if lc.down_taps > 1:
            out[f"{p}.down_filter"] = (lc.down_taps,) * (2 if lc.down_radial else 1)
    if cfg.mapping.num_ws != len(cfg.layers) + 1:
        raise LiveganError(f"the {len(cfg.layers)} layers of the stylegan3 network of {where} need "
                           f"{len(cfg.layers) + 1} ws, the mapping gives {cfg.mapping.num_ws}")
    return out


def architecture_shapes(kwargs: Mapping[str, Any], attrs: Mapping[str, Any], family: str,
                        where: str = "kwargs", attrs_where: str = "attrs") -> Shapes:
    """Tensor name -> shape of the network ``kwargs``/``attrs`` describe, computed, not allocated.

    The configs come from the builders ``build_from_official`` uses; given no tensors, they
    take every size from kwargs and attributes alone. The name/shape layout mirrors the
    model modules (tests/test_loader_security.py checks them against real models).
    """
    from ..official import _Attrs, _sg2_config, _sg3_config  # noqa: PLC0415 - model code is large

    a = _Attrs(attrs)
    if family == "stylegan3":
        return _sg3_shapes(_sg3_config(dict(kwargs), a, {}), where)
    return _sg2_shapes(_sg2_config(dict(kwargs), a, {}), where, attrs_where)


def check_shapes(kwargs: Mapping[str, Any], attrs: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                 where: str, attrs_where: str) -> None:
    """Every tensor has the shape the architecture needs, and no tensor is missing or extra.

    ``where``/``attrs_where`` name the kwargs and the attributes in messages.
    """
    family = family_of(shapes)
    check_kwargs(kwargs, where, sg3=family == "stylegan3")
    _check_attrs(attrs, attrs_where)
    try:
        need = architecture_shapes(kwargs, attrs, family, where, attrs_where)
    except LiveganError:
        raise
    except Exception as exc:  # noqa: BLE001 - in-range but inconsistent settings: one line, not a traceback
        raise LiveganError(f"{where} describe no buildable {family} network "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    net = f"the {family} network of {where}"
    for name, shape in shapes.items():
        if name not in need:
            raise LiveganError(f"tensor '{name}' is not part of {net}")
        if tuple(shape) != need[name]:
            raise LiveganError(f"tensor '{name}' has shape {list(shape)} but {net} needs {list(need[name])}")
    missing = [name for name in need if name not in shapes]
    if missing:
        raise LiveganError(f"tensor '{missing[0]}' is missing ({len(missing)} tensors of {net} are absent)")


def pickle_check(kwargs: dict, attrs: dict, shapes: dict[str, tuple[int, ...]]) -> None:
    """``network_from_record``'s check for NVIDIA pickles."""
    check_shapes(kwargs, attrs, shapes, "G_ema._init_kwargs", "G_ema")
