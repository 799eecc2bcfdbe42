#!/usr/bin/env python3
"""Make a contact sheet (4x4 frames, evenly spaced) from a video.

    .venv/bin/python tools/contact_sheet.py out/demo.mp4 docs/images/demo-contact.png
"""

from __future__ import annotations

import argparse

import av
import numpy as np
from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--grid", type=int, default=4)
    ap.add_argument("--thumb", type=int, default=256)
    args = ap.parse_args()
    with av.open(args.video) as c:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    n = args.grid * args.grid
    picks = np.linspace(0, len(frames) - 1, n).round().astype(int)
    th = args.thumb
    sheet = Image.new("RGB", (args.grid * th, args.grid * th), "black")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(picks):
        t, arr = frames[i]
        im = Image.fromarray(arr).resize((th, th), Image.LANCZOS)
        x, y = (k % args.grid) * th, (k // args.grid) * th
        sheet.paste(im, (x, y))
        draw.text((x + 6, y + 4), f"{t:5.2f}s", fill="white")
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
