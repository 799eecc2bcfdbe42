"""The live app end to end, headless on EGL, with the real analyzer, conductor and model."""

from __future__ import annotations

import json
import shutil

import pytest
from live_helpers import PatternRenderer, click_track

from livegan.cli import main
from livegan.live.app import LiveApp, LiveConfig
from livegan.gl.declarations import SHADER_DIR


def test_cli_headless_file_writes_stats(tmp_path, capsys):
    song = click_track(tmp_path / "song.wav", [0.3 + 0.4 * i for i in range(8)], 4.0)
    out = tmp_path / "stats.json"
    rc = main(["live", "--headless", "--file", str(song), "--no-playback", "--duration", "3", "--size", "64",
               "--stats-json", str(out), "--fps", "30"])
    assert rc == 0
    stats = json.loads(out.read_text())
    for key in ("fps", "frame_ms_p50", "frame_ms_p99", "latency_ms_p50", "latency_ms_p99", "frames"):
        assert key in stats
    assert stats["frames"] > 10 and stats["fps"] > 0
    assert stats["model_frames"] > 0 and stats["latency_samples"] > 0
    assert 0 < stats["latency_ms_p50"] <= stats["latency_ms_p99"]
    assert stats["onsets"] >= 4  # the clicks were heard
    assert stats["output_size"] == [64, 64] and stats["shader_errors"] == {}
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["frames"] == stats["frames"]


@pytest.mark.parametrize("argv, fragment", [
    (["--file", "/nonexistent/song.wav"], "no such file"),
    (["--size", "8"], "--size 8"),
    (["--preset", "no-such-preset"], "unknown preset"),
])
def test_cli_bad_input_is_one_clear_error(argv, fragment, capsys):
    assert main(["live", "--headless", "--duration", "1", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("livegan: error:") and fragment in err


def test_broken_shader_saved_mid_run_keeps_the_show_going(tmp_path):
    shaders = tmp_path / "shaders"
    shutil.copytree(SHADER_DIR, shaders)
    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    seen: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 10:
            path = shaders / "colour.glsl"
            path.write_text(path.read_text().replace("c = rotate_hue(c, u_hue);", "c = rotate_hue(c, u_hue)"))
            seen["broken_at"] = n
        if "broken_at" in seen and app.effects.errors and "error_at" not in seen:
            seen["error_at"] = n
            app.capture_requested = True
        if "error_at" in seen and n == seen["error_at"] + 1:
            seen["hud"] = [t for t, _ in app.last_hud.lines]
        if "error_at" in seen and n == seen["error_at"] + 15:
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, headless=True, window=(96, 64), shader_dir=str(shaders),
                     preset="drift", duration=20.0)
    app = LiveApp(cfg, renderer=PatternRenderer(), on_frame=on_frame)
    result = app.run()
    assert "error_at" in seen, "the broken shader was never reported"
    assert app.frames_drawn == seen["error_at"] + 15  # frames kept coming after the error
    assert "colour" in result["shader_errors"] and "colour.glsl" in result["shader_errors"]["colour"]
    assert any(line.startswith("SHADER colour.glsl") for line in seen["hud"])
    assert app.captured is not None and app.captured.std() > 5  # still drawing pictures, not black


def test_keys_drive_the_show(tmp_path):
    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    seen: dict = {}
    fired: list[str] = []

    def on_frame(app: LiveApp, n: int) -> None:
        if "start" not in seen:
            if app.last_shown is None:
                return  # wait for the first model picture
            seen["start"] = n
        n = n - seen["start"] + 1
        if n == 1:
            app.registry.subscribe(lambda change: fired.append(change.name))
            seen["preset0"] = app.preset_name
            app.on_key("h")  # HUD off
            app.on_key("b")  # blackout
            app.capture_requested = True
        elif n == 2:
            seen["black"] = app.captured
            app.on_key("b")
            app.on_key("space")
            app.on_key("r")
            app.on_key("right")
            seen["preset1"] = app.preset_name
            app.on_key("left")
            seen["preset2"] = app.preset_name
            app.capture_requested = True
        elif n == 3:
            seen["shown"] = app.captured
            seen["frozen"] = app.registry.get("show/freeze")
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, headless=True, window=(64, 48), preset="drift", duration=20.0)
    app = LiveApp(cfg, renderer=PatternRenderer(), on_frame=on_frame)
    app.run()
    assert app.frames_drawn == seen["start"] + 2 and app.hud.visible is False
    assert seen["black"].max() == 0
    assert seen["shown"].std() > 5  # blackout lifted
    assert seen["frozen"] is True and "latent/reseed" in fired
    assert seen["preset1"] != seen["preset0"] and seen["preset2"] == seen["preset0"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_is_a_stop_request_not_an_exception(tmp_path):
    """A KeyboardInterrupt raised inside a finalizer that the garbage collector runs is printed
    and dropped, so `livegan live` turns Ctrl-C into a flag the show loop reads."""
    import gc

    from livegan.commands.live import _stop_on_sigint

    class Finalized:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            raise KeyboardInterrupt  # as if the signal landed while this finalizer ran

    Finalized()
    gc.collect()  # no exception reaches us: this is how an exception-based Ctrl-C can be lost

    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    seen: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 3:
            seen["handler"](2, None)  # SIGINT while the show runs: a request, no exception
            seen["flagged"] = app.interrupted

    cfg = LiveConfig(file=str(song), play=False, headless=True, window=(32, 32), preset="drift", duration=20.0)
    app = LiveApp(cfg, renderer=PatternRenderer(), on_frame=on_frame)
    seen["handler"] = _stop_on_sigint(app)
    with pytest.raises(KeyboardInterrupt):
        seen["handler"](2, None)  # before the show loop (still loading): interrupt at once
    app.run()
    assert seen["flagged"] and app.interrupted and app.frames_drawn == 3
