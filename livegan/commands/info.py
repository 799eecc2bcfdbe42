"""``livegan info MODEL``: what a model is (family, sizes, layer table, parameters)."""

from __future__ import annotations

import argparse
import json

from ..models.load import SPEC_HELP, load_generator, parse_builtin_seed


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="show a model's family, sizes and layer table",
                              description=f"Show a model's shape. MODEL is {SPEC_HELP}.")
    p.add_argument("model", metavar="MODEL", help=SPEC_HELP)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def model_format(spec: str) -> str:
    if parse_builtin_seed(spec) is not None:
        return "builtin"
    return "nvidia-pickle" if spec.lower().endswith(".pkl") else "livegan-native"


def format_text(spec: str, fmt: str, d: dict) -> str:
    lines = [
        f"model       {spec} ({fmt})",
        f"family      {d['family']}",
        f"resolution  {d['resolution']} px",
        f"dims        z {d['z_dim']}, w {d['w_dim']}, c {d['c_dim']}, num_ws {d['num_ws']}",
        f"parameters  {d['params']:,}",
        *([f"precision   {d['precision']}"] if "precision" in d else []),
        "layers",
        f"  {'#':>3}  {'name':<16} {'res':>5} {'ch':>5} {'w':>3}  noise",
    ]
    for i, layer in enumerate(d["layers"]):
        noise = "yes" if layer["has_noise"] else "-"
        lines.append(f"  {i:>3}  {layer['name']:<16} {layer['resolution']:>5} {layer['channels']:>5} {layer['w_index']:>3}  {noise}")
    if fmt == "nvidia-pickle":
        lines.append(f"tip: `livegan convert {spec} MODEL.safetensors` loads faster and holds no pickle")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    gen = load_generator(args.model)
    desc = gen.describe()
    fmt = model_format(args.model)
    if args.json:
        print(json.dumps({"model": args.model, "format": fmt, **desc}, indent=2))
    else:
        print(format_text(args.model, fmt, desc))
    return 0
