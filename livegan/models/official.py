"""Build our StyleGAN2/3 generators from NVIDIA checkpoint contents (no NVIDIA code runs).

``build_from_official(kwargs, state_dict, attrs)`` takes what a safe loader extracts from
a network pickle: ``G_ema``'s constructor kwargs, its state dict under NVIDIA's tensor
names, and optionally every module's pickled plain attributes, shaped like the
fixtures' ``pickled_module_attributes``: ``{dotted path: {"class_name": ..., "attributes":
{...}}}`` (``''`` or ``'<root>'`` for ``G_ema``; a bare attribute dict per path works
too). Attributes carry the effective settings; without them the settings are derived
from kwargs with the defaults of the repository that wrote the file (fact sheet §4.2).

``model_config(model)`` returns ``{"family", "init_kwargs", "attrs"}`` (JSON-able, attrs in
the same shape), so ``build_from_official(cfg["init_kwargs"], sd, cfg["attrs"])`` with
``sd = official_state_dict(model)`` rebuilds the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Mapping

import numpy as np
import torch

from livegan.errors import LiveganError
from livegan.models.stylegan2 import (BlockConfig, ConvSettings, MappingConfig, OfficialGenerator, StyleGAN2Config,
                                      StyleGAN2Generator)
from livegan.models.stylegan3 import (SG3InputConfig, SG3LayerConfig, StyleGAN3Config, StyleGAN3Generator,
                                      design_schedule)

TOP_LEVEL = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
SG3_SCHEDULE_KEYS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                     "last_stopband_rel", "margin_size", "num_fp16_res", "conv_kernel", "filter_size",
                     "lrelu_upsampling", "use_radial_filters", "conv_clamp")


# ---- attribute access -------------------------------------------------------------


def _plain(v: Any) -> Any:
    """numpy scalars/arrays and the fixtures' ``{"__ndarray__": ...}`` -> Python values."""
    if isinstance(v, dict) and "__ndarray__" in v:
        return _plain(v["__ndarray__"])
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


class _Attrs:
    def __init__(self, attrs: Mapping[str, Any] | None) -> None:
        self.raw = attrs or {}

    def __bool__(self) -> bool:
        return bool(self.raw)

    def of(self, path: str) -> dict:
        entry = self.raw.get(path)
        if entry is None and path == "":
            entry = self.raw.get("<root>")
        if entry is None:
            return {}
        if isinstance(entry, Mapping) and "attributes" in entry:
            entry = entry["attributes"]
        return {k: _plain(v) for k, v in dict(entry).items()}


def _shape(sd: Mapping[str, torch.Tensor], name: str) -> tuple[int, ...] | None:
    t = sd.get(name)
    return None if t is None else tuple(t.shape)


# ---- public entry points ----------------------------------------------------------


def build_from_official(kwargs: dict, state_dict: Mapping[str, torch.Tensor],
                        attrs: Mapping[str, Any] | None = None) -> OfficialGenerator:
    """Our generator for NVIDIA's ``G_ema`` (StyleGAN2, StyleGAN2-ADA, StyleGAN3-T/R)."""
    kwargs = {k: _plain(v) for k, v in dict(kwargs).items()}
    a = _Attrs(attrs)
    if "synthesis.input.freqs" in state_dict:
        model: OfficialGenerator = StyleGAN3Generator(_sg3_config(kwargs, a, state_dict), design_filters=False)
    elif any(k.startswith("synthesis.b") for k in state_dict):
        model = StyleGAN2Generator(_sg2_config(kwargs, a, state_dict))
    else:
        raise LiveganError("checkpoint is neither StyleGAN2 (synthesis.b*) nor StyleGAN3 (synthesis.input.freqs)")
    _load(model, state_dict)
    model._official = {"init_kwargs": kwargs}  # type: ignore[attr-defined]
    return model.eval().requires_grad_(False)


