"""Preset hot reload (including broken files), save/load round trip, and morphing."""

from __future__ import annotations

import time

import pytest

from livegan.conductor.preset import load_preset
from livegan.control.morph import MorphRunner, preset_targets
from livegan.control.preset_watch import PresetWatcher
from livegan.control.presets import resolve_preset, save_preset
from livegan.errors import LiveganError
from livegan.params.definitions import make_registry

GOOD = 'name = "live"\n[params]\n"latent/speed" = 1.0\n"noise/mode" = "random"\n'


def test_hot_reload_keeps_current_on_broken_file(tmp_path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(GOOD)
    reg = make_registry()
    errors: list[str] = []
    w = PresetWatcher(reg, path, on_error=errors.append, apply_first=True)
    assert w.check() and reg.get("latent/speed") == 1.0 and reg.get("noise/mode") == "random"
    assert not w.check()  # unchanged file: nothing to do

    path.write_text(GOOD.replace("1.0", "2.0"))
    assert w.check() and reg.get("latent/speed") == 2.0

    # Broken TOML on line 3: the look stays, the error names file and line.
    path.write_text('name = "live"\n[params]\n"latent/speed" = = 3\n')
    assert not w.check()
    assert reg.get("latent/speed") == 2.0 and reg.get("noise/mode") == "random"
    assert errors and errors[-1].startswith(f"{path}:3:")

    # A value out of range on line 4, in an otherwise valid file: nothing of it is applied.
    path.write_text('name = "live"\n[params]\n"latent/motion" = 1.5\n"latent/speed" = 99\n')
    assert not w.check()
    assert reg.get("latent/motion") == 0.5 and reg.get("latent/speed") == 2.0
    assert errors[-1].startswith(f"{path}:4:") and "latent/speed" in errors[-1]
    assert w.last_error == errors[-1]

    path.write_text(GOOD.replace("1.0", "3.0"))
    assert w.check() and reg.get("latent/speed") == 3.0 and w.last_error == ""


def test_watcher_thread_picks_up_saves(tmp_path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(GOOD)
    reg = make_registry()
    w = PresetWatcher(reg, path, interval=0.02, apply_first=True).start()
    try:
        end = time.monotonic() + 3
        while reg.get("latent/speed") != 1.0 and time.monotonic() < end:
            time.sleep(0.01)
        assert reg.get("latent/speed") == 1.0
        path.write_text(GOOD.replace("1.0", "0.25"))
        while reg.get("latent/speed") != 0.25 and time.monotonic() < end:
            time.sleep(0.01)
        assert reg.get("latent/speed") == 0.25 and w.reloads == 2
    finally:
        w.stop()


def test_save_then_load_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LIVEGAN_PRESETS", str(tmp_path))
    reg = make_registry()
    reg.update({"latent/speed": 0.3, "noise/mode": "none", "latent/keyframes": 17, "show/blackout": True})
    path = save_preset(reg, "saved", tmp_path, description="from the test")
    fresh = make_registry()
    preset = load_preset("saved", fresh)
    assert preset.description == "from the test"
    from livegan.conductor.preset import apply_preset

    apply_preset(fresh, preset)
    for name in ("latent/speed", "noise/mode", "latent/keyframes"):
        assert fresh.get(name) == reg.get(name)
    assert fresh.get("show/blackout") is False  # show controls are not part of a look
    from livegan.conductor.preset import list_presets

    names = list_presets()  # the test folder first, then ./presets and the bundled ones
    assert resolve_preset(names.index("saved")) == "saved" and path.name == "saved.toml"
    with pytest.raises(LiveganError, match=f"preset index {len(names)} is out of range"):
        resolve_preset(len(names))
    with pytest.raises(LiveganError, match="preset name"):
        save_preset(reg, "a/b", tmp_path)


def test_morph_glides_numbers_and_flips_switches(tmp_path) -> None:
    (tmp_path / "to.toml").write_text('[params]\n"latent/speed" = 2.15\n"noise/mode" = "none"\n'
                                      '"latent/keyframes" = 18\n')
    reg = make_registry()
    reg.set("show/blackout", True)
    target = preset_targets(reg, load_preset(str(tmp_path / "to.toml"), reg))
    assert "show/blackout" not in target
    seen: list[str] = []
    reg.subscribe(lambda c: seen.append(c.source))
    m = MorphRunner(reg, clock=lambda: 0.0, bpm=lambda: 120.0)
    assert m.seconds(4, "beats") == 2.0 and m.seconds(3, "s") == 3.0
    m.start(target, 2.0, now=10.0)
    assert m.step(11.0)
    assert reg.get("latent/speed") == pytest.approx(1.15) and reg.get("latent/keyframes") == 13
    assert reg.get("noise/mode") == "none"  # switches flip half way
    m.step(10.5)
    assert reg.get("noise/mode") == "const"
    assert not m.step(12.5)
    assert reg.get("latent/speed") == 2.15 and reg.get("latent/keyframes") == 18
    assert reg.get("show/blackout") is True and not m.active
    assert set(seen) == {"morph"}
