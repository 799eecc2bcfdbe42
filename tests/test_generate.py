"""`livegan generate` on NVIDIA-format pickles reproduces NVIDIA's images seed for seed."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.cli import main
from livegan.testing.nvpkl_writer import fixtures_dir, write_nvpkl


@pytest.mark.parametrize("name", ["sg2_tiny", "sg3t_tiny", "sg3r_tiny"])
def test_generate_npy_matches_reference_for_seeds_0_to_3(tmp_path, name):
    pkl = write_nvpkl(tmp_path / f"{name}.pkl", name)
    ref = np.load(fixtures_dir() / f"{name}_reference.npz")
    assert main(["generate", str(pkl), "--seeds", "0-3", "--trunc", "1", "--noise-mode", "const",
                 "--outdir", str(tmp_path / "out"), "--format", "npy"]) == 0
    for seed in range(4):
        img = np.load(tmp_path / "out" / f"seed{seed:04d}.npy")
        assert img.shape == (1, 3, 32, 32) and img.dtype == np.float32
        assert np.abs(img[0] - ref["img_psi100_const"][seed]).max() <= 1e-4


@pytest.mark.parametrize("name", ["sg2_tiny_cond", "sg2ada_tiny_cond"])
def test_generate_conditional_with_class(tmp_path, name):
    pkl = write_nvpkl(tmp_path / f"{name}.pkl", name)
    ref = np.load(fixtures_dir() / f"{name}_reference.npz")
    for seed in range(2):
        out = tmp_path / f"out{seed}"
        assert main(["generate", str(pkl), "--seeds", str(seed), "--trunc", "0.7", "--class",
                     str(int(ref["c_class"][seed])), "--outdir", str(out), "--format", "npy"]) == 0
        img = np.load(out / f"seed{seed:04d}.npy")
        assert np.abs(img[0] - ref["img_psi070_const"][seed]).max() <= 1e-4


def test_generate_png_and_errors(tmp_path, capsys):
    assert main(["generate", "builtin:3", "--seeds", "0,2", "--outdir", str(tmp_path), "--format", "png"]) == 0
    assert (tmp_path / "seed0000.png").stat().st_size > 1000 and (tmp_path / "seed0002.png").exists()
    assert main(["generate", "builtin", "--seeds", "x-y", "--outdir", str(tmp_path / "e")]) == 2
    assert "--seeds 'x-y'" in capsys.readouterr().err
    pkl = write_nvpkl(tmp_path / "c.pkl", "sg2_tiny_cond")
    assert main(["generate", str(pkl), "--seeds", "0", "--outdir", str(tmp_path / "e")]) == 2
    assert "needs --class" in capsys.readouterr().err
