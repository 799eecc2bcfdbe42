"""The control surface as a user reaches it: ``livegan live --headless --file ...`` in its own
process, driven over real UDP OSC, HTTP and WebSocket on 127.0.0.1 by clients nobody here wrote
(PyPI python-oscquery and websockets, npm oscquery, Debian's chromium through selenium).

One show (module fixture) serves the OSC, OSCQuery, WebSocket and browser tests; the others
start their own for what they change (ports taken, tokens, preset files, MIDI, the recipe).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_live import LIVEGAN, Controller, LiveShow, free_port, wait_for
from live_helpers import click_track

from livegan.control.osc_namespace import namespace_specs
from livegan.control.osc_packet import encode_message, parse_message, parse_packet
from livegan.session.session import session_registry

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "tests" / "js"


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """Clicks at 120 BPM for a minute and a half: onsets, and a tempo the analysis finds."""
    path = tmp_path_factory.mktemp("song") / "clicks.wav"
    return click_track(path, [0.5 * i for i in range(1, 180)], 90.0)


@pytest.fixture(scope="module")
def show(song):
    """One show with OSC in, OSC out to a listener, and OSCQuery with the web remote."""
    tablet = Controller(0)
    osc_port, query_port = free_port(), free_port(socket.SOCK_STREAM)
    live = LiveShow(song, "--seed", "5", "--osc-port", str(osc_port), "--oscquery-port", str(query_port),
                    "--osc-out", f"127.0.0.1:{tablet.port}", "--osc-out-rate", "30")
    ctl = Controller(osc_port)
    try:
        live.wait_osc(ctl)
        live.wait_http(query_port)
        yield live, ctl, tablet, osc_port, query_port
    finally:
        code = live.stop()
        ctl.close()
        tablet.close()
    assert code == 130, live.stderr  # Ctrl-C: "livegan: interrupted"


def test_live_help_groups_and_documented_flags() -> None:
    out = subprocess.run([*LIVEGAN, "live", "--help"], capture_output=True, text=True, check=True).stdout
    heads = [line.split(":")[0] for line in out.splitlines() if re.match(r"^[a-z]+: ", line) and "usage" not in line]
    assert heads == ["audio", "picture", "control", "sync", "recording"]
    exe = Path(sys.executable).with_name("livegan")
    r = subprocess.run([str(ROOT.parent / "shared" / "tools" / "check-doc-flags"), str(exe)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_oscquery_browses_everything_and_reads_a_value_set_over_osc(show) -> None:
    from pythonoscquery.osc_query_client import OSCQueryClient
    from zeroconf import ServiceInfo  # only the record type: nothing is announced or browsed here

    live, ctl, _, osc_port, query_port = show
    info = ServiceInfo("_oscjson._tcp.local.", "livegan._oscjson._tcp.local.",
                       addresses=[socket.inet_aton("127.0.0.1")], port=query_port)
    client = OSCQueryClient(info)
    root = client.query_node("/")  # raises on a node that breaks the proposal (children and a value ...)
    paths = {node.full_path for node in root}
    expected = {s.address for s in namespace_specs(session_registry())}
    assert expected <= paths and "/livegan/norm/latent/speed" in paths and "/livegan/out/tempo/bpm" in paths
    host = client.get_host_info()
    assert (host.osc_port, host.osc_transport) == (osc_port, "UDP")
    ctl.send("/livegan/latent/speed", 2.5)
    node = wait_for(lambda: (n := client.query_node("/livegan/latent/speed")).value == [2.5] and n, 10)
    assert node and node.value == [2.5] and node.type == [float]
    assert client.query_node("/livegan/norm/latent/speed").value == [pytest.approx(2.5 / 4)]


def test_features_arrive_on_osc_out(show) -> None:
    _, _, tablet, _, _ = show
    tablet.receive(0.5)  # what queued up before now
    t0 = time.monotonic()
    got: list[tuple[str, tuple]] = []
    while time.monotonic() - t0 < 3.0:
        got += tablet.receive(0.5)
    seconds = time.monotonic() - t0
    out = [a for a, _ in got if a.startswith("/livegan/out/")]
    assert len(out) / seconds >= 10
    names = set(out)
    assert {"/livegan/out/bands", "/livegan/out/rms", "/livegan/out/beat_phase", "/livegan/out/bar_phase",
            "/livegan/out/tempo/bpm", "/livegan/out/tempo/source"} <= names
    assert "/livegan/out/onset" in names  # a click every half second
    assert all(len(args) == 4 for a, args in got if a == "/livegan/out/bands")


def test_unknown_address_and_read_only_get_one_error_reply_each(show) -> None:
    _, ctl, _, _, _ = show
    ctl.receive(0.1)
    ctl.send("/livegan/truncation/psy", 0.5)
    ctl.send("/livegan/clock/bpm", 90.0)
    errors = []
    end = time.monotonic() + 5
    while len(errors) < 2 and time.monotonic() < end:
        errors += [args for a, args in ctl.receive(1.0) if a == "/livegan/error"]
    assert [e[:2] for e in errors] == [("/livegan/truncation/psy", "unknown_address"),
                                       ("/livegan/clock/bpm", "read_only")]


def test_effective_tempo_is_a_read_only_parameter(show) -> None:
    _, ctl, tablet, _, query_port = show
    ctl.send("/livegan/tempo/source", "analysis")
    # The analysis finds the clicks' 120 BPM within seconds (no hard-coded figure: a range).
    bpm = wait_for(lambda: (v := ctl.ask("/livegan/clock/bpm")) and 100 <= v[0] <= 145 and v[0], 40, 0.5)
    assert bpm, ctl.ask("/livegan/clock/bpm")
    assert ctl.ask("/livegan/clock/source") == ("analysis",)
    with urllib.request.urlopen(f"http://127.0.0.1:{query_port}/livegan/clock", timeout=5) as r:
        node = json.loads(r.read())["CONTENTS"]
    assert node["bpm"]["ACCESS"] == 1 and 100 <= node["bpm"]["VALUE"][0] <= 145
    assert node["source"]["VALUE"] == ["analysis"]
    assert tablet.wait_message("/livegan/out/tempo/source", 5, lambda a: a == ("analysis",))
    # Taps lead the clock when tempo/source says so: four taps 0.4 s apart are about 150 BPM.
    ctl.send("/livegan/tempo/source", "tap")
    for _ in range(5):
        ctl.send("/livegan/tempo/tap")
        time.sleep(0.4)
    assert wait_for(lambda: ctl.ask("/livegan/clock/source") == ("tap",), 10, 0.2)
    assert 110 <= ctl.ask("/livegan/clock/bpm")[0] <= 200
    ctl.send("/livegan/tempo/source", "auto")


def test_websocket_listen_delivers_changes_and_reseed_moves_the_seed(show) -> None:
    from websockets.sync.client import connect

    _, ctl, _, _, query_port = show
    seed = ctl.ask("/livegan/latent/seed")[0]
    with connect(f"ws://127.0.0.1:{query_port}/") as ws:
        for address in ("/livegan/latent/seed", "/livegan/truncation/psi", "/livegan/out/bands"):
            ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": address}))
        time.sleep(0.2)
        ctl.send("/livegan/latent/reseed")
        ctl.send("/livegan/norm/truncation/psi", 0.75)
        seen: dict[str, tuple] = {}
        end = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < end:
            seen.update((tm.message.address, tm.message.args) for tm in parse_packet(ws.recv(timeout=5)))
        assert seen["/livegan/latent/seed"] == (seed + 1,)
        assert seen["/livegan/truncation/psi"] == (pytest.approx(1.25),)
        assert len(seen["/livegan/out/bands"]) == 4
        # IGNORE stops the stream of that address; a binary OSC packet on the socket sets a value.
        ws.send(json.dumps({"COMMAND": "IGNORE", "DATA": "/livegan/out/bands"}))
        ws.send(encode_message("/livegan/truncation/psi", [0.5]))
        later: list[str] = []
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            try:
                later += [tm.message.address for tm in parse_packet(ws.recv(timeout=0.3))]
            except TimeoutError:
                pass
        assert "/livegan/truncation/psi" in later
        assert "/livegan/out/bands" not in later[later.index("/livegan/truncation/psi"):]
        ws.send(encode_message("/livegan/nope", [1.0]))
        errors: list[tuple] = []
        while not errors:
            errors = [tm.message.args for tm in parse_packet(ws.recv(timeout=5)) if tm.message.address == "/livegan/error"]
        assert errors[0][:2] == ("/livegan/nope", "unknown_address")
    assert ctl.ask("/livegan/truncation/psi") == (0.5,)


@pytest.fixture(scope="module")
def node_client():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed (make sysdeps)")
    if not (JS / "node_modules" / "oscquery").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return node


def test_npm_oscquery_reads_the_right_types(show, node_client) -> None:
    _, _, _, osc_port, query_port = show
    r = subprocess.run([node_client, str(JS / "read_oscquery.mjs"), "127.0.0.1", str(query_port)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["hostInfo"]["oscPort"] == osc_port
    m = got["methods"]

    def types(path: str) -> list[str]:
        return [a["type"] for a in m[path]["args"]]

    assert types("/livegan/latent/speed") == ["f"] and m["/livegan/latent/speed"]["access"] == 3
    assert m["/livegan/latent/speed"]["args"][0]["clipmode"] == "none"
    assert m["/livegan/latent/speed"]["args"][0]["range"] == {"min": 0, "max": 4}
    assert types("/livegan/latent/keyframes") == ["i"] and types("/livegan/show/freeze") == ["T"]
    assert types("/livegan/noise/mode") == ["s"]
    assert m["/livegan/noise/mode"]["args"][0]["range"]["vals"] == ["const", "random", "none"]
    assert types("/livegan/preset/load") == ["s"] and types("/livegan/model/load") == ["s", "f"]
    assert types("/livegan/preset/morph") == ["s", "f", "s"] and types("/livegan/latent/reseed") == ["N"]
    assert types("/livegan/norm/truncation/psi") == ["f"] and types("/livegan/out/bands") == ["f"] * 4
    assert types("/livegan/clock/bpm") == ["f"] and m["/livegan/clock/bpm"]["access"] == 1


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make sysdeps)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=900,1400", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(flag)
    b = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    yield b
    b.quit()


def test_web_remote_in_a_headless_browser(show, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, ctl, _, _, query_port = show
    browser.get(f"http://127.0.0.1:{query_port}/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "status").text == "connected")
    # Moving a slider by hand changes the registry.
    ctl.send("/livegan/norm/layers/mid_middle", 0.0)
    slider = browser.find_element(By.CSS_SELECTOR, 'input.slider[data-param="layers/mid_middle"]')
    wait.until(lambda b: float(slider.get_property("value")) == 0.0)
    width = slider.size["width"]
    ActionChains(browser).move_to_element_with_offset(slider, -width // 2 + 2, 0).click_and_hold() \
        .move_by_offset(width // 2, 0).release().perform()
    moved = wait_for(lambda: (v := ctl.ask("/livegan/norm/layers/mid_middle")) and 0.3 < v[0] < 0.7 and v, 10, 0.2)
    assert moved, ctl.ask("/livegan/norm/layers/mid_middle")
    assert float(slider.get_property("value")) == pytest.approx(moved[0], abs=2e-3)
    # An OSC change moves the slider (and its value label).
    ctl.send("/livegan/norm/latent/motion", 0.75)  # 0..2: 1.5
    other = browser.find_element(By.CSS_SELECTOR, 'input.slider[data-param="latent/motion"]')
    wait.until(lambda b: abs(float(other.get_property("value")) - 0.75) < 1e-3)
    label = browser.find_element(By.CSS_SELECTOR, 'output[data-param="latent/motion"]')
    wait.until(lambda b: label.text == "1.5")
    # Toggles, buttons, presets, meters, the tempo and the preview.
    browser.find_element(By.CSS_SELECTOR, 'input.toggle[data-param="show/freeze"]').click()
    assert wait_for(lambda: ctl.ask("/livegan/show/freeze") == (True,), 10, 0.2)
    seed = ctl.ask("/livegan/latent/seed")[0]
    browser.find_element(By.CSS_SELECTOR, 'button.trigger[data-param="latent/reseed"]').click()
    assert wait_for(lambda: ctl.ask("/livegan/latent/seed") == (seed + 1,), 10, 0.2)
    browser.find_element(By.CSS_SELECTOR, 'button.preset[data-preset="pulse"]').click()
    assert wait_for(lambda: ctl.ask("/livegan/preset/name") == ("pulse",), 10, 0.2)
    wait.until(lambda b: b.find_element(By.ID, "bpm").text.endswith("BPM") and
               not b.find_element(By.ID, "bpm").text.startswith("--"))
    wait.until(lambda b: any(float(bar.value_of_css_property("height").rstrip("px") or 0) > 0
                             for bar in b.find_elements(By.CSS_SELECTOR, "#meters div")))
    wait.until(lambda b: b.execute_script("return document.getElementById('preview').naturalWidth") > 0)
    ctl.send("/livegan/show/freeze", False)


def test_default_port_taken_runs_without_osc_and_a_named_one_is_an_error(song) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        taken.bind(("127.0.0.1", 9000))
    except OSError:
        taken.close()
        taken = None  # another program has 9000 already: the same situation for livegan
    try:
        query = free_port(socket.SOCK_STREAM)
        live = LiveShow(song, "--oscquery-port", str(query), duration=4.0)
        info = live.wait_http(query)
        assert "OSC_PORT" not in info  # no OSC server to point at
        code = live.finish()
        assert code == 0, live.stderr
        assert "cannot listen for OSC on 127.0.0.1:9000 (Address already in use); the show runs without OSC" \
            in live.stderr
        assert json.loads(live.stdout.strip().splitlines()[-1])["frames"] > 0
        port = free_port()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", port))
        try:
            r = subprocess.run(LiveShow(song, "--osc-port", str(port), duration=4.0).cmd, capture_output=True,
                               text=True, timeout=300)
        finally:
            blocker.close()
        assert r.returncode == 2
        assert r.stderr.strip().splitlines()[-1] == \
            f"livegan: error: cannot listen for OSC on 127.0.0.1:{port} (Address already in use)"
    finally:
        if taken is not None:
            taken.close()


def test_oscquery_announce_in_a_namespace_with_only_lo(song) -> None:
    """Zeroconf multicasts on every interface: it is only ever tried here in a namespace of its own."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "-n", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("network namespaces are not available here (unshare -n needs root)")
    setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
    r = subprocess.run([unshare, "-n", "sh", "-c", f'{setup} && exec "$0" "$@"', sys.executable,
                        str(ROOT / "tests" / "zeroconf_browse.py"), str(song), str(free_port(socket.SOCK_STREAM))],
                       cwd=ROOT / "tests", capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["found"]["name"] == "livegan._oscjson._tcp.local." and got["found"]["host"] == "livegan"
    assert len(got["found"]["speed"]) == 1 and got["exit"] == 130


def test_hud_says_what_the_control_surface_runs() -> None:
    from livegan.audio.features import FeatureFrame
    from livegan.control.osc_validate import ActivityStats
    from livegan.control.surface import ControlStatus
    from livegan.live.hud_text import hud_state

    class Audio:
        state, message, xruns = "ok", "file", 0

    status = ControlStatus((("osc_port", "127.0.0.1:9000"), ("oscquery_port", ":9001 1 WS"),
                            ("http_host", "0.0.0.0 TOKEN abc")), ActivityStats(12, 11, {"unknown_address": 1}, 3.0),
                           ("OSC OFF: 127.0.0.1:9000 IS TAKEN",))
    hud = hud_state(stats={"fps": 60.0, "frame_p50": 16.0, "frame_p99": 17.0, "inference": 10.0, "latency_p50": 40.0,
                           "latency_p99": 50.0}, feat=FeatureFrame.rest(), values={}, onset=0.0, preset="drift",
                    waiting=None, notice="", model="builtin", osc=status, audio=Audio(), shader_errors=(),
                    model_error=None, watchdog="", recording=False)
    text = [line for line, _ in hud.lines]
    assert "OSC 127.0.0.1:9000  QUERY :9001 1 WS  WEB 0.0.0.0 TOKEN abc" in text
    assert "OSC OFF: 127.0.0.1:9000 IS TAKEN" in text
    assert any("OSC 12 (3/S) ERR 1" in line for line in text)


def test_token_and_allow_list_beyond_127_0_0_1(song) -> None:
    from websockets.sync.client import connect

    osc, query = free_port(), free_port(socket.SOCK_STREAM)
    live = LiveShow(song, "--osc-port", str(osc), "--osc-allow", "127.0.0.2", "--oscquery-port", str(query),
                    "--http-host", "127.0.0.2")
    stranger, friend = Controller(osc), Controller(osc, bind="127.0.0.2")
    try:
        live.wait_osc(friend)
        base = f"http://127.0.0.2:{query}/"
        token = wait_for(lambda: re.search(r"\?token=([\w-]+)", live.log()), 30)
        assert token, live.log()
        token = token.group(1)
        # A sender outside --osc-allow is dropped unanswered; one inside is served.
        stranger.send("/livegan/latent/speed", 3.0)
        assert stranger.receive(1.0) == []
        friend.send("/livegan/latent/speed", 1.0)
        assert friend.ask("/livegan/latent/speed") == (1.0,)
        # Reading the tree needs no token; the remote does.
        with urllib.request.urlopen(base + "?HOST_INFO", timeout=5) as r:
            assert json.loads(r.read())["OSC_PORT"] == osc
        html = urllib.request.Request(base, headers={"Accept": "text/html"})
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(html, timeout=5)
        assert denied.value.code == 401
        with urllib.request.urlopen(urllib.request.Request(base + f"?token={token}", headers={"Accept": "text/html"}),
                                    timeout=5) as r:
            assert b"livegan remote" in r.read()
        # A WebSocket without the token may listen but not write; with it, it writes.
        with connect(f"ws://127.0.0.2:{query}/") as ws:
            ws.send(encode_message("/livegan/latent/speed", [2.0]))
            err = parse_message(ws.recv(timeout=5))
            assert err.address == "/livegan/error" and err.args[1] == "sender_not_allowed"
        with connect(f"ws://127.0.0.2:{query}/?token={token}") as ws:
            ws.send(encode_message("/livegan/latent/speed", [2.0]))
            assert wait_for(lambda: friend.ask("/livegan/latent/speed") == (2.0,), 10, 0.2)
    finally:
        live.stop()
        stranger.close()
        friend.close()


def test_preset_watch_through_the_cli(song, tmp_path) -> None:
    preset = tmp_path / "look.toml"
    preset.write_text('name = "look"\n[params]\n"latent/speed" = 1.0\n')
    osc = free_port()
    live = LiveShow(song, "--preset", str(preset), "--watch-preset", "--osc-port", str(osc))
    ctl = Controller(osc)
    try:
        live.wait_osc(ctl)
        assert ctl.ask("/livegan/latent/speed") == (1.0,)
        preset.write_text('name = "look"\n[params]\n"latent/speed" = 2.0\n')
        assert wait_for(lambda: ctl.ask("/livegan/latent/speed") == (2.0,), 15, 0.2)
        preset.write_text('name = "look"\n[params]\n"latent/speed" = "fast"\n')  # broken: the look stays
        assert wait_for(lambda: "preset not reloaded" in live.log(), 15, 0.2)
        assert re.search(r"look\.toml:3: .*latent/speed", live.log())
        assert ctl.ask("/livegan/latent/speed") == (2.0,)
        preset.write_text('name = "look"\n[params]\n"latent/speed" = 3.0\n')  # fixed
        assert wait_for(lambda: ctl.ask("/livegan/latent/speed") == (3.0,), 15, 0.2)
    finally:
        live.stop()
        ctl.close()


@pytest.mark.jack
def test_midi_learn_through_the_cli(song, tmp_path, jack_server) -> None:
    rtmidi = pytest.importorskip("rtmidi")
    mapping = tmp_path / "map.toml"
    knobs = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="knobs")
    knobs.open_virtual_port("out")
    osc = free_port()
    live = LiveShow(song, "--osc-port", str(osc), "--midi-in", "knobs", "--midi-api", "UNIX_JACK",
                    "--midi-map", str(mapping))
    ctl = Controller(osc)
    try:
        live.wait_osc(ctl)
        ctl.send("/livegan/midi/learn", "latent/motion")  # arm, then move a knob: it binds
        assert wait_for(lambda: knobs.send_message([0xB2, 21, 30]) or "MIDI learnt" in live.log(), 15, 0.1), \
            live.log()
        assert "MIDI learnt cc 3/21 -> latent/motion" in live.log()

        def sweep() -> bool:
            """Turn the knob from the bottom to the top: soft takeover catches the value on its way, then
            follows to 2.0 (again if JACK dropped a message on a busy machine, as a user turns it again)."""
            for v in [*range(0, 128, 8), 127]:
                knobs.send_message([0xB2, 21, v])
                time.sleep(0.02)
            return ctl.ask("/livegan/latent/motion") == (2.0,)

        assert wait_for(sweep, 30, 0.1), live.log()
        ctl.receive(0.2)
        ctl.send("/livegan/midi/learn", "nosuch/thing")
        assert ctl.wait_message("/livegan/error", 5)[1] == "action_failed"
    finally:
        live.stop()
        ctl.close()
        knobs.close_port()
        del knobs
    text = mapping.read_text()  # learnt bindings are saved at the end
    assert 'param = "latent/motion"' in text and "number = 21" in text and "channel = 2" in text


