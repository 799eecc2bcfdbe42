"""The control surface as the live app builds it from command-line options."""

from __future__ import annotations

import argparse
import json
import socket
import time
import urllib.request

import pytest

from livegan.control.osc_packet import encode_message, parse_packet
from livegan.control.surface import ControlSurface, add_arguments
from livegan.errors import LiveganError
from livegan.params.definitions import make_registry


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


def test_surface_from_args(tmp_path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(3.0)
    preset = tmp_path / "look.toml"
    preset.write_text('[params]\n"latent/speed" = 1.0\n')
    reg = make_registry()
    args = parse(["--osc-port", "0", "--osc-out", f"127.0.0.1:{listener.getsockname()[1]}", "--osc-out-rate", "50",
                  "--oscquery-port", "0", "--watch-preset", "--midi-map", str(tmp_path / "map.toml")])
    args.osc_port = 0
    surface = ControlSurface.from_args(args, reg, preset=str(preset))
    assert surface.osc is None  # port 0 means "off" on the command line
    args.osc_port = 1  # ask for a real server, then pick a free port for the test
    surface = ControlSurface.from_args(args, reg, preset=str(preset))
    surface.osc.requested_port = 0
    surface.watcher.interval = 0.02
    with pytest.raises(LiveganError, match="OSC target"):
        ControlSurface.from_args(parse(["--osc-out", "nowhere"]), reg)
    surface.start()
    try:
        assert "preset/load" in reg  # actions are declared so recorders see them
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(encode_message("/livegan/truncation/psi", [1.25]), ("127.0.0.1", surface.osc.port))
        s.sendto(encode_message("/livegan/nope", []), ("127.0.0.1", surface.osc.port))
        got = {}
        while "/livegan/truncation/psi" not in got:
            for tm in parse_packet(listener.recvfrom(65536)[0]):
                got[tm.message.address] = tm.message.args
        assert got["/livegan/truncation/psi"] == (1.25,)  # came back out through OSC out
        with urllib.request.urlopen(surface.query.url + "/?HOST_INFO", timeout=5) as r:
            assert json.loads(r.read())["OSC_PORT"] == surface.osc.port
        end = time.monotonic() + 3
        while not surface.stats().errors and time.monotonic() < end:
            time.sleep(0.01)
        stats = surface.stats()
        assert stats.received == 2 and stats.errors == {"unknown_address": 1}
        preset.write_text('[params]\n"latent/speed" = 2.0\n')
        end = time.monotonic() + 3
        while reg.get("latent/speed") != 2.0 and time.monotonic() < end:
            time.sleep(0.01)
        assert reg.get("latent/speed") == 2.0
        s.close()
    finally:
        surface.stop()
        listener.close()