def random_official(family: str, resolution: int, seed: int = 0, **kwargs: Any) -> OfficialGenerator:
    """A randomly initialised full-size model ('stylegan2', 'stylegan3-t', 'stylegan3-r').

    ``kwargs`` are NVIDIA constructor kwargs (``channel_base``, ``channel_max``,
    ``z_dim``, ``w_dim``, ``c_dim``, ``mapping_layers`` ...), with train.py's defaults.
    """
    z_dim, w_dim = kwargs.pop("z_dim", 512), kwargs.pop("w_dim", 512)
    c_dim = kwargs.pop("c_dim", 0)
    top: dict[str, Any] = dict(z_dim=z_dim, w_dim=w_dim, c_dim=c_dim, img_resolution=resolution, img_channels=3)
    torch.manual_seed(seed)
    if family == "stylegan2":
        kw = dict(top, mapping_kwargs=dict(num_layers=kwargs.pop("mapping_layers", 8)), channel_base=32768,
                  channel_max=512)
        kw.update(kwargs)
        model: OfficialGenerator = StyleGAN2Generator(_sg2_config(kw, _Attrs(None), {}))
    elif family in ("stylegan3-t", "stylegan3-r"):
        kw = dict(top, mapping_kwargs=dict(num_layers=kwargs.pop("mapping_layers", 2)))
        if family == "stylegan3-r":
            kw.update(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)
        kw.update(kwargs)
        model = StyleGAN3Generator(_sg3_config(kw, _Attrs(None), {}))
    else:
        raise LiveganError(f"unknown model family {family!r} (stylegan2, stylegan3-t, stylegan3-r)")
    model._official = {"init_kwargs": kw}  # type: ignore[attr-defined]
    return model.eval().requires_grad_(False)


def official_state_dict(model: OfficialGenerator) -> dict[str, torch.Tensor]:
    """The model's tensors under NVIDIA's names (inverse of the loader's renaming)."""
    return {_official_name(name): t for name, t in model.state_dict().items()}


def model_config(model: OfficialGenerator) -> dict:
    """JSON-able ``{"family", "init_kwargs", "attrs"}``; see the module docstring."""
    cfg = model.cfg  # type: ignore[attr-defined]
    attrs = _mapping_attrs(cfg.mapping)
    attrs[""] = {"class_name": "Generator", "attributes": dict(
        z_dim=model.z_dim, c_dim=model.c_dim, w_dim=model.w_dim, img_resolution=model.resolution,
        img_channels=model.img_channels, num_ws=model.num_ws)}
    if isinstance(cfg, StyleGAN2Config):
        attrs.update(_sg2_attrs(cfg))
    else:
        attrs.update(_sg3_attrs(cfg))
    return {"family": model.family, "init_kwargs": model._official["init_kwargs"],  # type: ignore[attr-defined]
            "attrs": attrs}


# ---- state dict ---------------------------------------------------------------------


def _load(model: OfficialGenerator, sd: Mapping[str, torch.Tensor]) -> None:
    ours = {_our_name(name): t for name, t in sd.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in ours]
    unexpected = [k for k in ours if k not in expected]
    if missing or unexpected:
        what = f"missing {_official_name(missing[0])}" if missing else f"unexpected {_official_name(unexpected[0])}"
        raise LiveganError(f"checkpoint tensors do not match the {model.family} configuration: {what} "
                           f"({len(missing)} missing, {len(unexpected)} unexpected)")
    for k, t in ours.items():
        if tuple(t.shape) != tuple(expected[k].shape):
            raise LiveganError(f"checkpoint tensor {_official_name(k)} has shape {list(t.shape)}, "
                               f"the configuration needs {list(expected[k].shape)}")
    model.load_state_dict({k: t.to(torch.float32) for k, t in ours.items()}, strict=True)


# ``mapping``/``synthesis`` are methods of Generator, so our submodules carry a suffix.
_RENAMES = (("mapping.w_avg", "w_avg"), ("mapping.", "mapping_net."), ("synthesis.", "synthesis_net."))


def _our_name(official: str) -> str:
    for theirs, ours in _RENAMES:
        if official.startswith(theirs):
            return ours + official[len(theirs):]
    return official


def _official_name(ours: str) -> str:
    for theirs, mine in _RENAMES:
        if ours.startswith(mine):
            return theirs + ours[len(mine):]
    return ours


# ---- StyleGAN2 / 2-ADA ----------------------------------------------------------------


