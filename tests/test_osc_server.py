"""The OSC server over real UDP on 127.0.0.1: every address class, bundles, patterns, bad input."""

from __future__ import annotations

import random
import socket
import struct
import time
from typing import Any, Callable

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from livegan.control.osc_packet import encode_message, parse_message, parse_packet
from livegan.control.osc_server import OscServer
from livegan.control.osc_validate import Activity
from livegan.control.presets import default_actions
from livegan.control.triggers import ControlActions
from livegan.params.definitions import make_registry


def wait_for(cond: Callable[[], Any], timeout: float = 3.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.005)
    return cond()


def msg(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class Client:
    """A controller: sends from its own socket and reads replies on it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(15.0)  # the first preset load imports torch in the server thread: slow on a busy machine
        self.target = ("127.0.0.1", port)
        self.errors: list[tuple[Any, ...]] = []  # error replies (address, reason, detail), in order

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def query(self, address: str) -> tuple[str, tuple[Any, ...]]:
        self.send(msg(address))
        while True:
            m = parse_message(self.sock.recvfrom(65536)[0])
            if m.address != "/livegan/error":
                return m.address, m.args
            self.errors.append(m.args)

    def sync(self) -> None:
        """Wait until the server has handled everything sent so far (it answers in order)."""
        self.query("/livegan/get/latent/speed")


@pytest.fixture(params=[False, True], ids=["thread", "process"])
def rig(request):
    """Every test with this fixture runs against both the in-thread and the isolated receiver."""
    reg = make_registry()
    server = OscServer(reg, port=0, isolate=request.param).start()
    client = Client(server.port)
    yield reg, server, client
    client.sock.close()
    server.stop()


def test_set_norm_nudge_and_range(rig) -> None:
    reg, server, c = rig
    c.send(msg("/livegan/latent/speed", 1.5))
    c.send(msg("/livegan/norm/truncation/psi", 0.5))  # range -1..2 -> 0.5
    c.send(msg("/livegan/nudge/noise/strength", 2.0))  # 1 -> 3
    c.send(msg("/livegan/latent/keyframes", 12))
    c.sync()
    assert reg.get("latent/speed") == pytest.approx(1.5)
    assert reg.get("truncation/psi") == pytest.approx(0.5)
    assert reg.get("noise/strength") == pytest.approx(3.0)
    assert reg.get("latent/keyframes") == 12
    before = server.stats().error_total
    c.send(msg("/livegan/latent/speed", 99.0))  # out of range
    c.send(msg("/livegan/norm/latent/speed", 1.5))  # out of 0..1
    c.send(msg("/livegan/latent/speed", "fast"))  # wrong type
    c.send(msg("/livegan/latent/speed", 1.0, 2.0))  # wrong count
    c.send(msg("/livegan/latent/keyframes", 2.5))  # not an integer
    c.send(msg("/livegan/nudge/noise/strength", 1e9))  # nudges clamp to the range
    c.sync()
    assert reg.get("latent/speed") == pytest.approx(1.5)
    assert reg.get("latent/keyframes") == 12
    assert reg.get("noise/strength") == 10.0
    stats = server.stats()
    assert stats.error_total - before == 5
    assert stats.errors["out_of_range"] >= 3 and stats.errors["bad_arguments"] >= 2
    # One error reply per refused message, in order, naming the address and the reason.
    assert [(a, r) for a, r, _ in c.errors] == [
        ("/livegan/latent/speed", "out_of_range"), ("/livegan/norm/latent/speed", "out_of_range"),
        ("/livegan/latent/speed", "bad_arguments"), ("/livegan/latent/speed", "bad_arguments"),
        ("/livegan/latent/keyframes", "out_of_range")]
    assert "99.0" in c.errors[0][2]


def test_read_only_parameters_and_outputs_refuse_writes(rig) -> None:
    reg, server, c = rig
    reg.publish("clock/bpm", 128.0)
    c.send(msg("/livegan/clock/bpm", 90.0))
    c.send(msg("/livegan/out/rms", 0.5))
    c.send(msg("/livegan/nope", 1.0))
    assert c.query("/livegan/get/clock/bpm") == ("/livegan/clock/bpm", (128.0,))
    assert [(a, r) for a, r, _ in c.errors] == [("/livegan/clock/bpm", "read_only"), ("/livegan/out/rms", "read_only"),
                                                ("/livegan/nope", "unknown_address")]
    assert server.stats().errors == {"read_only": 2, "unknown_address": 1}
    c.send(msg("/livegan/norm/clock/bpm", 0.5))  # a read-only parameter has no 0..1 form
    c.sync()
    assert c.errors[-1][:2] == ("/livegan/norm/clock/bpm", "unknown_address") and reg.get("clock/bpm") == 128.0


def test_bool_enum_toggle(rig) -> None:
    reg, _, c = rig
    c.send(msg("/livegan/show/blackout", True))
    c.send(msg("/livegan/noise/mode", "random"))
    c.sync()
    assert reg.get("show/blackout") is True and reg.get("noise/mode") == "random"
    c.send(msg("/livegan/toggle/show/blackout", 1.0))
    c.send(msg("/livegan/toggle/show/blackout", 0.0))  # a button's release does nothing
    c.send(msg("/livegan/norm/noise/mode", 1.0))
    c.sync()
    assert reg.get("show/blackout") is False and reg.get("noise/mode") == "none"
    c.send(msg("/livegan/noise/mode", "sparkly"))
    c.sync()
    assert reg.get("noise/mode") == "none"


def test_query_replies_to_sender_and_reply_port() -> None:
    reg = make_registry()
    reg.set("latent/speed", 0.75)
    with OscServer(reg, port=0) as server:
        c = Client(server.port)
        assert c.query("/livegan/get/latent/speed") == ("/livegan/latent/speed", (0.75,))
        addr, (x,) = c.query("/livegan/get/norm/truncation/psi")
        assert addr == "/livegan/norm/truncation/psi" and x == pytest.approx((0.8 + 1) / 3, abs=1e-6)
        assert c.query("/livegan/get/noise/mode") == ("/livegan/noise/mode", ("const",))
        assert c.query("/livegan/get/show/freeze") == ("/livegan/show/freeze", (False,))
        c.sock.close()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(3.0)
    with OscServer(reg, port=0, reply_port=listener.getsockname()[1]) as server:
        c = Client(server.port)
        c.send(msg("/livegan/get/latent/{speed,motion}"))
        got = {parse_message(listener.recvfrom(1024)[0]).address for _ in range(2)}
        assert got == {"/livegan/latent/speed", "/livegan/latent/motion"}
        c.sock.close()
    listener.close()


def test_triggers_fire_on_press_only(rig) -> None:
    reg, _, c = rig
    reg.snapshot()
    c.send(msg("/livegan/latent/reseed"))
    c.send(msg("/livegan/fx/flash", 1.0))
    c.send(msg("/livegan/fx/flash", 0.0))
    c.send(msg("/livegan/tempo/tap", True))
    c.send(msg("/livegan/latent/next", "x"))  # refused
    c.sync()
    snap = reg.snapshot()
    assert [t.name for t in snap.triggers] == ["latent/reseed", "fx/flash", "tempo/tap"]
    assert all(t.source == "osc" for t in snap.triggers)


def test_bundle_with_future_timetag_applies_at_its_time(rig) -> None:
    reg, _, c = rig
    when = time.time() + 0.6
    b = OscBundleBuilder(when)
    m1 = OscMessageBuilder(address="/livegan/latent/speed")
    m1.add_arg(2.0)
    m2 = OscMessageBuilder(address="/livegan/latent/motion")
    m2.add_arg(1.5)
    b.add_content(m1.build())
    b.add_content(m2.build())
    c.send(b.build().dgram)
    c.sync()  # the bundle has been received and parsed: it must be waiting
    assert reg.get("latent/speed") == pytest.approx(0.15)
    assert wait_for(lambda: reg.get("latent/motion") == 1.5)
    assert time.time() >= when - 0.01
    assert reg.get("latent/speed") == 2.0
    # A bundle absurdly far ahead is refused, not queued.
    far = OscBundleBuilder(time.time() + 3600)
    far.add_content(m1.build())
    c.send(far.build().dgram)
    c.sync()
    assert rig[1].stats().errors.get("bad_timetag") == 1


def test_wildcards(rig) -> None:
    reg, _, c = rig
    c.send(msg("/livegan/transform/translate_?", 0.5))
    c.send(msg("/livegan/layers/*", 1.25))
    c.send(msg("/livegan/envelope/[a-b]ttack", 0.5))  # no match: 'a' is the first letter
    c.send(msg("/livegan/envelope/[!r]ttack", 0.3))
    c.send(msg("/livegan/{latent/speed,latent/motion}", 0.1))  # '/' inside braces: malformed, refused
    c.sync()
    assert reg.get("transform/translate_x") == 0.5 and reg.get("transform/translate_y") == 0.5
    assert {reg.get(n) for n in ("layers/bass_coarse", "layers/mid_middle", "layers/high_fine")} == {1.25}
    assert reg.get("envelope/attack") == 0.3
    assert reg.get("latent/speed") == pytest.approx(0.15)


def test_malformed_datagrams_leave_the_server_running(rig) -> None:
    reg, server, c = rig
    rng = random.Random(5)
    good = msg("/livegan/latent/speed", 1.0)
    bad: list[bytes] = [
        b"",
        b"\x00" * 8,
        b"/livegan/latent/speed\x00\x00\x00,f\x00\x00",  # ',f' with no data (python-osc reads 0.0)
        b"/livegan/latent/speed\x00\x00\x00,x\x00\x00\x00\x00\x00\x00",  # unknown tag
        b"/livegan/latent/speed\x00\x00\x00,s\x00\x00abc",  # unterminated string
        good[:-2],  # truncated
        good + b"\x00\x00\x00\x00",  # trailing bytes
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 4000) + good,  # element size past the end
        b"#bundle\x00\x00\x00",  # truncated header
        b"/" + b"a" * 60000 + b"\x00\x00\x00",  # huge address
        msg("/livegan/latent/speed", float("nan")),
        msg("/livegan/latent/speed", float("inf")),
        msg("/livegan/latent/speed", b"blob"),
    ]
    bad += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) for _ in range(200)]
    bad += [good[:k] for k in range(1, len(good))]  # every truncation
    bad += [good + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 9))) for _ in range(50)]
    for d in bad:
        if d:
            c.send(d)
    c.sync()
    assert server.alive
    assert reg.get("latent/speed") == pytest.approx(0.15)  # nothing made-up was applied
    assert server.stats().errors["malformed"] >= 280
    c.send(good)
    c.sync()
    assert reg.get("latent/speed") == 1.0


def test_unknown_addresses_are_counted_and_logged_once_a_second() -> None:
    t = [0.0]
    act = Activity(clock=lambda: t[0])
    assert act.refuse("unknown_address", "/x", "no such address")
    assert not act.refuse("unknown_address", "/x", "no such address")
    assert act.refuse("unknown_address", "/y", "no such address")
    t[0] = 1.01
    assert act.refuse("unknown_address", "/x", "no such address")
    assert act.stats().errors == {"unknown_address": 4}
    for k in range(50):  # 50 messages in the second from 1.0 to 2.0, then the HUD reads 50/s
        t[0] = 1.0 + k / 50
        act.received()
    t[0] = 2.2
    assert act.stats().messages_per_s == 50 and act.stats().received == 50
    t[0] = 3.5
    assert act.stats().messages_per_s == 0


def test_new_parameters_get_addresses(rig) -> None:
    from livegan.params.registry import ParamSpec

    reg, _, c = rig
    reg.declare(ParamSpec("bend/b64/rotate", "float", 0.0, -180, 180))
    c.send(msg("/livegan/bend/b64/rotate", 45.0))
    time.sleep(0.3)  # the namespace re-reads declarations at most every 0.25 s
    c.send(msg("/livegan/bend/b64/rotate", 45.0))
    c.sync()
    assert reg.get("bend/b64/rotate") == 45.0


def test_preset_and_model_actions(tmp_path, monkeypatch) -> None:
    (tmp_path / "alpha.toml").write_text('name = "alpha"\n[params]\n"latent/speed" = 2.0\n')
    (tmp_path / "beta.toml").write_text('name = "beta"\n[params]\n"latent/speed" = 3.0\n')
    monkeypatch.setenv("LIVEGAN_PRESETS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    from livegan.conductor.preset import list_presets

    names = list_presets()
    reg = make_registry()
    acts = default_actions(reg, save_dir=tmp_path)
    models: list[tuple[str, float]] = []
    acts.load_model = lambda path, fade: models.append((path, fade))
    with OscServer(reg, port=0, actions=acts) as server:
        c = Client(server.port)
        c.send(msg("/livegan/preset/load", "alpha"))
        c.sync()
        assert reg.get("latent/speed") == 2.0
        c.send(msg("/livegan/preset/load", names.index("beta")))
        c.sync()
        assert reg.get("latent/speed") == 3.0
        c.send(msg("/livegan/preset/load", "nosuch"))
        c.send(msg("/livegan/preset/load", 999))
        c.send(msg("/livegan/model/load", "/models/a.pkl", 4.0))
        c.send(msg("/livegan/model/load", "/models/b.pkl", 400.0))  # crossfade out of range
        c.send(msg("/livegan/latent/speed", 0.5))
        c.send(msg("/livegan/preset/save", "mine"))
        c.send(msg("/livegan/preset/save", "../evil"))
        c.sync()
        assert models == [("/models/a.pkl", 4.0)]
        assert server.stats().errors["action_failed"] == 3
        assert 'latent/speed" = 0.5' in (tmp_path / "mine.toml").read_text()
        c.send(msg("/livegan/preset/morph", "alpha", 0.2))
        c.sync()
        assert wait_for(lambda: reg.get("latent/speed") == 2.0)
        c.sock.close()
    with OscServer(reg, port=0, actions=ControlActions()) as server:  # an app without model loading
        c = Client(server.port)
        c.send(msg("/livegan/model/load", "/models/a.pkl"))
        c.sync()
        assert server.stats().errors["action_failed"] == 1
        c.sock.close()


def test_packet_codec_round_trip() -> None:
    data = encode_message("/a/b", [1, 2.5, "x", True, False, None, b"\x01\x02\x03", 2**40])
    m = parse_message(data)
    assert m.args == (1, 2.5, "x", True, False, None, b"\x01\x02\x03", 2**40) and m.tags == "ifsTFNbh"
    ref = msg("/a/b", 1, 2.5, "x")
    assert parse_message(ref).args == (1, 2.5, "x")  # python-osc's own encoding parses the same
    nested = OscBundleBuilder(0)
    inner = OscBundleBuilder(0)
    inner.add_content(OscMessageBuilder(address="/i").build())
    nested.add_content(inner.build())
    nested.add_content(OscMessageBuilder(address="/o").build())
    assert [t.message.address for t in parse_packet(nested.build().dgram)] == ["/i", "/o"]


def test_receiver_coalesces_only_sure_sets() -> None:
    from livegan.control.osc_namespace import Namespace
    from livegan.control.osc_receiver import Sorter

    sorter = Sorter()
    sorter.table = Namespace(make_registry()).table()
    sender = ("127.0.0.1", 5)
    for x in (0.1, 0.2, 0.3):
        sorter.add_datagram(msg("/livegan/norm/latent/speed", x), sender)
    sorter.add_datagram(msg("/livegan/latent/speed", 1.0), sender)
    sorter.add_datagram(msg("/livegan/latent/speed", 2.0), sender)
    sorter.add_datagram(msg("/livegan/latent/speed", 99.0), sender)  # out of range: kept, the parent refuses it
    sorter.add_datagram(msg("/livegan/fx/flash", 1.0), sender)  # a trigger: kept, and a barrier
    sorter.add_datagram(msg("/livegan/fx/flash", 0.0), sender)
    sorter.add_datagram(msg("/livegan/norm/latent/speed", 0.4), sender)
    sorter.add_datagram(msg("/livegan/nope", 1), sender)
    sorter.add_datagram(msg("/livegan/nope", 2), sender)
    sorter.add_datagram(b"junk", sender)
    b = sorter.take()
    got = [(tm.message.address, tm.message.args) for tm, _ in b["msgs"]]
    assert got == [("/livegan/norm/latent/speed", (0.3,)), ("/livegan/latent/speed", (2.0,)),
                   ("/livegan/latent/speed", (99.0,)), ("/livegan/fx/flash", (1.0,)), ("/livegan/fx/flash", (0.0,)),
                   ("/livegan/norm/latent/speed", (0.4,))]
    assert b["coalesced"] == 3 and b["received"] == 12 and b["malformed"] == 1
    assert b["unknown"]["/livegan/nope"][0] == 2


def test_isolated_receiver_under_a_burst() -> None:
    reg = make_registry()
    with OscServer(reg, port=0, isolate=True) as server:
        c = Client(server.port)
        for i in range(2000):
            c.send(msg("/livegan/norm/truncation/psi", (i % 100) / 100))
            c.send(msg("/livegan/latent/speed", (i % 40) / 10))
            if i % 250 == 249:
                c.sync()  # bursts of 500, well inside the socket's buffer
        c.send(msg("/livegan/norm/truncation/psi", 1.0))
        c.sync()
        assert reg.get("truncation/psi") == 2.0 and reg.get("latent/speed") == pytest.approx(3.9)
        stats = wait_for(lambda: (s := server.stats()).applied == s.received and s)  # the last reply's count
        assert stats.received == 4010 and stats.error_total == 0
        assert stats.coalesced > 0
        c.sock.close()
    assert not server.alive


@pytest.mark.parametrize("isolate", [False, True], ids=["thread", "process"])
def test_port_in_use_is_one_clear_error(isolate) -> None:
    from livegan.errors import LiveganError

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(LiveganError, match=f"cannot listen for OSC on 127.0.0.1:{port}"):
            OscServer(make_registry(), port=port, isolate=isolate).start()
    finally:
        taken.close()
