"""Preset changes on the beat or bar: the quantizer alone, then in the live app with a real model."""

from __future__ import annotations

import pytest
from live_helpers import click_track

from livegan.audio.features import Clock
from livegan.conductor.mappings import parse_mappings
from livegan.conductor.preset import load_preset
from livegan.live.app import LiveApp, LiveConfig
from livegan.live.quantize import Quantizer, next_line
from livegan.params.definitions import make_registry


def test_next_line():
    assert next_line(5.3, "bar") == 8 and next_line(5.3, "beat") == 6
    assert next_line(8.0, "bar") == 12  # standing on a line: the next one


def test_without_a_clock_or_quantize_off_the_change_is_immediate():
    q: Quantizer[str] = Quantizer()
    assert q.request("a", "off", Clock(120.0, 5.3), 0.0) == "a" and q.waiting is None
    assert q.request("b", "bar", Clock(0.0, 5.3), 0.0) == "b"  # no tempo
    assert q.request("c", "bar", None, 0.0) == "c"


@pytest.mark.parametrize("mode, target", [("bar", 8.0), ("beat", 6.0)])
def test_waits_for_the_line_then_lands_once(mode, target):
    q: Quantizer[str] = Quantizer()
    assert q.request("p", mode, Clock(120.0, 5.3), 0.0) is None and q.waiting == "p"
    assert q.due(Clock(120.0, target - 0.01), 0.1) is None
    assert q.due(Clock(120.0, target), 0.2) == "p"
    assert q.waiting is None and q.due(Clock(120.0, target + 1.0), 0.3) is None


def test_a_newer_request_replaces_the_waiting_one():
    q: Quantizer[str] = Quantizer()
    q.request("old", "bar", Clock(120.0, 1.0), 0.0)
    q.request("new", "bar", Clock(120.0, 2.0), 0.5)
    assert q.due(Clock(120.0, 4.0), 1.0) == "new"


def test_a_stopped_clock_still_lands_when_the_line_was_due():
    q: Quantizer[str] = Quantizer()
    q.request("p", "bar", Clock(120.0, 6.0), 10.0)  # 2 beats at 120 BPM: due at 11.0 s (+ slack)
    assert q.due(Clock(0.0, 6.0), 11.0) is None
    assert q.due(Clock(0.0, 6.0), 11.3) == "p"


def test_live_bar_quantised_preset_and_model_swap_keep_the_mappings_and_clock(tmp_path):
    """Builtin model at 32 px on a manual 240 BPM clock (one bar a second): a model swap hands the
    preset's mappings and the beat on to the new model; a preset asked for mid-bar lands on the bar."""
    song = click_track(tmp_path / "song.wav", [0.25 * i for i in range(40)], 10.0)
    st: dict = {"log": []}

    def on_frame(app: LiveApp, n: int) -> None:
        reg = app.registry
        if n == 1:
            reg.set("tempo/source", "manual")
            reg.set("tempo/bpm", 240.0)
            reg.set("show/quantize", "bar")
            st["old"] = app.watchdog.guard.renderer
            app.request_model("builtin:1", 0.0)
            return
        sw = app.swapper
        if "swapped" not in st:
            if sw.busy or not sw.results:
                return
            assert sw.results[-1].ok, sw.results[-1].message
            st["swapped"] = n
            st["new"] = app.watchdog.guard.renderer
            st["specs_at_swap"] = app.session.performance.envelopes.specs
        clock = app.show.clock()
        beats = clock.beats if clock else 0.0
        if "asked" not in st and n >= st["swapped"] + 3 and 1.0 < beats % 4 < 2.0:
            app.request_preset("storm")
            st["asked"], st["beats_asked"] = n, beats
        elif "asked" in st and n == st["asked"] + 1:
            st["waiting_message"] = app.message
            st["hud"] = [text for text, _ in app.last_hud.lines]
        st["log"].append((n, beats, app.preset_name))
        if "asked" in st and app.preset_name == "storm" and "landed" not in st:
            st["landed"] = n
        if "landed" in st and n >= st["landed"] + 2:
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, size=32, headless=True, duration=9.0,
                     refresh_hz=30.0, device="cpu", preset="drift", model="builtin")
    app = LiveApp(cfg, registry=make_registry(), on_frame=on_frame)
    app.run()
    assert "landed" in st, st["log"][-10:]
    old, new = st["old"], st["new"]
    assert new is not old and app.watchdog.guard.renderer is new and new.spec == "builtin:1"
    # The swap replaced the model path only: one performance, so the beat carried on by construction.
    perf = app.session.performance
    assert perf.clock.bpm == pytest.approx(240.0) and perf.clock.beats > 4.0
    # The preset asked for mid-bar waited for the bar line (1/4 s per beat: several frames at 30 fps).
    target = (int(st["beats_asked"] // 4) + 1) * 4
    assert "on the next bar" in st["waiting_message"]
    assert any(line.startswith("PRESET drift > storm ON BAR") for line in st["hud"]), st["hud"]
    by_frame = {n: (beats, name) for n, beats, name in st["log"]}
    k = st["landed"]
    assert by_frame[k][0] >= target and by_frame[k - 2][0] < target, (target, st["log"][-12:])
    assert k - st["asked"] >= 5
    # The swap handed drift's mappings over; storm's went to the model that is live now.
    drift, storm = (load_preset(name, make_registry()) for name in ("drift", "storm"))
    assert st["specs_at_swap"] == parse_mappings(drift.mappings, "drift") != ()
    assert perf.envelopes.specs == parse_mappings(storm.mappings, "storm") != st["specs_at_swap"]
