"""OSC out over real UDP: features, events sent once, parameter changes mirrored."""

from __future__ import annotations

import socket

import pytest

from livegan.audio.features import FeatureFrame
from livegan.control.osc_out import OscOut, OscTarget, bundles
from livegan.control.osc_packet import encode_message, parse_packet
from livegan.errors import LiveganError
from livegan.params.definitions import make_registry


def receive_all(sock: socket.socket) -> dict[str, tuple]:
    """Messages from every datagram waiting on ``sock`` (the first one may take a moment)."""
    got: dict[str, tuple] = {}
    sock.settimeout(3.0)
    while True:
        try:
            data, _ = sock.recvfrom(65536)
        except (socket.timeout, BlockingIOError):
            return got
        for tm in parse_packet(data):
            got[tm.message.address] = tm.message.args
        sock.settimeout(0.2)


@pytest.fixture()
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def test_features_events_and_params(listener) -> None:
    reg = make_registry()
    out = OscOut(reg, [OscTarget("127.0.0.1", listener.getsockname()[1])], rate_hz=1.0)  # the thread idles
    with out:
        out.push_features(FeatureFrame(48000, 1.0, rms=0.5, bands=(0.1, 0.2, 0.3, 0.4), onset=True,
                                       onset_strength=0.7, beat=True, tempo_bpm=128.0))
        out.push_features(FeatureFrame(48512, 1.01, rms=0.25, bands=(0.5, 0.6, 0.7, 0.75)))  # latest wins
        reg.set("latent/speed", 1.0)
        reg.set("latent/speed", 2.0)  # coalesced: only the last goes out
        reg.set("noise/mode", "random")
        reg.set("fx/flash", None)  # triggers are not mirrored
        assert out.send_now() > 0
        got = receive_all(listener)
        assert got["/livegan/out/rms"] == (0.25,)
        assert got["/livegan/out/bands"] == (0.5, pytest.approx(0.6), pytest.approx(0.7), 0.75)
        assert got["/livegan/out/band/high"] == (0.75,)
        assert got["/livegan/out/onset"] == (pytest.approx(0.7),)
        assert got["/livegan/out/beat"] == (1,)
        assert "/livegan/out/drop" not in got
        assert got["/livegan/out/tempo"] == (0.0,)  # from the latest frame
        assert got["/livegan/latent/speed"] == (2.0,)
        assert got["/livegan/latent/speed/norm"] == (0.5,)
        assert got["/livegan/noise/mode"] == ("random",)
        assert "/livegan/fx/flash" not in got
        # Events went once; nothing new means nothing sent.
        out.push_features(FeatureFrame(49024, 1.02, rms=0.1))
        out.send_now()
        got = receive_all(listener)
        assert "/livegan/out/onset" not in got and "/livegan/out/beat" not in got
        assert out.send_now() == 0


def test_rate_thread_sends(listener) -> None:
    reg = make_registry()
    with OscOut(reg, [OscTarget("127.0.0.1", listener.getsockname()[1])], rate_hz=50.0) as out:
        reg.set("truncation/psi", 1.5)
        got = receive_all(listener)
    assert got["/livegan/truncation/psi"] == (1.5,) and out.sent >= 1


def test_targets_and_bundle_splitting() -> None:
    assert OscTarget.parse("10.0.0.2:7000") == OscTarget("10.0.0.2", 7000)
    assert OscTarget.parse("7001") == OscTarget("127.0.0.1", 7001)
    for bad in ("host:", "host:99999", "nope"):
        with pytest.raises(LiveganError, match="OSC target"):
            OscTarget.parse(bad)
    msgs = [encode_message(f"/livegan/p{i}", [float(i)]) for i in range(500)]
    packets = bundles(msgs, limit=1000)
    assert len(packets) > 1 and all(len(p) <= 1000 for p in packets)
    assert [tm.message.address for p in packets for tm in parse_packet(p)] == [f"/livegan/p{i}" for i in range(500)]