def _mapping_config(kwargs: dict, a: _Attrs, sd: Mapping[str, torch.Tensor], num_ws: int,
                    default_layers: int, default_beta: float) -> MappingConfig:
    mk = dict(kwargs.get("mapping_kwargs") or {})
    m = a.of("mapping")
    fc0 = a.of("mapping.fc0")
    cfg = MappingConfig(
        z_dim=int(kwargs.get("z_dim", 512)), c_dim=int(kwargs.get("c_dim", 0)), w_dim=int(kwargs.get("w_dim", 512)),
        num_ws=num_ws, num_layers=int(m.get("num_layers", mk.get("num_layers", default_layers))),
        embed_features=mk.get("embed_features"), layer_features=mk.get("layer_features"),
        lr_multiplier=float(fc0.get("bias_gain", mk.get("lr_multiplier", 0.01))),
        activation=str(fc0.get("activation", mk.get("activation", "lrelu"))),
        w_avg_beta=float(m.get("w_avg_beta", mk.get("w_avg_beta", default_beta))))
    embed = _shape(sd, "mapping.embed.weight")
    if embed is not None:
        cfg.embed_features = embed[0]
    fc0_shape = _shape(sd, "mapping.fc0.weight")
    if fc0_shape is not None and cfg.num_layers > 1:
        cfg.layer_features = fc0_shape[0]
    return cfg


