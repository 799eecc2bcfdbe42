"""``livegan generate MODEL --seeds 0-3``: still images, seed for seed as NVIDIA's gen_images.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..errors import LiveganError
from ..models.base import NoiseSpec


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise LiveganError(f"--seeds {text!r}: expected numbers and ranges like 0-3,7") from None
    if not seeds or any(s < 0 or s >= 2**32 for s in seeds) or len(seeds) > 100_000:
        raise LiveganError(f"--seeds {text!r}: seeds must be 0 .. 2**32-1")
    return seeds


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="still images for seeds",
                       description="Generate one image per seed (z = RandomState(seed).randn(z_dim)).")
    p.add_argument("model", help="builtin, builtin:SEED, a StyleGAN .pkl or .safetensors")
    p.add_argument("--seeds", required=True, help="e.g. 0-3 or 1,5,9")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi (default 1)")
    p.add_argument("--trunc-cutoff", type=int, default=None, help="apply psi to the first N ws only")
    p.add_argument("--noise-mode", default="const", choices=("const", "none", "random"))
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class label (conditional models)")
    p.add_argument("--outdir", required=True, help="output folder")
    p.add_argument("--format", default="png", choices=("png", "npy"), help="png, or raw float32 NCHW npy")
    p.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    from ..models.load import load_generator

    seeds = parse_seeds(args.seeds)
    G = load_generator(args.model, device=args.device)
    c = None
    if G.c_dim:
        if args.class_idx is None:
            raise LiveganError(f"{args.model}: a conditional model (c_dim={G.c_dim}) needs --class")
        if not 0 <= args.class_idx < G.c_dim:
            raise LiveganError(f"--class {args.class_idx}: must be 0 .. {G.c_dim - 1}")
        c = torch.zeros(1, G.c_dim, device=args.device)
        c[0, args.class_idx] = 1.0
    elif args.class_idx is not None:
        print(f"livegan: warning: {args.model} is unconditional; --class ignored")
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float().to(args.device)
        with torch.inference_mode():
            ws = G.mapping(z, c, truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff)
            img = G.synthesis(ws, noise=NoiseSpec(mode=args.noise_mode, seed=seed if args.noise_mode == "random" else None))
        path = outdir / f"seed{seed:04d}.{args.format}"
        if args.format == "npy":
            np.save(path, img.float().cpu().numpy())
        else:
            from PIL import Image

            arr = (img[0].float().permute(1, 2, 0) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()
            Image.fromarray(arr, "RGB" if arr.shape[2] == 3 else None).save(path)
        print(path)
    return 0
