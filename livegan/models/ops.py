"""Tensor operations shared by the StyleGAN2 and StyleGAN3 generators.

Written from the forward-pass facts in ``shared/docs/stylegan-pkl-format.md`` (§5, §6).
The FIR resampling here never materialises zero-stuffed signals and never computes
outputs that a downsampling step would throw away: upsampling is a strided transposed
convolution, downsampling a strided convolution, both depthwise. StyleGAN3's filtered
leaky ReLU works on channel chunks so its 4x-sized temporaries stay in cache (on the
2-core reference CPU this alone is ~4x faster than one pass over all channels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

SQRT2 = math.sqrt(2.0)
REDUCED = (torch.float16, torch.bfloat16)
MKLDNN = torch.backends.mkldnn.is_available()


def _mkldnn_bf16() -> bool:
    """oneDNN has bf16 kernels for this CPU (AVX-512 BW/VL/DQ or AVX-NE-CONVERT). Elsewhere (AVX2
    laptops, AMD Zen 2/3) ``torch.mkldnn_convolution`` raises on bf16, and F.conv2d still works."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_MKLDNN_TYPES = (torch.float32, torch.bfloat16) if MKLDNN and _mkldnn_bf16() else (torch.float32,)

# Bytes of the largest temporary a filtered-lrelu chunk may create (tuned on the 2-core CPU).
FLRELU_CHUNK_BYTES = 6 << 20
FLRELU_MIN_CHUNK = 16  # channels; channels_last depthwise kernels vectorise across channels
# None: modulated convs pick fused/non-fused by shape; True/False forces one (benchmarks).
FORCE_FUSED: bool | None = None
# How FIR upsampling runs: "transpose" (strided transposed depthwise conv; best measured on
# CPU) or "polyphase" (up regular depthwise convs, one per output phase, then interleaved).
FIR_UP_MODE = "transpose"


# ---- small helpers ------------------------------------------------------------------


def cached(owner: object, key: str, deps: tuple[Tensor, ...], make: Callable[[], Tensor]) -> Tensor:
    """A tensor derived from ``deps`` (e.g. a gained weight), rebuilt only when one changes.

    Weights are constant at inference, so per-call work on them (gains, squared sums,
    layout changes) is done once; a changed parameter (load, ``.to()``, in-place edit)
    changes its data pointer or version counter and invalidates the entry.
    """
    if torch.compiler.is_compiling():  # traced graphs fold weight transforms themselves
        return make()
    store = owner.__dict__.setdefault("_livegan_cache", {})
    sig = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in deps)
    hit = store.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    with torch.inference_mode(False), torch.no_grad():  # a normal tensor, usable in any mode
        value = make()
    store[key] = (sig, value)
    return value


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the feature axis (mapping network input)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def fully_connected(x: Tensor, weight: Tensor, bias: Tensor, activation: str = "linear") -> Tensor:
    """``x W^T + b`` then the activation; ``W``, ``b`` already carry their equalised-lr gains."""
    y = torch.addmm(bias.unsqueeze(0), x, weight.t())
    if activation == "lrelu":
        y = F.leaky_relu(y, 0.2).mul_(SQRT2)
    elif activation != "linear":
        raise ValueError(f"unsupported activation {activation!r}")
    return y


def bias_act_(x: Tensor, bias: Tensor | None, activation: str, gain: float, clamp: float | None) -> Tensor:
    """Per-channel bias, activation, gain and clamp, in place where possible."""
    if bias is not None:
        x = x + bias.to(x.dtype).view(1, -1, 1, 1)
    if activation == "lrelu":
        x = F.leaky_relu_(x, 0.2)
    elif activation != "linear":
        raise ValueError(f"unsupported activation {activation!r}")
    if gain != 1:
        x = x.mul_(gain)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp)
    return x


# ---- FIR resampling -----------------------------------------------------------------


