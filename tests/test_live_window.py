"""A real glfw window under Xvfb: the screen shows what was drawn, and headless EGL draws the same.

The window runs in a child process: once a thread has had a current EGL context (the
headless tests), Mesa refuses it a GLX one, so the window needs a fresh process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from live_helpers import PatternRenderer, click_track, write_preset

from livegan.live.app import LiveApp, LiveConfig

pytestmark = pytest.mark.xvfb


def run_app(tmp_path: Path, headless: bool, screenshot: bool = False) -> dict:
    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    preset = write_preset(tmp_path / "look.toml", [
        {"name": "colour", "saturation": 1.3, "hue": 0.1},
        {"name": "vignette", "amount": 0.6},
    ])
    shot: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 15:
            app.capture_requested = True  # keep frame 16 as drawn (read before its swap)
        elif n == 16:
            if screenshot:
                w, h = app.surface.size
                x, y = app.surface.glfw.get_window_pos(app.surface.window)
                raw = subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "-depth", "8",
                                      "rgb:-"], capture_output=True, check=True, timeout=30).stdout
                shot["screen"] = np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, headless=headless, window=(160, 120), hud=False,
                     preset=str(preset), duration=20.0)
    app = LiveApp(cfg, renderer=PatternRenderer(), on_frame=on_frame)
    app.run()
    return {"drawn": app.captured, "frames": app.frames_drawn, **shot}


def test_window_screenshot_matches_drawn_frame_and_headless(tmp_path, xvfb_display):
    if not shutil.which("import"):
        pytest.skip("imagemagick's import is not installed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, __file__, str(tmp_path)], env=env, check=True, timeout=120)
    drawn, screen = np.load(tmp_path / "drawn.npy"), np.load(tmp_path / "screen.npy")
    assert drawn.shape == (120, 160, 3) and drawn.std() > 20  # a real picture, not a blank
    assert np.array_equal(screen, drawn), "the screen differs from the drawn frame"
    offscreen = run_app(tmp_path, headless=True)
    assert offscreen["frames"] == 16
    diff = np.abs(offscreen["drawn"].astype(int) - drawn.astype(int))
    assert diff.max() <= 1, f"headless differs from the window by up to {diff.max()}"


if __name__ == "__main__":  # the window half, in its own process
    out = Path(sys.argv[1])
    res = run_app(out, headless=False, screenshot=True)
    assert res["frames"] == 16
    np.save(out / "drawn.npy", res["drawn"])
    np.save(out / "screen.npy", res["screen"])
