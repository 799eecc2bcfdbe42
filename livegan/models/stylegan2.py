"""StyleGAN2 / StyleGAN2-ADA generator (fact sheet §5, §6.2), numerically equal to NVIDIA's.

Module and tensor names mirror NVIDIA's (``synthesis.b64.conv0.affine.weight``), apart
from the top-level ``mapping_net``/``synthesis_net``/``w_avg`` (``mapping`` and
``synthesis`` are methods of ``Generator``); ``official.py`` translates names.
The mapping network lives here and is shared with StyleGAN3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor, nn

from livegan.errors import LiveganError
from livegan.models import ops
from livegan.models.base import Bend, Generator, LayerInfo, NoiseSpec

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


# ---- mapping network (both families) ---------------------------------------------------


@dataclass
class MappingConfig:
    z_dim: int
    c_dim: int
    w_dim: int
    num_ws: int
    num_layers: int = 8
    embed_features: int | None = None  # None -> w_dim (0 when c_dim == 0)
    layer_features: int | None = None  # None -> w_dim
    lr_multiplier: float = 0.01
    activation: str = "lrelu"
    w_avg_beta: float = 0.998

    def widths(self) -> list[int]:
        embed = self.embed_dim()
        feat = self.w_dim if self.layer_features is None else self.layer_features
        return [self.z_dim + embed] + [feat] * (self.num_layers - 1) + [self.w_dim]

    def embed_dim(self) -> int:
        if self.c_dim == 0:
            return 0
        return self.w_dim if self.embed_features is None else self.embed_features


class FullyConnected(nn.Module):
    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.activation = activation
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        w = ops.cached(self, "w", (self.weight,), lambda: self.weight * self.weight_gain)
        b = ops.cached(self, "b", (self.bias,), lambda: self.bias * self.bias_gain)
        return ops.fully_connected(x, w, b, self.activation)


class MappingNetwork(nn.Module):
    def __init__(self, cfg: MappingConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = cfg.widths()
        if cfg.c_dim > 0:
            self.embed = FullyConnected(cfg.c_dim, cfg.embed_dim())
        for i in range(cfg.num_layers):
            self.add_module(f"fc{i}", FullyConnected(widths[i], widths[i + 1], cfg.activation, cfg.lr_multiplier))

    def forward(self, z: Tensor, c: Tensor | None) -> Tensor:
        cfg = self.cfg
        parts = []
        if cfg.z_dim > 0:
            parts.append(ops.normalize_2nd_moment(z.to(torch.float32)))
        if cfg.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != cfg.c_dim:
                got = None if c is None else list(c.shape)
                raise LiveganError(f"model is conditional: c must have shape [batch, {cfg.c_dim}], got {got}")
            parts.append(ops.normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(cfg.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x.unsqueeze(1).repeat(1, cfg.num_ws, 1)


class OfficialGenerator(Generator):
    """Mapping, truncation, precision and noise plumbing shared by StyleGAN2 and StyleGAN3."""

    mapping_net: MappingNetwork

    def __init__(self, mapping_cfg: MappingConfig, resolution: int, img_channels: int) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = mapping_cfg.z_dim, mapping_cfg.c_dim, mapping_cfg.w_dim
        self.num_ws, self.resolution, self.img_channels = mapping_cfg.num_ws, resolution, img_channels
        self.mapping_net = MappingNetwork(mapping_cfg)
        self.register_buffer("w_avg", torch.zeros(mapping_cfg.w_dim))
        self.precision = "auto"
        self._layers: list[LayerInfo] = []

    @property
    def layers(self) -> Sequence[LayerInfo]:
        return self._layers

    def mapping(self, z: Tensor, c: Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise LiveganError(f"z must have shape [batch, {self.z_dim}], got {list(z.shape)}")
        ws = self.mapping_net(z, c)
        return self.truncate(ws, truncation_psi, truncation_cutoff)

    def set_precision(self, mode: str) -> None:
        """``auto``: float16 for the layers the checkpoint marks, on CUDA only (float32 on
        CPU); ``fp32``: everything float32; ``fp16``/``bf16``: force that type on the
        marked layers on any device (``bf16`` is the fast CPU option)."""
        if mode not in PRECISIONS:
            raise LiveganError(f"precision must be one of {', '.join(PRECISIONS)}, not {mode!r}")
        self.precision = mode

    def layer_dtype(self, use_fp16: bool, device: torch.device) -> torch.dtype:
        if not use_fp16 or self.precision == "fp32":
            return torch.float32
        if self.precision == "fp16":
            return torch.float16
        if self.precision == "bf16":
            return torch.bfloat16
        return torch.float16 if device.type == "cuda" else torch.float32

    def _check_ws(self, ws: Tensor) -> None:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise LiveganError(f"ws must have shape [batch, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")

    def describe(self) -> dict:
        info = super().describe()
        info["precision"] = self.precision
        return info


def bend_layer(x: Tensor, name: str, bends: Sequence[Bend]) -> Tensor:
    """Apply the bends addressed to layer ``name`` (none: ``x`` untouched)."""
    mine = [b for b in bends if b.layer == name]
    if not mine:
        return x
    from livegan.models.bends import apply_bends  # imported late: optional at model load

    return apply_bends(x, mine)


# ---- StyleGAN2 synthesis -------------------------------------------------------------------


@dataclass
class ConvSettings:
    """Effective settings of one modulated layer (pickled attributes of NVIDIA's layers)."""

    conv_clamp: float | None = 256.0
    use_noise: bool = True
    activation: str = "lrelu"
    act_gain: float = math.sqrt(2.0)


@dataclass
class BlockConfig:
    resolution: int
    in_channels: int  # 0 for the first block (learned constant input)
    out_channels: int
    img_channels: int = 3
    architecture: str = "skip"
    use_fp16: bool = False
    is_last: bool = False
    conv_kernel: int = 3
    layers: dict[str, ConvSettings] = field(default_factory=dict)  # conv0, conv1, torgb

    @property
    def num_conv(self) -> int:
        return 1 if self.in_channels == 0 else 2

    @property
    def num_torgb(self) -> int:
        return 1 if (self.is_last or self.architecture == "skip") else 0


@dataclass
class StyleGAN2Config:
    mapping: MappingConfig
    img_resolution: int
    img_channels: int
    blocks: list[BlockConfig]


class ModulatedLayer(nn.Module):
    """SG2 3x3 modulated conv (optionally 2x up) + noise + bias/lrelu/clamp."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: int, kernel: int,
                 settings: ConvSettings) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("resample_filter", _sg2_filter())
        if settings.use_noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.up, self.resolution, self.settings = up, resolution, settings

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        s = self.settings
        styles = self.affine(w)
        dt = x.dtype
        weight, wsq = self._weights(dt)
        if dt != torch.float32:  # keep fp16/bf16 in range (cancels under demodulation)
            styles = styles / styles.abs().amax(dim=1, keepdim=True)
        # lrelu(y) * g == lrelu(y * g) for g > 0: fold the gain into weights, bias and noise.
        g = s.act_gain if s.activation in ("lrelu", "linear") and s.act_gain > 0 else 1.0
        coeffs = ops.demod_coefficients(wsq, styles) * g
        bias = self.bias * g
        if self.up > 1:
            x = ops.modulated_conv2d(x, weight, styles, coeffs, transposed_stride=self.up)
            x = ops.upfirdn2d(x, self.resample_filter, padding=(1, 1, 1, 1), gain=self.up ** 2, bias=bias)
        else:
            x = ops.modulated_conv2d(x, weight, styles, coeffs, padding=self.weight.shape[-1] // 2, bias=bias)
        if noise is not None:
            x = x.add_((noise * g).to(dt))
        return ops.bias_act_(x, None, s.activation, s.act_gain / g, s.conv_clamp)

    def _weights(self, dt: torch.dtype) -> tuple[Tensor, Tensor]:
        """Conv weight in the layout and type the convolution wants, and its squared sums."""
        def make() -> Tensor:
            w = self.weight
            if dt != torch.float32:
                w = w * (1 / math.sqrt(w[0].numel())) / w.abs().amax(dim=(1, 2, 3), keepdim=True)
            if self.up > 1:
                w = w.transpose(0, 1)
            return w.to(dt).contiguous(memory_format=torch.channels_last)

        def make_sq() -> Tensor:
            w = ops.cached(self, f"w{dt}", (self.weight,), make).float()
            return w.square().sum(dim=(2, 3)).transpose(0, 1) if self.up > 1 else w.square().sum(dim=(2, 3))

        return ops.cached(self, f"w{dt}", (self.weight,), make), ops.cached(self, f"sq{dt}", (self.weight,), make_sq)


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int, settings: ConvSettings) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight_gain = 1 / math.sqrt(in_ch)
        self.settings = settings

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        weight = ops.cached(self, f"w{x.dtype}", (self.weight,),
                            lambda: self.weight.to(x.dtype).contiguous(memory_format=torch.channels_last))
        x = ops.modulated_conv2d(x, weight, styles, None, bias=self.bias)
        return ops.bias_act_(x, None, "linear", 1.0, self.settings.conv_clamp)


def _sg2_filter() -> Tensor:
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = f[:, None] * f[None, :]
    return f / f.sum()


class SynthesisBlock(nn.Module):
    def __init__(self, cfg: BlockConfig, w_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        r, cin, cout, k = cfg.resolution, cfg.in_channels, cfg.out_channels, cfg.conv_kernel
        if cfg.architecture not in ("skip", "orig"):
            raise LiveganError(f"StyleGAN2 architecture {cfg.architecture!r} is not supported (only 'skip', 'orig')")
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, r, r))
        else:
            self.conv0 = ModulatedLayer(cin, cout, w_dim, r, 2, k, cfg.layers["conv0"])
        self.conv1 = ModulatedLayer(cout, cout, w_dim, r, 1, k, cfg.layers["conv1"])
        if cfg.num_torgb:
            self.torgb = ToRGB(cout, cfg.img_channels, w_dim, cfg.layers["torgb"])
        self.register_buffer("resample_filter", _sg2_filter())

    def layer_names(self) -> list[str]:
        names = (["conv1"] if self.cfg.in_channels == 0 else ["conv0", "conv1"])
        return names + (["torgb"] if self.cfg.num_torgb else [])


class StyleGAN2Generator(OfficialGenerator):
    family = "stylegan2"

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__(cfg.mapping, cfg.img_resolution, cfg.img_channels)
        self.cfg = cfg
        self.synthesis_net = nn.Module()
        for b in cfg.blocks:
            self.synthesis_net.add_module(f"b{b.resolution}", SynthesisBlock(b, cfg.mapping.w_dim))
        self._layers = self._layer_table()
        if self._layers[-1].w_index != self.num_ws - 1:
            raise LiveganError(f"StyleGAN2 layer table uses {self._layers[-1].w_index + 1} ws, model has {self.num_ws}")

    def _blocks(self) -> list[SynthesisBlock]:
        return list(self.synthesis_net.children())  # type: ignore[arg-type]

    def _layer_table(self) -> list[LayerInfo]:
        table, w_idx = [], 0
        for blk in self._blocks():
            c = blk.cfg
            for j, name in enumerate(blk.layer_names()):
                is_rgb = name == "torgb"
                table.append(LayerInfo(
                    name=f"b{c.resolution}.{name}", resolution=c.resolution,
                    channels=c.img_channels if is_rgb else c.out_channels, w_index=w_idx + j,
                    has_noise=(not is_rgb) and c.layers[name].use_noise))
            w_idx += c.num_conv
        return table

    def synthesis(self, ws: Tensor, noise: NoiseSpec | None = None, bends: Sequence[Bend] = (),
                  transform: Tensor | None = None) -> Tensor:
        self._check_ws(ws)
        noise = noise or NoiseSpec()
        maps = _NoiseMaker(noise, ws.shape[0], ws.device)
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        cl = torch.channels_last
        for blk in self._blocks():
            c = blk.cfg
            dt = self.layer_dtype(c.use_fp16, ws.device)
            window = ws[:, w_idx:w_idx + c.num_conv + c.num_torgb]
            w_idx += c.num_conv
            if c.in_channels == 0:
                x = blk.const.to(dt).unsqueeze(0).expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=cl)
            else:
                x = x.to(dt)
            for j, name in enumerate(blk.layer_names()):
                full = f"b{c.resolution}.{name}"
                if name == "torgb":
                    y = bend_layer(blk.torgb(x, window[:, j]), full, bends).to(torch.float32)
                    if img is not None:
                        img = ops.upfirdn2d(img, blk.resample_filter, up=2, padding=(2, 1, 2, 1), gain=4)
                        img = img + y
                    else:
                        img = y
                else:
                    layer = getattr(blk, name)
                    x = layer(x, window[:, j], maps.get(full, layer))
                    x = bend_layer(x, full, bends)
        assert img is not None
        return img.contiguous()


class _NoiseMaker:
    """Builds each layer's noise input from a ``NoiseSpec`` (fact sheet §6.2 step 5).

    Every map (const, seeded random, or given) is scaled by the layer's learned
    ``noise_strength`` times the spec's global or per-layer multiplier.
    """

    def __init__(self, spec: NoiseSpec, batch: int, device: torch.device) -> None:
        self.spec, self.batch, self.device = spec, batch, device
        self.gen = None
        if spec.mode == "random" and spec.seed is not None:
            self.gen = torch.Generator().manual_seed(int(spec.seed))

    def get(self, name: str, layer: ModulatedLayer) -> Tensor | None:
        spec = self.spec
        if not layer.settings.use_noise or spec.mode == "none":
            return None
        r = layer.resolution
        strength = layer.noise_strength * spec.strength_for(name)
        if spec.mode == "random":
            base = torch.randn(self.batch, 1, r, r, generator=self.gen).to(self.device)
        elif spec.mode == "given" and name in spec.maps:
            base = spec.maps[name].to(self.device, torch.float32)
            if base.ndim != 4 or base.shape[1] != 1 or tuple(base.shape[2:]) != (r, r) \
                    or base.shape[0] not in (1, self.batch):
                raise LiveganError(f"noise map for layer {name} must be [1 or {self.batch}, 1, {r}, {r}], "
                                   f"got {list(base.shape)}")
        else:
            base = layer.noise_const
        return base * strength
