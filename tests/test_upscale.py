"""The output scaler: the GL ``scale`` pass (Mesa EGL) and its CPU twin ``fill_resize`` agree,
and both upscale as well as a reference resize (PIL's Lanczos) by PSNR and SSIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from livegan.gl.context import HeadlessSurface
from livegan.models.builtin import BuiltinGenerator
from livegan.synth.resample import FILTERS, fill_resize
from live_helpers import draw_effect

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    """A 384 px picture with hard edges and smooth gradients: the crystal world rendered at 384."""
    G = BuiltinGenerator(seed=3, resolution=384, world="crystal").eval()
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        img = G.synthesis(G.mapping(z, truncation_psi=0.8))[0]
    return ((img + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def small(truth: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(truth).resize((96, 96), Image.LANCZOS))


def _torch_resize(img: np.ndarray, size: tuple[int, int], name: str, sharpen: float = 0.0) -> np.ndarray:
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255.0
    out = fill_resize(x, size, name, sharpen)[0].clamp(0, 1)
    return (out * 255.0 + 0.5).byte().permute(1, 2, 0).numpy()


def _gl_resize(img: np.ndarray, size: tuple[int, int], name: str, sharpen: float = 0.0) -> np.ndarray:
    surface = HeadlessSurface(size)
    try:
        return draw_effect(surface, img, "scale", {"mode": "fill", "filter": name, "sharpen": sharpen})
    finally:
        surface.close()


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("size", [(384, 216), (64, 40)])  # 4x up (fill crops 16:9), and 1.5x down
def test_gl_pass_and_cpu_twin_agree(small: np.ndarray, name: str, size: tuple[int, int]) -> None:
    sharpen = 0.4 if name in ("bicubic", "lanczos") else 0.0
    gl = _gl_resize(small, size, name, sharpen).astype(int)
    cpu = _torch_resize(small, size, name, sharpen).astype(int)
    assert gl.shape == cpu.shape == (size[1], size[0], 3)
    diff = np.abs(gl - cpu)
    if name == "nearest":
        # Output centres that fall exactly half way between two source pixels round either
        # way in float32: allow a few, nothing else.
        assert (diff.max(axis=2) > 2).mean() < 0.05
        return
    # Same kernel, same taps: they differ by float32 rounding and the 8-bit targets only.
    assert diff.max() <= 2 and diff.mean() < 0.25, (diff.max(), diff.mean())


def test_upscale_matches_a_reference_resize(truth: np.ndarray, small: np.ndarray) -> None:
    size = truth.shape[1], truth.shape[0]
    reference = np.asarray(Image.fromarray(small).resize(size, Image.LANCZOS))
    score = {}
    for name in FILTERS:
        out = _torch_resize(small, size, name)
        score[name] = (peak_signal_noise_ratio(truth, out), structural_similarity(truth, out, channel_axis=2),
                       peak_signal_noise_ratio(reference, out))
    ref_psnr = peak_signal_noise_ratio(truth, reference)
    ref_ssim = structural_similarity(truth, reference, channel_axis=2)
    # Our Lanczos-3 is PIL's filter (to 8-bit rounding); Catmull-Rom is a close, slightly sharper cousin.
    assert score["lanczos"][2] > 45.0 and score["bicubic"][2] > 32.0, score
    for name in ("bicubic", "lanczos"):
        psnr_truth, ssim_truth, _ = score[name]
        # As close to the true picture as the reference resize ...
        assert psnr_truth > ref_psnr - 1.0 and ssim_truth > ref_ssim - 0.02, (score, ref_psnr, ref_ssim)
        # ... and clearly better than blocks (nearest) and blur (linear).
        assert psnr_truth > score["nearest"][0] + 1.5 and ssim_truth > score["nearest"][1] + 0.04, score
        assert psnr_truth > score["linear"][0], score
    # Sharpening trades a little PSNR for crisper edges, within reason.
    sharp = _torch_resize(small, size, "bicubic", 0.5)
    assert peak_signal_noise_ratio(truth, sharp) > score["bicubic"][0] - 1.5


def test_downscale_is_antialiased() -> None:
    # A one-pixel checkerboard shrunk 4x is flat grey with the filter stretched, not moire.
    board = ((np.indices((128, 128)).sum(axis=0) % 2) * 255).astype(np.uint8)
    img = np.repeat(board[..., None], 3, axis=2)
    for name in ("bicubic", "lanczos", "linear"):
        out = _torch_resize(img, (32, 32), name).astype(int)
        assert abs(out.mean() - 127.5) < 2 and out.std() < 3, (name, out.std())
