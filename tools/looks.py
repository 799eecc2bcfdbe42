#!/usr/bin/env python3
"""Do the presets look like themselves? Render each on the demo track and measure.

Every preset runs as it would live: the demo's features, the conductor, the embedded
model (its ``look/world``), then the preset's GLSL effect chain on Mesa EGL. From 8 s of
each (12 fps, 128 x 128, from 4 s into the demo) it reports, for every pair of presets:

* colour distance: Hellinger distance of 12 x 4 x 4 HSV histograms pooled over the frames;
* structure distance: mean absolute difference of the mean-removed log10 radial power
  spectra (grey level, pooled over the frames);

and per preset the Hasler-Suesstrunk colourfulness (RGB in 0..1, so 0 grey .. ~1 loud).
Goals (issue 17): at most 1 pair in 20 alike (colour < 0.35 and structure < 0.3), at least
half of all pairs apart in structure alone (>= 0.3), colourfulness spread >= 3x.

It also draws the looks book (one row per preset, frames across the whole demo) and,
with ``--contact``, the README's 4 x 4 contact sheet of the default preset.

    .venv/bin/python tools/looks.py                      # table + bench/results/looks-<date>.json
    .venv/bin/python tools/looks.py --book docs/images/looks.png --contact docs/images/demo-contact.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.colors import rgb_to_hsv
from PIL import Image, ImageDraw

from livegan.audio.analyzer import analyze
from livegan.audio.demo import demo_track
from livegan.benchinfo import write_result
from livegan.conductor.preset import DEFAULT_PRESET, list_presets
from livegan.render.offline import conduct
from livegan.render.picture import OffscreenPicture
from livegan.session import Session, SessionSpec

ALIKE_COLOUR, ALIKE_STRUCTURE = 0.35, 0.3


@dataclass
class Look:
    preset: str
    world: str
    palette: str
    frames: list[np.ndarray] = field(default_factory=list)  # uint8 [H, W, 3] in the measured window
    times: list[float] = field(default_factory=list)


def render_preset(name: str, clip, features, size: int, fps: int, window: tuple[float, float],
                  seed: int = 0, warmup: float = 1.0, only: int = 0) -> Look:
    """Frames of ``name`` whose time lies in ``window``, made as ``livegan render`` makes them
    (the session's conductor, model and effect chain on EGL).

    The conductor runs every frame from the start; the picture is drawn from ``warmup``
    seconds before the window (trails build up), or with ``only`` = N just for N frames
    spread over the window and the ``warmup`` before each (enough for a book)."""
    session = Session(SessionSpec(model_size=size, preset=name, seed=seed, device="cpu",
                                  sample_rate=clip.sample_rate))
    picture = OffscreenPicture(session, (size, size))
    try:
        values = session.registry.peek().values
        world = str(values.get("look/world"))
        look = Look(name, session.model.rig.generator.world if world == "auto" else world,
                    str(values.get("fx/palette/palette", "-")) if values.get("fx/palette/enabled") else "-")
        n_frames = int(math.ceil(window[1] * fps))
        keep = (np.linspace(math.ceil(window[0] * fps), n_frames - 1, only).round() / fps).tolist() if only else []
        for i, job in enumerate(conduct(session, features, clip.sample_rate, n_frames, fps)):
            t = i / fps
            if t < window[0] - warmup or (keep and not any(0.0 <= k - t <= warmup for k in keep)):
                continue  # the conductor runs from the start; the picture only where it counts
            picture.show((i, session.model.render_batch([job.inputs])[0].numpy()))
            picture.draw(job.uniforms, job.values)
            if t >= window[0] and (not keep or any(abs(k - t) < 0.5 / fps for k in keep)):
                look.frames.append(picture.pixels())
                look.times.append(t)
        return look
    finally:
        picture.release()


# ---- the measures -------------------------------------------------------------------------

def hsv_histogram(frames: list[np.ndarray]) -> np.ndarray:
    """12 hue x 4 saturation x 4 value bins, pooled over the frames, summing to 1."""
    hsv = rgb_to_hsv(np.stack(frames).astype(np.float64) / 255.0).reshape(-1, 3)
    hist, _ = np.histogramdd(hsv, bins=(12, 4, 4), range=((0, 1), (0, 1), (0, 1)))
    return hist.ravel() / hist.sum()


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


def radial_spectrum(frames: list[np.ndarray]) -> np.ndarray:
    """Mean-removed log10 of the grey-level power at each integer radius 1..N/2 - 1, pooled."""
    grey = np.stack(frames).astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722]) / 255.0
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey), axes=(1, 2))) ** 2
    n = grey.shape[1]
    yy, xx = np.indices(grey.shape[1:]) - n // 2
    r = np.round(np.hypot(yy, xx)).astype(int).ravel()
    sums = np.bincount(r, weights=power.mean(axis=0).ravel())
    counts = np.bincount(r)
    radial = np.log10(sums[1:n // 2] / counts[1:n // 2] + 1e-12)
    return radial - radial.mean()


def colourfulness(frames: list[np.ndarray]) -> float:
    """Hasler and Suesstrunk (2003) on RGB in 0..1, averaged over the frames."""
    out = []
    for f in frames:
        rgb = f.astype(np.float64) / 255.0
        rg = rgb[..., 0] - rgb[..., 1]
        yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
        out.append(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))
    return float(np.mean(out))


def measure(looks: list[Look]) -> dict:
    hists = {lk.preset: hsv_histogram(lk.frames) for lk in looks}
    spectra = {lk.preset: radial_spectrum(lk.frames) for lk in looks}
    colour = {lk.preset: colourfulness(lk.frames) for lk in looks}
    pairs = []
    names = [lk.preset for lk in looks]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            c = hellinger(hists[a], hists[b])
            s = float(np.mean(np.abs(spectra[a] - spectra[b])))
            pairs.append({"a": a, "b": b, "colour": round(c, 3), "structure": round(s, 3),
                          "alike": c < ALIKE_COLOUR and s < ALIKE_STRUCTURE})
    n = len(pairs)
    alike = sum(p["alike"] for p in pairs)
    apart = sum(p["structure"] >= ALIKE_STRUCTURE for p in pairs)
    lo, hi = min(colour.values()), max(colour.values())
    spread = hi / max(lo, 0.01)  # a pure-grey preset (0) counts as 0.01, so the ratio stays finite
    return {
        "presets": [{"name": lk.preset, "world": lk.world, "palette": lk.palette,
                     "colourfulness": round(colour[lk.preset], 3), "frames": len(lk.frames)} for lk in looks],
        "pairs": pairs,
        "summary": {"pairs": n, "alike": alike, "structure_apart": apart, "colourfulness_spread": round(spread, 2),
                    "colourfulness_range": [round(lo, 3), round(hi, 3)]},
        "goals": {"alike_at_most_1_in_20": alike <= n / 20, "half_apart_in_structure": apart >= n / 2,
                  "colourfulness_spread_3x": spread >= 3.0},
    }


# ---- pictures -----------------------------------------------------------------------------

def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
    x, y = xy
    draw.text((x + 1, y + 1), text, fill="black")
    draw.text((x, y), text, fill="white")


def looks_book(rows: list[Look], out: Path, thumb: int, per_row: int) -> None:
    label_w = 150
    sheet = Image.new("RGB", (label_w + per_row * thumb, len(rows) * thumb), "black")
    draw = ImageDraw.Draw(sheet)
    for r, lk in enumerate(rows):
        picks = np.linspace(0, len(lk.frames) - 1, per_row).round().astype(int)
        for k, i in enumerate(picks):
            sheet.paste(Image.fromarray(lk.frames[i]).resize((thumb, thumb), Image.LANCZOS),
                        (label_w + k * thumb, r * thumb))
            _label(draw, (label_w + k * thumb + 4, r * thumb + 3), f"{lk.times[i]:.0f}s")
        _label(draw, (8, r * thumb + 8), lk.preset)
        _label(draw, (8, r * thumb + 24), f"world {lk.world}")
        _label(draw, (8, r * thumb + 40), f"palette {lk.palette}")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)  # full colour: a 256-colour palette bands the smooth worlds


def contact_sheet(look: Look, out: Path, thumb: int, grid: int = 4) -> None:
    sheet = Image.new("RGB", (grid * thumb, grid * thumb), "black")
    draw = ImageDraw.Draw(sheet)
    picks = np.linspace(0, len(look.frames) - 1, grid * grid).round().astype(int)
    for k, i in enumerate(picks):
        x, y = (k % grid) * thumb, (k // grid) * thumb
        sheet.paste(Image.fromarray(look.frames[i]).resize((thumb, thumb), Image.LANCZOS), (x, y))
        _label(draw, (x + 6, y + 4), f"{look.times[i]:5.2f}s")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


def table(result: dict) -> str:
    lines = ["| preset | world | palette | colourfulness |", "|---|---|---|---|"]
    lines += [f"| {p['name']} | {p['world']} | {p['palette']} | {p['colourfulness']:.3f} |" for p in result["presets"]]
    names = [p["name"] for p in result["presets"]]
    cell = {(p["a"], p["b"]): p for p in result["pairs"]}
    lines += ["", "colour / structure distance (pairs alike marked *)", "",
              "| | " + " | ".join(names[1:]) + " |", "|---" * len(names) + "|"]
    for i, a in enumerate(names[:-1]):
        row = []
        for j, b in enumerate(names[1:], 1):
            p = cell.get((a, b))
            row.append("" if j <= i or p is None else f"{p['colour']:.2f}/{p['structure']:.2f}{'*' if p['alike'] else ''}")
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    s, g = result["summary"], result["goals"]
    lines += ["", f"pairs {s['pairs']}: alike {s['alike']} (goal <= {s['pairs'] / 20:.2f}: {'met' if g['alike_at_most_1_in_20'] else 'NOT met'}), "
              f"apart in structure {s['structure_apart']} (goal >= {s['pairs'] / 2:.1f}: {'met' if g['half_apart_in_structure'] else 'NOT met'}), "
              f"colourfulness {s['colourfulness_range'][0]:.3f}..{s['colourfulness_range'][1]:.3f}, spread {s['colourfulness_spread']}x (goal >= 3: {'met' if g['colourfulness_spread_3x'] else 'NOT met'})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="", help="comma-separated names (default: every preset)")
    ap.add_argument("--start", type=float, default=4.0, help="measured window start in the demo (s)")
    ap.add_argument("--seconds", type=float, default=8.0, help="measured window length (s)")
    ap.add_argument("--fps", type=int, default=12)
    ap.add_argument("--size", type=int, default=128, help="measured frame side (px)")
    ap.add_argument("--book", type=Path, default=None, help="write the looks book here (PNG)")
    ap.add_argument("--book-size", type=int, default=192, help="frame side for the book (px)")
    ap.add_argument("--book-fps", type=int, default=8, help="frame rate of the book's renders")
    ap.add_argument("--per-row", type=int, default=8, help="book frames per preset")
    ap.add_argument("--contact", type=Path, default=None, help="write a 4x4 contact sheet of the default preset here")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/looks-<date>.json")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n for n in args.presets.split(",") if n] or list_presets()
    clip = demo_track()
    samples = clip.samples
    features = analyze(samples, clip.sample_rate)
    t0 = time.perf_counter()
    window = (args.start, args.start + args.seconds)
    looks = [render_preset(n, clip, features, args.size, args.fps, window) for n in names]
    result = measure(looks)
    result["settings"] = {"start": args.start, "seconds": args.seconds, "fps": args.fps, "size": args.size,
                          "model": "builtin (seed 0)", "render_s": round(time.perf_counter() - t0, 1)}
    print(table(result))
    if not args.no_json:
        print(f"wrote {write_result('looks', result)}")
    duration = len(samples) / clip.sample_rate
    if args.book or args.contact:
        side = args.book_size
        if args.book:
            rows = [render_preset(n, clip, features, side, args.book_fps, (0.5, duration), warmup=0.75,
                                  only=args.per_row) for n in names]
            looks_book(rows, args.book, side, args.per_row)
            print(f"wrote {args.book}")
        if args.contact:
            sheet = render_preset(DEFAULT_PRESET, clip, features, 2 * side, args.book_fps, (0.5, duration),
                                  warmup=0.75, only=16)
            contact_sheet(sheet, args.contact, side)
            print(f"wrote {args.contact}")
    print(json.dumps(result["goals"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