def _depthwise(f: Tensor, channels: int, shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    return f.to(dtype).reshape(1, 1, *shape).expand(channels, 1, *shape).contiguous()


def _crop_or_pad(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``x[start:start+length]`` along ``dim``, zeros where that reaches outside ``x``."""
    n = x.shape[dim]
    if start >= 0 and start + length <= n:
        return x.narrow(dim, start, length)
    pads = [0, 0] * (x.ndim - dim)
    pads[2 * (x.ndim - 1 - dim)] = -start
    pads[2 * (x.ndim - 1 - dim) + 1] = start + length - n
    return F.pad(x, pads)


def _up_axis(x: Tensor, taps: Tensor, up: int, p0: int, p1: int, dim: int) -> Tensor:
    """Zero-stuff by ``up`` along ``dim`` (3 = W, 2 = H), pad ``p0``/``p1``, convolve with ``taps``.

    A strided transposed convolution computes the convolution of the zero-stuffed signal
    without the zeros; the padding then only selects a window of its full output.
    """
    c, n, t = x.shape[1], x.shape[dim], taps.numel()
    shape = (1, t) if dim == 3 else (t, 1)
    stride = (1, up) if dim == 3 else (up, 1)
    out_len = n * up + p0 + p1 - t + 1
    start = t - 1 - p0
    end = (n - 1) * up + t - start - out_len  # samples of the full output past the window
    if FIR_UP_MODE == "polyphase":
        return _up_axis_polyphase(x, taps, up, start, out_len, dim)
    w = _depthwise(taps, c, shape, x.dtype)
    if start == end >= 0:  # the usual case: let the convolution crop, so its output stays dense
        pad = (0, start) if dim == 3 else (start, 0)
        return F.conv_transpose2d(x, w, stride=stride, padding=pad, groups=c)
    y = F.conv_transpose2d(x, w, stride=stride, groups=c)
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return _crop_or_pad(y, dim, start, out_len).contiguous(memory_format=fmt)


def _up_axis_polyphase(x: Tensor, taps: Tensor, up: int, start: int, out_len: int, dim: int) -> Tensor:
    """``_up_axis`` as ``up`` phase filters ``taps[r::up]`` run as one grouped conv, then interleaved.

    Output sample ``q * up + r`` of the full convolution is phase ``r``'s full
    convolution at ``q``; the interleave is a reshape of the phase axis next to ``dim``.
    """
    n, c, h, w = x.shape
    k = -(-taps.numel() // up)
    taps = F.pad(taps, (0, k * up - taps.numel()))
    phases = taps.view(k, up).t().flip(1)  # [up, k], flipped: conv2d correlates
    shape = (1, k) if dim == 3 else (k, 1)
    weight = phases.to(x.dtype).reshape(1, up, *shape).expand(c, up, *shape).reshape(c * up, 1, *shape)
    pad = (0, k - 1) if dim == 3 else (k - 1, 0)
    q = F.conv2d(x, weight.contiguous(), padding=pad, groups=c)  # [n, c*up, h', w']
    if dim == 3:
        full = q.view(n, c, up, h, -1).permute(0, 1, 3, 4, 2).reshape(n, c, h, -1)
    else:
        full = q.view(n, c, up, -1, w).permute(0, 1, 3, 2, 4).reshape(n, c, -1, w)
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return _crop_or_pad(full, dim, start, out_len).contiguous(memory_format=fmt)


def _down_axis(x: Tensor, taps: Tensor, down: int, dim: int) -> Tensor:
    """Valid convolution with ``taps`` along ``dim``, keeping every ``down``-th sample from 0."""
    c, t = x.shape[1], taps.numel()
    shape = (1, t) if dim == 3 else (t, 1)
    stride = (1, down) if dim == 3 else (down, 1)
    return F.conv2d(x, _depthwise(taps.flip(0), c, shape, x.dtype), stride=stride, groups=c)


def upfirdn2d(x: Tensor, f: Tensor | None, up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0, bias: Tensor | None = None) -> Tensor:
    """FIR resampling with NVIDIA's upfirdn2d semantics (fact sheet §6.1).

    Zero-insert ``up - 1`` samples after each input sample, pad ``[x0, x1, y0, y1]``
    (negative crops), convolve with ``f`` (1-D: separably along x then y; 2-D: directly),
    scaled to total gain ``gain``; keep every ``down``-th output starting at 0.
    ``bias`` (per channel) is added to the result (only for 2-D filters without up).
    """
    if x.device.type == "cpu" and x.dtype in REDUCED:  # CPU depthwise kernels: fast in float32 only
        return upfirdn2d(x.float(), f, up, down, padding, gain, bias).to(x.dtype)
    px0, px1, py0, py1 = (int(p) for p in padding)
    c = x.shape[1]
    if f is None:
        f = torch.ones(1, dtype=torch.float32, device=x.device)
    f = f.to(torch.float32)
    if f.ndim == 1:
        f = f * (gain ** 0.5)
        if up > 1:
            x = _up_axis(x, f, up, px0, px1, 3)
            x = _up_axis(x, f, up, py0, py1, 2)
            return x[:, :, ::down, ::down] if down > 1 else x
        x = F.pad(x, [px0, px1, py0, py1])
        x = _down_axis(x, f, down, 3)
        return _down_axis(x, f, down, 2)
    f = f * gain
    th, tw = f.shape
    if bias is not None and up > 1:
        raise ValueError("upfirdn2d: bias is only supported without upsampling")
    if up > 1:
        w = _depthwise(f, c, (th, tw), x.dtype)
        lx, ly = x.shape[3] * up + px0 + px1 - tw + 1, x.shape[2] * up + py0 + py1 - th + 1
        sx, sy = tw - 1 - px0, th - 1 - py0
        if sx == (x.shape[3] - 1) * up + tw - sx - lx >= 0 and sy == (x.shape[2] - 1) * up + th - sy - ly >= 0:
            y = F.conv_transpose2d(x, w, stride=up, padding=(sy, sx), groups=c)  # symmetric crop: dense output
        else:
            y = F.conv_transpose2d(x, w, stride=up, groups=c)
            y = _crop_or_pad(_crop_or_pad(y, 3, sx, lx), 2, sy, ly)
        return y[:, :, ::down, ::down] if down > 1 else y
    w = _depthwise(f.flip(0, 1), c, (th, tw), x.dtype)
    b = None if bias is None else bias.to(x.dtype)
    if px0 == px1 >= 0 and py0 == py1 >= 0:  # let the convolution pad: no padded copy
        return F.conv2d(x, w, b, stride=down, padding=(py0, px0), groups=c)
    return F.conv2d(F.pad(x, [px0, px1, py0, py1]), w, b, stride=down, groups=c)


@dataclass(frozen=True)
class FilteredLReLU:
    """StyleGAN3's alias-free non-linearity for one layer (fact sheet §6.3 step 4)."""

    up: int
    down: int
    padding: tuple[int, int, int, int]
    gain: float
    slope: float
    clamp: float | None


def filtered_lrelu(x: Tensor, bias: Tensor, fu: Tensor | None, fd: Tensor | None, spec: FilteredLReLU,
                   chunk_bytes: int | None = None) -> Tensor:
    """``down(clamp(lrelu(up(x + bias)) * gain))``, computed a few channels at a time.

    ``fu`` is a 1-D up filter (or None for no filtering), ``fd`` a 1-D or 2-D (radial)
    down filter (or None). The up filter carries gain ``up**2``; the down filter gain 1.
    """
    b, c, h, w = x.shape
    px0, px1, py0, py1 = spec.padding
    up, down = spec.up, spec.down
    th = h * up + py0 + py1 - (fu.numel() if fu is not None else 1) + 1
    tw = w * up + px0 + px1 - (fu.numel() if fu is not None else 1) + 1
    if fd is None:
        oh, ow = (th + down - 1) // down, (tw + down - 1) // down
    else:
        td = fd.shape[0]
        oh, ow = (th - td + down) // down, (tw - td + down) // down
    per_channel = b * th * tw * 4 * 2
    budget = FLRELU_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = max(FLRELU_MIN_CHUNK, min(c, budget // max(per_channel, 1)))
    step = c if step >= c or x.device.type != "cpu" else step // 8 * 8  # GPUs: one launch per op

    dt = x.dtype
    # CPU depthwise/transposed kernels are slow in reduced precision: filter in float32.
    work = torch.float32 if x.device.type == "cpu" and dt in REDUCED else dt
    bias = bias.to(work)
    fu_s = None if fu is None else fu.to(torch.float32) * float(up)
    fd_f = None if fd is None else fd.to(torch.float32)
    gain = spec.gain
    if fu_s is not None and gain > 0:  # lrelu(y) * g == lrelu(y * g): one pass fewer
        fu_s = fu_s * math.sqrt(gain)  # applied once per axis
        gain = 1.0
    if step >= c:
        return _flrelu_chunk(x.to(work), bias, fu_s, fd_f, spec, gain).to(dt)
    cl = x.is_contiguous(memory_format=torch.channels_last) and c > 1
    fmt = torch.channels_last if cl else torch.contiguous_format
    out = torch.empty((b, c, oh, ow), dtype=dt, device=x.device, memory_format=fmt)
    for c0 in range(0, c, step):
        c1 = min(c, c0 + step)
        out[:, c0:c1] = _flrelu_chunk(x[:, c0:c1].to(work), bias[c0:c1], fu_s, fd_f, spec, gain)
    return out


def _flrelu_chunk(x: Tensor, bias: Tensor, fu: Tensor | None, fd: Tensor | None, spec: FilteredLReLU,
                  gain: float) -> Tensor:
    px0, px1, py0, py1 = spec.padding
    y = x + bias.view(1, -1, 1, 1)
    if fu is not None:
        y = _up_axis(y, fu, spec.up, px0, px1, 3)
        y = _up_axis(y, fu, spec.up, py0, py1, 2)
    elif spec.up > 1:
        y = upfirdn2d(y, None, up=spec.up, padding=spec.padding)
    elif any(spec.padding):
        y = F.pad(y, [px0, px1, py0, py1])
    # y is always a fresh tensor here (x + bias or a filter output), so in-place is safe.
    if spec.slope != 1:
        y = F.leaky_relu_(y, spec.slope)
    if gain != 1:
        y = y.mul_(gain)
    if spec.clamp is not None:
        y = y.clamp_(-spec.clamp, spec.clamp)
    if fd is None:
        return y[:, :, ::spec.down, ::spec.down] if spec.down > 1 else y
    if fd.ndim == 1:
        y = _down_axis(y, fd, spec.down, 3)
        return _down_axis(y, fd, spec.down, 2)
    c, t = y.shape[1], fd.shape[0]
    return F.conv2d(y, _depthwise(fd.flip(0, 1), c, (t, t), y.dtype), stride=spec.down, groups=c)


# ---- modulated convolution ----------------------------------------------------------


def demod_coefficients(wsq: Tensor, styles: Tensor, eps: float = 1e-8) -> Tensor:
    """``1 / sqrt(sum_{i,k} (W[o,i,k] s[n,i])^2 + eps)`` as ``[N, O]`` without forming ``W s``.

    ``wsq`` is ``W.square().sum((2, 3))`` ``[O, I]`` (constant per layer, so callers cache it).
    """
    return (styles.square().matmul(wsq.t()) + eps).rsqrt()


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, coeffs: Tensor | None, padding: int = 0,
                     transposed_stride: int = 1, bias: Tensor | None = None, fused: bool | None = None) -> Tensor:
    """Per-sample convolution with ``W[o,i] * styles[n,i] * coeffs[n,o]``, plus ``bias[o]``.

    ``weight`` is ``[O, I, k, k]``, or ``[I, O, k, k]`` for ``transposed_stride > 1``
    (StyleGAN2's transposed up-convolution: kernel as stored, no padding). ``coeffs`` are
    the demodulation factors (and any extra per-output gain), None for ToRGB-style
    layers. ``fused=None`` picks the cheaper form for the shapes at hand: scaling the
    weight (one conv per sample) or scaling activations around one shared convolution
    (equal math, ~1e-6 relative difference in float32).
    """
    n = x.shape[0]
    dt = x.dtype
    out_dim = 1 if transposed_stride > 1 else 0
    if fused is None:
        fused = FORCE_FUSED
    if fused is None:
        fused = n == 1 and weight.numel() <= x[0].numel() * 2
    if fused and n == 1:
        scale = styles[0].view(1, -1)
        if coeffs is not None:
            scale = coeffs[0].view(-1, 1) * scale  # [O, I]
        if out_dim == 1:
            scale = scale.t()
        wm = weight * scale.to(dt).view(*scale.shape, 1, 1)
        return _conv(x, wm, padding, transposed_stride, bias)
    if fused:
        return _grouped(x, weight, styles, coeffs, padding, transposed_stride, bias)
    y = _conv(x * styles.to(dt).view(n, -1, 1, 1), weight, padding, transposed_stride, None)
    if coeffs is not None:
        y = y.mul_(coeffs.to(dt).view(n, -1, 1, 1))
    if bias is not None:
        y = y.add_(bias.to(dt).view(1, -1, 1, 1))
    return y


def _grouped(x: Tensor, weight: Tensor, styles: Tensor, coeffs: Tensor | None, padding: int,
             transposed_stride: int, bias: Tensor | None) -> Tensor:
    """One grouped convolution over the batch (NVIDIA's "fused modconv")."""
    n, dt = x.shape[0], x.dtype
    w = weight.transpose(0, 1) if transposed_stride > 1 else weight  # [O, I, k, k]
    o, i, kh, kw = w.shape
    wm = w.unsqueeze(0) * styles.to(dt).view(n, 1, i, 1, 1)
    if coeffs is not None:
        wm = wm * coeffs.to(dt).view(n, o, 1, 1, 1)
    xg = x.reshape(1, n * i, *x.shape[2:])
    b = None if bias is None else bias.to(dt).repeat(n)
    if transposed_stride > 1:
        wg = wm.transpose(1, 2).reshape(n * i, o, kh, kw)
        y = F.conv_transpose2d(xg, wg, b, stride=transposed_stride, groups=n)
    else:
        y = F.conv2d(xg, wm.reshape(n * o, i, kh, kw), b, padding=padding, groups=n)
    return y.reshape(n, o, *y.shape[2:])


def _conv(x: Tensor, w: Tensor, padding: int, transposed_stride: int, bias: Tensor | None) -> Tensor:
    b = None if bias is None else bias.to(x.dtype)
    if transposed_stride > 1:
        return F.conv_transpose2d(x, w, b, stride=transposed_stride)
    if w.shape[2:] == (1, 1) and x.device.type == "cpu" and x.dtype in _MKLDNN_TYPES and MKLDNN \
            and not torch.compiler.is_compiling():
        # torch sends 1x1 convs to a generic CPU path ~2x slower than oneDNN's (StyleGAN3-R, ToRGB).
        return torch.mkldnn_convolution(x, w, b, (padding, padding), (1, 1), (1, 1), 1)
    return F.conv2d(x, w, b, padding=padding)
