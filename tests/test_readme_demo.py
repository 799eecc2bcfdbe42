"""The README's first line, as a newcomer types it: ``make demo`` renders the demo video.

The Makefile runs in a scratch folder with this environment's ``bin`` and an install stamp
already made (installing is what CI's ``make test`` itself proves); what is checked is the
rest of the recipe: the output folder, the command, and a playable 30 s video.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_make_demo_and_make_test() -> None:
    block = ROOT.joinpath("README.md").read_text().split("```")[1].splitlines()
    commands = [line.split("#")[0].strip() for line in block[1:] if line.strip()]
    assert commands[:2] == ["make demo", "make test"]


def test_make_demo_renders_the_demo_video(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than pyproject.toml: make takes the environment as installed
    r = subprocess.run(["make", "demo", f"BIN={Path(sys.executable).parent}", f"STAMP={stamp}"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    video = tmp_path / "out" / "demo.mp4"
    with av.open(str(video)) as c:
        assert c.streams.audio, "the demo keeps its soundtrack"
        frames = sum(1 for _ in c.decode(video=0))
        assert frames == 900  # 30 s at 30 fps, frame-exact
