"""Preset actions from a controller in live mode, over real UDP: morph, save, and a load that overrides a morph."""

from __future__ import annotations

import socket

from live_helpers import click_track

from livegan.conductor.mappings import parse_mappings, parse_mappings_json
from livegan.conductor.preset import load_preset
from livegan.control.osc_packet import encode_message
from livegan.control.osc_server import OscServer
from livegan.control.presets import preset_values
from livegan.live.app import LiveApp, LiveConfig
from livegan.params.definitions import make_registry


def test_osc_morph_then_save_in_live_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGAN_PRESETS", str(tmp_path / "mine"))  # saves go here, bundled ones still load
    song = click_track(tmp_path / "song.wav", [0.25 * i for i in range(40)], 10.0)
    reg = make_registry()
    st: dict = {"speeds": []}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(address: str, *args) -> None:
        sock.sendto(encode_message(address, list(args)), ("127.0.0.1", server.port))

    def on_frame(app: LiveApp, n: int) -> None:
        st["speeds"].append(reg.get("latent/speed"))
        if n == 3:
            send("/livegan/preset/morph", "storm", 0.5)
        if "landed" not in st and app.preset_name == "storm":
            st["landed"] = n
            st["values"] = preset_values(reg)
            st["specs"] = parse_mappings_json(reg.get("preset/mappings"))
            send("/livegan/preset/save", "after-storm")
        path = tmp_path / "mine" / "after-storm.toml"
        if "landed" in st and path.exists() and "saved" not in st:
            st["saved"] = n
        if "saved" in st and n == st["saved"] + 1:  # a slow morph, then a load that overrides it
            send("/livegan/preset/morph", "drift", 20.0)
            st["morph_sent"] = n
        if "morph_sent" in st and "morph_seen" not in st and app.morph.active:
            st["morph_seen"] = n
            app.request_preset("pulse")
        if "morph_seen" in st and n == st["morph_seen"] + 5:
            st["after_override"] = (app.preset_name, app.morph.active, reg.get("latent/speed"))
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, size=32, headless=True, duration=9.0,
                     refresh_hz=30.0, device="cpu", preset="drift", model="builtin")
    app = LiveApp(cfg, registry=reg, on_frame=on_frame)
    server = OscServer(reg, port=0, actions=app.control_actions(), isolate=True).start()
    try:
        app.run()
    finally:
        server.stop()
        sock.close()
    assert "saved" in st, (app.message, st.get("landed"))
    drift, storm = (load_preset(name, make_registry()) for name in ("drift", "storm"))
    a, b = drift.params.get("latent/speed", make_registry().get("latent/speed")), storm.params["latent/speed"]
    assert a != b
    between = [v for v in st["speeds"] if min(a, b) < v < max(a, b)]
    assert len(between) >= 3, st["speeds"]  # it glided over several frames, not a jump
    assert st["values"]["latent/speed"] == b  # and ended on the preset's value
    assert st["specs"] == parse_mappings(storm.mappings, "storm")  # the mappings came with it
    saved = load_preset("after-storm", make_registry())
    assert saved.params == st["values"]  # the look on screen, every value
    assert saved.mappings == storm.mappings
    assert [e["name"] for e in saved.effects][:2] == [e["name"] for e in storm.effects]
    pulse = load_preset("pulse", make_registry())
    assert st["after_override"] == ("pulse", False, pulse.params.get("latent/speed", make_registry().get("latent/speed")))
