"""OSC out and the feedback pump over real UDP: features, events sent once, the beat clock, parameter feedback."""

from __future__ import annotations

import socket

import pytest

from livegan.audio.features import Clock, FeatureFrame, merge_frames
from livegan.control.feedback import FeatureReader, FeedbackPump, clock_source
from livegan.control.osc_out import OscOut, OscTarget, bundles
from livegan.control.osc_packet import encode_message, parse_packet
from livegan.errors import LiveganError
from livegan.live.latest import Latest
from livegan.params.definitions import make_registry


def receive_all(sock: socket.socket) -> list[tuple[str, tuple]]:
    """Messages from every datagram waiting on ``sock`` (the first one may take a moment), in order."""
    got: list[tuple[str, tuple]] = []
    sock.settimeout(3.0)
    while True:
        try:
            data, _ = sock.recvfrom(65536)
        except (socket.timeout, BlockingIOError):
            return got
        got += [(tm.message.address, tm.message.args) for tm in parse_packet(data)]
        sock.settimeout(0.2)


@pytest.fixture()
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def test_features_events_clock_and_params(listener) -> None:
    reg = make_registry()
    feed: Latest[FeatureFrame] = Latest()
    clocks: Latest[Clock] = Latest()
    now = [10.0]
    out = OscOut(reg, [OscTarget("127.0.0.1", listener.getsockname()[1])]).start()
    pump = FeedbackPump(FeatureReader(reg, feed, clocks, lambda: now[0]), 30.0, [out.send])
    try:
        # Two hops between sends, one with an onset and a drop: merged as the analysis thread merges them.
        feed.put(FeatureFrame(0, 0.0, rms=0.5, bands=(0.1, 0.2, 0.3, 0.4), onset=True, onset_strength=0.7,
                              drop=True, tempo_bpm=120.0))
        feed.put_merged(FeatureFrame(512, 0.01, rms=0.6, bands=(0.1, 0.2, 0.3, 0.4), tempo_bpm=120.0),
                        lambda a, b: merge_frames([a, b]))
        clocks.put(Clock(bpm=120.0, beats=7.9, time=10.0))  # 0.1 beat before the bar line at 8
        reg.set("latent/speed", 2.0)
        pump.tick()
        got = dict(receive_all(listener))
        assert got["/livegan/out/rms"] == (pytest.approx(0.6),)
        assert got["/livegan/out/bands"] == pytest.approx((0.1, 0.2, 0.3, 0.4))
        assert got["/livegan/out/band/high"] == (pytest.approx(0.4),)
        assert got["/livegan/out/onset"] == (pytest.approx(0.7),) and got["/livegan/out/drop"] == (1,)
        assert got["/livegan/out/tempo/bpm"] == (120.0,) and got["/livegan/out/tempo/source"] == ("analysis",)
        assert got["/livegan/out/beat_phase"] == (pytest.approx(0.9, abs=1e-6),)
        assert got["/livegan/latent/speed"] == (2.0,) and got["/livegan/norm/latent/speed"] == (0.5,)
        assert got["/livegan/clock/bpm"] == (120.0,) and got["/livegan/clock/source"] == ("analysis",)
        assert reg.get("clock/bpm") == 120.0 and reg.get("clock/source") == "analysis"
        # Nothing new: levels again, no events, no parameter; 0.1 s on the clock crosses the bar line.
        now[0] = 10.1
        pump.tick()
        again = receive_all(listener)
        names = [a for a, _ in again]
        assert "/livegan/out/onset" not in names and "/livegan/latent/speed" not in names
        assert ("/livegan/out/beat", (1,)) in again and ("/livegan/out/bar", (1,)) in again  # beat 9 = 1st of bar 3
        assert pump.levels()["/livegan/out/tempo/bpm"] == (120.0,) and "/livegan/out/beat" not in pump.levels()
    finally:
        out.stop()


def test_clock_source_fallback() -> None:
    c = Clock(bpm=128.0)
    assert clock_source(Clock(), "auto", 0.0, 0.0) == ""  # no tempo
    assert clock_source(Clock(bpm=128.0, source="tap"), "auto", 0.0, 128.0) == "tap"  # the clock's own word
    assert clock_source(c, "manual", 128.0, 0.0) == "manual"
    assert clock_source(c, "auto", 0.0, 128.0) == "analysis"
    assert clock_source(c, "auto", 128.0, 0.0) == "manual"
    assert clock_source(c, "auto", 0.0, 0.0) == "tap"


def test_targets_and_bundle_splitting() -> None:
    assert OscTarget.parse("10.0.0.2:9001") == OscTarget("10.0.0.2", 9001)
    assert OscTarget.parse("9001") == OscTarget("127.0.0.1", 9001)
    for bad in ("host:", "host:0", "host:70000", "nowhere"):
        with pytest.raises(LiveganError, match="HOST:PORT"):
            OscTarget.parse(bad)
    msgs = [encode_message(f"/x/{i}", [float(i)]) for i in range(600)]
    packed = bundles(msgs, limit=1000)
    assert len(packed) > 1 and all(len(b) <= 1000 for b in packed)
    assert [tm.message.address for b in packed for tm in parse_packet(b)] == [f"/x/{i}" for i in range(600)]
