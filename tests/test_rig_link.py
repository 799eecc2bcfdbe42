"""`livegan live --link` with a real Link peer (aalink, in another process), inside a network namespace.

The peer changes the tempo and livegan follows; livegan's tempo (set over OSC) reaches the
peer; the bar phase agrees with the peer's; when the peer leaves, livegan runs on at the
last tempo without a jump; and the recorded set replays exactly (`render --replay --check`).
"""

from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pytest
from live_helpers import click_track
from netns import livegan, netns, python  # noqa: F401 - the fixture

from livegan.audio.beat import BeatClock
from livegan.cli import main
from livegan.record.setfile import load_set

pytest.importorskip("aalink", reason="needs the optional extra livegan[link] (aalink)")


class Peer:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.ready = json.loads(proc.stdout.readline())

    def ask(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def quit(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)


def wrap4(x: np.ndarray) -> np.ndarray:
    return (x + 2.0) % 4.0 - 2.0


@pytest.mark.slow
def test_live_link_follows_and_proposes_tempo(netns, tmp_path):  # noqa: F811
    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(30)], 16.0)
    peer = Peer(netns.popen(python("tests/link_peer.py", "120"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True))
    rec, stats, port = tmp_path / "set", tmp_path / "stats.json", 9123
    log = open(tmp_path / "live.log", "w")
    live = netns.popen(livegan("live", "--headless", "--file", str(song), "--no-playback", "--size", "64", "--fps",
                               "30", "--duration", "20", "--preset", "tunnel", "--link", "--osc-port", str(port),
                               "--record", str(rec), "--stats-json", str(stats)), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while peer.ask("state")["peers"] < 1:  # livegan has joined the session
            assert live.poll() is None and time.monotonic() < deadline, (tmp_path / "live.log").read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        t_140 = peer.ask("tempo 140")["time"]
        time.sleep(2.0)
        t_osc = peer.ask(f"osc {port} /livegan/tempo/bpm 133")["time"]
        came = peer.ask("wait_tempo 133 10")
        assert came["came"], "the tempo set in livegan did not reach the peer"
        samples = np.array(peer.ask("log 1.5")["samples"])
        # Start/stop sync: the peer starts the transport, stops it, starts it again.
        t_play = peer.ask("play")["time"]
        time.sleep(1.0)
        t_stop = peer.ask("stop")["time"]
        time.sleep(1.0)
        t_play2 = peer.ask("play")["time"]
        time.sleep(1.0)
        # Taps in livegan (over OSC, half a second apart) propose their tempo too.
        for _ in range(4):
            peer.ask(f"osc {port} /livegan/tempo/tap 1")
            time.sleep(0.5)
        tapped = peer.ask("state")
        time.sleep(0.5)
        peer.ask(f"osc {port} /livegan/tempo/bpm 131")
        assert peer.ask("wait_tempo 131 10")["came"]
        t_quit = peer.ask("state")["time"]
        peer.quit()
        assert live.wait(timeout=120) == 0, (tmp_path / "live.log").read_text()
    finally:
        peer.quit()
        if live.poll() is None:
            live.kill()
        log.close()

    recorded = load_set(rec)
    clock = recorded.clock
    assert clock is not None and len(clock) == len(recorded.ticks) > 30
    assert clock["lead"].all() and set(clock["source"]) == {b"link"}  # Link led every tick
    host, bpm, beats = clock["host"], clock["bpm"], clock["beats"]
    # The peer's tempo: followed within one beat (in Link's own clock), until livegan set its own.
    after = (host >= t_140 + 60.0 / 140.0) & (host < t_osc)
    assert after.sum() > 2 and np.allclose(bpm[after], 140.0)
    assert np.allclose(bpm[(host >= came["time"]) & (host < t_play)], 133.0, atol=1e-3)
    assert abs(tapped["tempo"] - 120.0) < 12.0  # four taps 0.5 s apart, stamped at the show's ticks
    # The same bar phase as the peer (Link's own agreement plus the read skew: well under a millisecond).
    span = (host > samples[0, 0]) & (host < samples[-1, 0])
    peer_beats = np.interp(host[span], samples[:, 0], samples[:, 1])
    assert span.sum() > 2 and np.abs(wrap4(beats[span] - peer_beats)).max() < 0.01
    # The transport: playing, stopped (the beat count holds), started again on a bar line.
    playing = clock["playing"].astype(bool)
    assert playing[(host > t_play + 0.2) & (host < t_stop)].all()
    stopped = (host > t_stop + 0.2) & (host < t_play2)
    assert stopped.sum() >= 2 and not playing[stopped].any()
    bc, count = BeatClock(), []
    for tick_t, row in zip(recorded.ticks["t"], clock):
        bc.follow(float(tick_t), float(row["bpm"]), float(row["beats"]), bool(row["playing"]))
        count.append(bc.beats)
    count = np.array(count)
    assert np.ptp(count[stopped]) == 0.0
    restart = int(np.argmax(host > t_play2 + 0.05))
    assert count[restart] > count[stopped][-1] and abs(wrap4(count[restart] - beats[restart])) < 0.01
    # Alone again: the last tempo, the timeline running on without a jump.
    alone = host > t_quit + 0.2
    assert alone.sum() > 2 and np.allclose(bpm[alone], 131.0, atol=1e-3)
    # (aalink reads Link's clock and the beat in two calls: a thread switch between them skews a
    # reading by a few milliseconds at most; a jump would be a large part of a beat.)
    steps = np.diff(beats[alone]) - np.diff(host[alone]) * bpm[alone][:-1] / 60.0
    assert np.abs(steps).max() < 0.01
    summary = json.loads(stats.read_text())["clock"]
    assert summary["source"] == "link" and summary["bpm"] == pytest.approx(131.0, abs=1e-3)
    assert summary["link"]["peers"] == 0 and summary["link"]["proposed"] >= 1
    # The replay follows the recorded Link readings: the same pictures (tunnel's loop is locked to the bars).
    assert main(["render", "--replay", str(rec), "--check", "--quiet"]) == 0
