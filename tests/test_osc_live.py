"""Garbage over OSC during a headless live run: the render loop and the server keep going."""

from __future__ import annotations

import random
import socket
import threading

from live_helpers import PatternRenderer, click_track

from livegan.control.osc_packet import encode_message, parse_message
from livegan.control.osc_server import OscServer
from livegan.live.app import LiveApp, LiveConfig
from livegan.params.definitions import make_registry


def test_malformed_flood_does_not_stop_the_show(tmp_path) -> None:
    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    reg = make_registry()
    server = OscServer(reg, port=0, isolate=True).start()
    seen: dict = {}
    rng = random.Random(7)
    good = encode_message("/livegan/latent/speed", [2.5])

    def attack() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for k in range(600):
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
            s.sendto([junk, good[: rng.randint(1, len(good) - 1)], b"/livegan/latent/speed\0\0\0,f\0\0",
                      encode_message("/livegan/nope/" + str(k), [1.0])][k % 4], ("127.0.0.1", server.port))
        s.sendto(good, ("127.0.0.1", server.port))
        s.settimeout(5.0)
        s.sendto(encode_message("/livegan/get/latent/speed"), ("127.0.0.1", server.port))
        errors = 0
        while (m := parse_message(s.recvfrom(1024)[0])).address == "/livegan/error":
            errors += 1  # the refusals' replies (at most 50 a second to one sender) come first
        seen["reply"], seen["error_replies"] = m.args, errors
        s.close()

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 5:
            seen["thread"] = threading.Thread(target=attack)
            seen["thread"].start()
        if "reply" in seen and "replied_at" not in seen:
            seen["replied_at"] = n
        if "replied_at" in seen and n == seen["replied_at"] + 20:
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, headless=True, window=(48, 48), preset="drift", duration=30.0)
    app = LiveApp(cfg, registry=reg, renderer=PatternRenderer(), osc_activity=server.stats, on_frame=on_frame)
    try:
        app.run()
    finally:
        if "thread" in seen:
            seen["thread"].join(timeout=10)
        stats = server.stats()
        alive = server.alive
        server.stop()
    assert seen.get("reply") == (2.5,) and reg.get("latent/speed") == 2.5
    assert app.frames_drawn == seen["replied_at"] + 20  # frames kept coming through and after the flood
    assert alive and stats.errors["malformed"] >= 290 and stats.errors["unknown_address"] >= 140
    assert 1 <= seen["error_replies"] <= 450  # answered, within the per-sender budget