def _sg2_config(kwargs: dict, a: _Attrs, sd: Mapping[str, torch.Tensor]) -> StyleGAN2Config:
    ada = "synthesis_kwargs" in kwargs  # stylegan2-ada-pytorch nests synthesis options (fact sheet §4.1)
    syn = dict(kwargs["synthesis_kwargs"]) if ada else {k: v for k, v in kwargs.items() if k not in TOP_LEVEL}
    res = int(kwargs["img_resolution"])
    img_ch = int(kwargs.get("img_channels", 3))
    log2 = int(round(math.log2(res)))
    if 2 ** log2 != res or res < 4:
        raise LiveganError(f"StyleGAN2 img_resolution must be a power of two >= 4, got {res}")
    cbase, cmax = int(syn.get("channel_base", 32768)), int(syn.get("channel_max", 512))
    fp16_res = int(syn.get("num_fp16_res", 0 if ada else 4))
    clamp = syn.get("conv_clamp", None if ada else 256)
    fp16_from = max(2 ** (log2 + 1 - fp16_res), 8)
    arch = str(syn.get("architecture", "skip"))
    blocks = []
    for r in [2 ** i for i in range(2, log2 + 1)]:
        ba = a.of(f"synthesis.b{r}")
        out_shape = _shape(sd, f"synthesis.b{r}.conv1.weight")
        cout = out_shape[0] if out_shape else min(cbase // r, cmax)
        cin = 0 if r == 4 else (blocks[-1].out_channels if blocks else min(cbase // (r // 2), cmax))
        blk = BlockConfig(
            resolution=r, in_channels=int(ba.get("in_channels", cin)), out_channels=cout, img_channels=img_ch,
            architecture=str(ba.get("architecture", arch)), use_fp16=bool(ba.get("use_fp16", r >= fp16_from)),
            is_last=bool(ba.get("is_last", r == res)),
            conv_kernel=out_shape[-1] if out_shape else int(syn.get("kernel_size", 3)))
        for name in ("conv0", "conv1", "torgb"):
            la = a.of(f"synthesis.b{r}.{name}")
            c = la.get("conv_clamp", clamp)
            blk.layers[name] = ConvSettings(
                conv_clamp=None if c is None else float(c),
                use_noise=bool(la.get("use_noise", syn.get("use_noise", True))),
                activation=str(la.get("activation", "lrelu")), act_gain=float(la.get("act_gain", math.sqrt(2.0))))
        blocks.append(blk)
    num_ws = sum(b.num_conv for b in blocks) + blocks[-1].num_torgb
    num_ws = int(a.of("").get("num_ws", num_ws))
    mapping = _mapping_config(kwargs, a, sd, num_ws, 8, 0.995 if ada else 0.998)
    return StyleGAN2Config(mapping=mapping, img_resolution=res, img_channels=img_ch, blocks=blocks)


def _sg2_attrs(cfg: StyleGAN2Config) -> dict:
    out: dict[str, dict] = {"synthesis": {"class_name": "SynthesisNetwork", "attributes": dict(
        w_dim=cfg.mapping.w_dim, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels,
        block_resolutions=[b.resolution for b in cfg.blocks], num_ws=cfg.mapping.num_ws)}}
    for b in cfg.blocks:
        p = f"synthesis.b{b.resolution}"
        out[p] = {"class_name": "SynthesisBlock", "attributes": dict(
            in_channels=b.in_channels, resolution=b.resolution, img_channels=b.img_channels, is_last=b.is_last,
            architecture=b.architecture, use_fp16=b.use_fp16, num_conv=b.num_conv, num_torgb=b.num_torgb)}
        for name, s in b.layers.items():
            if name == "conv0" and b.in_channels == 0 or name == "torgb" and not b.num_torgb:
                continue
            cls = "ToRGBLayer" if name == "torgb" else "SynthesisLayer"
            attrs: dict[str, Any] = dict(conv_clamp=s.conv_clamp)
            if name != "torgb":
                attrs.update(resolution=b.resolution, up=2 if name == "conv0" else 1, use_noise=s.use_noise,
                             activation=s.activation, act_gain=s.act_gain, padding=b.conv_kernel // 2)
            out[f"{p}.{name}"] = {"class_name": cls, "attributes": attrs}
    return out


def _mapping_attrs(m: MappingConfig) -> dict:
    out = {"mapping": {"class_name": "MappingNetwork", "attributes": dict(
        z_dim=m.z_dim, c_dim=m.c_dim, w_dim=m.w_dim, num_ws=m.num_ws, num_layers=m.num_layers,
        w_avg_beta=m.w_avg_beta)}}
    widths = m.widths()
    for i in range(m.num_layers):
        out[f"mapping.fc{i}"] = {"class_name": "FullyConnectedLayer", "attributes": dict(
            activation=m.activation, weight_gain=m.lr_multiplier / math.sqrt(widths[i]), bias_gain=m.lr_multiplier)}
    return out


# ---- StyleGAN3 ----------------------------------------------------------------------------


def _sg3_config(kwargs: dict, a: _Attrs, sd: Mapping[str, torch.Tensor]) -> StyleGAN3Config:
    res = int(kwargs["img_resolution"])
    img_ch = int(kwargs.get("img_channels", 3))
    syn = {k: v for k, v in kwargs.items() if k in SG3_SCHEDULE_KEYS}
    inp, layers = design_schedule(res, img_ch, **syn)
    sa = a.of("synthesis")
    if a and "layer_names" in sa:
        layers = [SG3LayerConfig.from_attrs(n, a.of(f"synthesis.{n}")) for n in sa["layer_names"]]
        ia = a.of("synthesis.input")
        size = ia.get("size", inp.size)
        inp = SG3InputConfig(channels=int(ia.get("channels", inp.channels)),
                             size=int(size[0] if isinstance(size, list) else size),
                             sampling_rate=float(ia.get("sampling_rate", inp.sampling_rate)),
                             bandwidth=float(ia.get("bandwidth", inp.bandwidth)))
    mapping = _mapping_config(kwargs, a, sd, len(layers) + 1, 2, 0.998)
    if mapping.c_dim > 0 and mapping.embed_features is None:
        mapping.embed_features = mapping.w_dim
    return StyleGAN3Config(mapping=mapping, img_resolution=res, img_channels=img_ch, input=inp, layers=layers,
                           output_scale=float(sa.get("output_scale", kwargs.get("output_scale", 0.25))))


def _sg3_attrs(cfg: StyleGAN3Config) -> dict:
    out: dict[str, dict] = {
        "synthesis": {"class_name": "SynthesisNetwork", "attributes": dict(
            w_dim=cfg.mapping.w_dim, num_ws=cfg.mapping.num_ws, img_resolution=cfg.img_resolution,
            img_channels=cfg.img_channels, output_scale=cfg.output_scale,
            layer_names=[lc.name for lc in cfg.layers])},
        "synthesis.input": {"class_name": "SynthesisInput", "attributes": dict(
            channels=cfg.input.channels, size=[cfg.input.size, cfg.input.size],
            sampling_rate=cfg.input.sampling_rate, bandwidth=cfg.input.bandwidth)},
    }
    for lc in cfg.layers:
        d = asdict(lc)
        name = d.pop("name")
        d["in_size"], d["out_size"] = [lc.in_size] * 2, [lc.out_size] * 2
        out[f"synthesis.{name}"] = {"class_name": "SynthesisLayer", "attributes": d}
    return out