def recipe_steps() -> list[tuple[str, str, str]]:
    """The TouchOSC recipe's table in docs/osc.md: (control, sends, arrives)."""
    doc = (ROOT / "docs" / "osc.md").read_text()
    table = doc[doc.index("The recipe, step by step"):]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", table, re.M)
    return [(control.strip(), sends.strip(), arrives.strip()) for _, control, sends, arrives in rows]


class AnyOf:
    """A bare type tag in the recipe: any value of that type."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __eq__(self, other: object) -> bool:
        return {"f": float, "i": int, "s": str}[self.tag] is type(other)


def osc_words(cell: str, expect: bool = False) -> tuple[str, tuple] | None:
    """`/address f 0.75 s name T` -> (address, args); "(nothing)" -> None; a bare tag at the end: any value."""
    if cell == "(nothing)":
        return None
    words = cell.strip("`").split(" ")
    address, args, i = words[0], [], 1
    while i < len(words):
        tag = words[i]
        if tag in ("T", "F"):
            args.append(tag == "T")
            i += 1
        elif i + 1 >= len(words):
            args.append(AnyOf(tag))
            i += 1
        else:
            value = words[i + 1]
            number = float(value) if tag == "f" else None
            args.append((pytest.approx(number, abs=1e-6) if expect else number) if number is not None else
                        int(value) if tag == "i" else value)
            i += 2
    return address, tuple(args)


def test_touchosc_recipe(song) -> None:
    steps = recipe_steps()
    assert len(steps) >= 8
    doc = (ROOT / "docs" / "osc.md").read_text()
    command = re.search(r"^livegan live (.+)$", doc[doc.index("## TouchOSC"):], re.M).group(1).split()
    tablet = Controller(0)
    osc = free_port()
    # The recipe's command with this machine's ports: 127.0.0.1 for TABLET_IP, free ports for 9000/9001.
    options = [w.replace("0.0.0.0", "127.0.0.1").replace("TABLET_IP", "127.0.0.1").replace("9001", str(tablet.port))
               for w in command] + ["--osc-port", str(osc)]
    live = LiveShow(song, *options)
    tablet.target = ("127.0.0.1", osc)  # sends to livegan; replies and feedback come back to its own port
    try:
        live.wait_osc(tablet)
        tablet.receive(0.3)
        for control, sends, arrives in steps:
            sent = osc_words(sends)
            if sent is not None:
                tablet.backlog.clear()  # what arrives from here on answers this step
                tablet.send(sent[0], *sent[1])
            want = osc_words(arrives, expect=True)
            if want is None:
                continue
            address, args = want
            got = tablet.wait_message(address, 10, lambda a: len(a) == len(args) and all(w == g for w, g in zip(args, a)))
            assert got is not None, f"step {control!r}: no {arrives}"
    finally:
        live.stop()
        tablet.close()
