"""StyleGAN3-T / -R generator (fact sheet §6.3), numerically equal to NVIDIA's.

Layer settings use the pickled attribute names of NVIDIA's ``SynthesisLayer`` so a
checkpoint's attributes load straight into ``SG3LayerConfig``. ``design_schedule``
derives the same settings from the constructor hyperparameters (used when a file
stores only kwargs, and for random full-size models); ``design_lowpass`` rebuilds the
Kaiser / jinc filters the stored buffers hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from livegan.errors import LiveganError
from livegan.models import ops
from livegan.models.base import Bend, LayerInfo, NoiseSpec
from livegan.models.stylegan2 import FullyConnected, MappingConfig, OfficialGenerator, bend_layer


@dataclass
class SG3InputConfig:
    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


@dataclass
class SG3LayerConfig:
    name: str
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: float
    out_sampling_rate: float
    tmp_sampling_rate: float
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    conv_kernel: int
    conv_clamp: float | None
    up_factor: int
    up_taps: int
    down_factor: int
    down_taps: int
    down_radial: bool
    padding: list[int]

    @classmethod
    def from_attrs(cls, name: str, attrs: dict) -> "SG3LayerConfig":
        vals = {}
        for f in fields(cls):
            if f.name == "name":
                continue
            if f.name not in attrs:
                raise LiveganError(f"StyleGAN3 layer {name}: pickled attribute {f.name!r} is missing")
            vals[f.name] = attrs[f.name]
        for key in ("in_size", "out_size"):  # NVIDIA stores [w, h] arrays; all sizes are square
            v = vals[key]
            v = v["__ndarray__"] if isinstance(v, dict) else v  # JSON form of a numpy array
            vals[key] = int(v[0]) if isinstance(v, (list, tuple, np.ndarray)) else int(v)
        vals["padding"] = [int(p) for p in vals["padding"]]
        vals["conv_clamp"] = None if vals["conv_clamp"] is None else float(vals["conv_clamp"])
        for key in ("is_torgb", "is_critically_sampled", "use_fp16", "down_radial"):
            vals[key] = bool(vals[key])
        return cls(name=name, **vals)


@dataclass
class StyleGAN3Config:
    mapping: MappingConfig
    img_resolution: int
    img_channels: int
    input: SG3InputConfig
    layers: list[SG3LayerConfig]
    output_scale: float = 0.25


def design_schedule(img_resolution: int, img_channels: int, channel_base: int = 32768, channel_max: int = 512,
                    num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                    first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                    num_fp16_res: int = 4, conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                    use_radial_filters: bool = False, conv_clamp: float | None = 256
                    ) -> tuple[SG3InputConfig, list[SG3LayerConfig]]:
    """The per-layer geometry of NVIDIA's StyleGAN3 synthesis network (fact sheet §6.3)."""
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    e = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** e
    stopbands = first_stopband * (last_stopband / first_stopband) ** e
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    inp = SG3InputConfig(int(channels[0]), int(sizes[0]), float(rates[0]), float(cutoffs[0]))
    layers = []
    for i in range(num_layers + 1):
        p = max(i - 1, 0)
        torgb = i == num_layers
        k = 1 if torgb else conv_kernel
        tmp = max(rates[p], rates[i]) * (1 if torgb else lrelu_upsampling)
        up = int(np.rint(tmp / rates[p]))
        down = int(np.rint(tmp / rates[i]))
        up_taps = filter_size * up if up > 1 and not torgb else 1
        down_taps = filter_size * down if down > 1 and not torgb else 1
        crit = i >= num_layers - num_critical
        total = (int(sizes[i]) - 1) * down + 1 - (int(sizes[p]) + k - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        pad = [lo, total - lo, lo, total - lo]
        layers.append(SG3LayerConfig(
            name=f"L{i}_{int(sizes[i])}_{int(channels[i])}", is_torgb=torgb, is_critically_sampled=crit,
            use_fp16=bool(rates[i] * 2 ** num_fp16_res > img_resolution),
            in_channels=int(channels[p]), out_channels=int(channels[i]), in_size=int(sizes[p]),
            out_size=int(sizes[i]), in_sampling_rate=int(rates[p]), out_sampling_rate=int(rates[i]),
            tmp_sampling_rate=int(tmp), in_cutoff=float(cutoffs[p]), out_cutoff=float(cutoffs[i]),
            in_half_width=float(half_widths[p]), out_half_width=float(half_widths[i]), conv_kernel=k,
            conv_clamp=None if conv_clamp is None else float(conv_clamp), up_factor=up, up_taps=up_taps,
            down_factor=down, down_taps=down_taps, down_radial=bool(use_radial_filters and not crit), padding=pad))
    return inp, layers


def design_lowpass(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> Tensor | None:
    """Kaiser-windowed low-pass (1-D separable, or 2-D radial jinc), DC gain 1; None for 1 tap."""
    if numtaps == 1:
        return None
    from scipy import signal, special  # only needed to build filters, not to run models

    if not radial:
        f = signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(f, dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(r > 0, special.j1(2 * np.pi * cutoff * r) / (np.pi * r), cutoff)
    beta = signal.kaiser_beta(signal.kaiser_atten(numtaps, width / (fs / 2)))
    win = np.kaiser(numtaps, beta)
    f = f * np.outer(win, win)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


class SynthesisInput(nn.Module):
    """Fourier features with a per-sample rotation/translation from ``w`` (fact sheet §6.3)."""

    def __init__(self, cfg: SG3InputConfig, w_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.weight = nn.Parameter(torch.randn(c, c))
        self.affine = FullyConnected(w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        # Random directions; radii fall off like exp(-r^2/4) inside the bandwidth.
        g = torch.randn(c, 2)
        r = g.norm(dim=1, keepdim=True)
        self.register_buffer("freqs", g / r * torch.exp(-r.square() / 4) * cfg.bandwidth)
        self.register_buffer("phases", torch.rand(c) - 0.5)

    def forward(self, w: Tensor, inverse: Tensor | None) -> Tensor:
        cfg = self.cfg
        n = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device).repeat(n, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        tra = torch.eye(3, device=w.device).repeat(n, 1, 1)
        tra[:, 0, 2], tra[:, 1, 2] = -t[:, 2], -t[:, 3]
        user = self.transform.unsqueeze(0) if inverse is None else inverse
        m = rot @ tra @ user
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)
        freqs = freqs @ m[:, :2, :2]
        amp = (1 - (freqs.norm(dim=2) - cfg.bandwidth) / (cfg.sampling_rate / 2 - cfg.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = theta[1, 1] = 0.5 * cfg.size / cfg.sampling_rate
        grid = F.affine_grid(theta.unsqueeze(0), [1, 1, cfg.size, cfg.size], align_corners=False)
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = torch.sin((x + phases.view(n, 1, 1, -1)) * (2 * math.pi)) * amp.view(n, 1, 1, -1)
        x = x @ (self.weight / math.sqrt(cfg.channels)).t()
        return x.permute(0, 3, 1, 2)  # NCHW view of NHWC memory = channels_last


class SynthesisLayer3(nn.Module):
    def __init__(self, cfg: SG3LayerConfig, w_dim: int, design_filters: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        k = cfg.conv_kernel
        self.affine = FullyConnected(w_dim, cfg.in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cfg.out_channels, cfg.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(cfg.out_channels))
        self.register_buffer("magnitude_ema", torch.ones(()))
        if design_filters:
            up = design_lowpass(cfg.up_taps, cfg.in_cutoff, cfg.in_half_width * 2, cfg.tmp_sampling_rate)
            down = design_lowpass(cfg.down_taps, cfg.out_cutoff, cfg.out_half_width * 2, cfg.tmp_sampling_rate,
                                  radial=cfg.down_radial)
        else:  # placeholders of the right shape, filled from a checkpoint
            up = torch.zeros(cfg.up_taps) if cfg.up_taps > 1 else None
            dshape = (cfg.down_taps,) * (2 if cfg.down_radial else 1)
            down = torch.zeros(dshape) if cfg.down_taps > 1 else None
        self.register_buffer("up_filter", up)
        self.register_buffer("down_filter", down)
        self.act = ops.FilteredLReLU(
            up=cfg.up_factor, down=cfg.down_factor, padding=tuple(cfg.padding),  # type: ignore[arg-type]
            gain=1.0 if cfg.is_torgb else math.sqrt(2.0), slope=1.0 if cfg.is_torgb else 0.2,
            clamp=cfg.conv_clamp)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        cfg = self.cfg
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)
        weight = ops.cached(self, f"w{x.dtype}", (self.weight,), lambda: self._weight(x.dtype))
        if cfg.is_torgb:
            styles = styles * (1 / math.sqrt(cfg.in_channels * cfg.conv_kernel ** 2))
            coeffs = input_gain.expand(w.shape[0], cfg.out_channels)
        else:
            # Pre-normalised styles (cancels under demodulation except for its 1e-8 term).
            styles = styles * styles.square().mean().rsqrt()
            wsq = ops.cached(self, f"sq{x.dtype}", (self.weight,), lambda: weight.float().square().sum(dim=(2, 3)))
            coeffs = ops.demod_coefficients(wsq, styles) * input_gain
        x = ops.modulated_conv2d(x, weight, styles, coeffs, padding=cfg.conv_kernel - 1)
        return ops.filtered_lrelu(x, self.bias, self.up_filter, self.down_filter, self.act)

    def _weight(self, dt: torch.dtype) -> Tensor:
        w = self.weight
        if not self.cfg.is_torgb:  # NVIDIA's per-output-channel pre-normalisation
            w = w * w.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        return w.to(dt).contiguous(memory_format=torch.channels_last)


class StyleGAN3Generator(OfficialGenerator):
    family = "stylegan3"

    def __init__(self, cfg: StyleGAN3Config, design_filters: bool = True) -> None:
        super().__init__(cfg.mapping, cfg.img_resolution, cfg.img_channels)
        self.cfg = cfg
        self.synthesis_net = nn.Module()
        self.synthesis_net.add_module("input", SynthesisInput(cfg.input, cfg.mapping.w_dim))
        for lc in cfg.layers:
            self.synthesis_net.add_module(lc.name, SynthesisLayer3(lc, cfg.mapping.w_dim, design_filters))
        if self.num_ws != len(cfg.layers) + 1:
            raise LiveganError(f"StyleGAN3 model has {len(cfg.layers)} layers but num_ws={self.num_ws}")
        self._layers = [LayerInfo("input", cfg.input.size, cfg.input.channels, 0)] + [
            LayerInfo(lc.name, lc.out_size, lc.out_channels, i + 1) for i, lc in enumerate(cfg.layers)]

    def synthesis(self, ws: Tensor, noise: NoiseSpec | None = None, bends: Sequence[Bend] = (),
                  transform: Tensor | None = None) -> Tensor:
        """``noise`` is accepted and ignored: StyleGAN3 has no noise inputs."""
        self._check_ws(ws)
        ws = ws.to(torch.float32)
        inverse = None if transform is None else _inverse_transform(transform, ws.shape[0], ws.device)
        x = self.synthesis_net.input(ws[:, 0], inverse)
        x = bend_layer(x, "input", bends)
        for i, lc in enumerate(self.cfg.layers):
            dt = self.layer_dtype(lc.use_fp16, ws.device)
            x = getattr(self.synthesis_net, lc.name)(x.to(dt), ws[:, i + 1])
            x = bend_layer(x, lc.name, bends)
        return (x.to(torch.float32) * self.cfg.output_scale).contiguous()


def _inverse_transform(transform: Tensor, batch: int, device: torch.device) -> Tensor:
    """Invert the user's forward matrix(es) in float64, as gen_images.py does.

    Closed form (adjugate / determinant) rather than ``linalg.inv``: no device sync, so
    it can run inside a captured CUDA graph.
    """
    t = torch.as_tensor(transform).to(device=device, dtype=torch.float64)
    if t.shape == (3, 3):
        t = t.unsqueeze(0)
    if t.ndim != 3 or t.shape[1:] != (3, 3) or t.shape[0] not in (1, batch):
        raise LiveganError(f"transform must be [3, 3] or [{batch}, 3, 3], got {list(transform.shape)}")
    a, b, c = t[:, 0, 0], t[:, 0, 1], t[:, 0, 2]
    d, e, f = t[:, 1, 0], t[:, 1, 1], t[:, 1, 2]
    g, h, i = t[:, 2, 0], t[:, 2, 1], t[:, 2, 2]
    adj = torch.stack([
        torch.stack([e * i - f * h, c * h - b * i, b * f - c * e], dim=1),
        torch.stack([f * g - d * i, a * i - c * g, c * d - a * f], dim=1),
        torch.stack([d * h - e * g, b * g - a * h, a * e - b * d], dim=1)], dim=1)
    det = a * adj[:, 0, 0] + b * adj[:, 1, 0] + c * adj[:, 2, 0]
    return (adj / det.view(-1, 1, 1)).to(torch.float32)
