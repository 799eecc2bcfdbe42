"""``livegan convert MODEL.pkl MODEL.safetensors``: NVIDIA pickle -> livegan native file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LiveganError
from ..models.load import build_network
from ..models.loading.native import save_native
from ..models.loading.nvpkl import read_network_pickle


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert", help="convert an NVIDIA StyleGAN .pkl to livegan's .safetensors format",
        description="Read an NVIDIA StyleGAN2/2-ADA/3 network pickle safely and write its G_ema as a "
                    "livegan .safetensors file (weights + JSON config; memory-mapped, faster to load).",
    )
    p.add_argument("input", metavar="MODEL.pkl", help="NVIDIA network pickle")
    p.add_argument("output", metavar="OUT.safetensors", help="file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def run(args: argparse.Namespace) -> int:
    src, dst = Path(args.input), Path(args.output)
    if src.suffix.lower() != ".pkl":
        raise LiveganError(f"{src}: input must be an NVIDIA .pkl network pickle")
    if dst.suffix.lower() != ".safetensors":
        raise LiveganError(f"{dst}: output name must end in .safetensors")
    if dst.exists() and not args.force:
        raise LiveganError(f"{dst}: already exists (use --force to overwrite)")
    if not src.exists():
        raise LiveganError(f"{src}: no such file")
    net = read_network_pickle(src)
    gen = build_network(net)  # refuse to write a file that would not load
    save_native(dst, net, extra={"converted_from": src.name, "family": gen.family})
    size_mb = dst.stat().st_size / 2**20
    print(f"wrote {dst}: {gen.family} {gen.resolution} px, {len(net.state_dict)} tensors, "
          f"{gen.describe()['params']:,} parameters, {size_mb:.1f} MB")
    return 0
