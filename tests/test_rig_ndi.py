"""`livegan live --ndi NAME` seen by an NDI receiver (cyndilib) in another process, inside a network namespace.

NDI's Linux discovery relies on mDNS; with no avahi, an ``ndi-config.v1.json`` listing
127.0.0.1 (``NDI_CONFIG_DIR``) makes the Finder ask that address directly. Both ends run
in a namespace with only ``lo``, so nothing is announced beyond this machine.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from live_helpers import click_track
from netns import livegan, netns, python  # noqa: F401 - the fixture

from livegan.record.setfile import load_set

pytest.importorskip("cyndilib", reason="needs the optional extra livegan[ndi] (cyndilib)")


@pytest.mark.slow
def test_live_ndi_source_is_received(netns, tmp_path):  # noqa: F811
    (tmp_path / "ndi").mkdir()
    (tmp_path / "ndi" / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1"}}}))
    env = {**os.environ, "NDI_CONFIG_DIR": str(tmp_path / "ndi")}
    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(20)], 12.0)
    rec, got, stats = tmp_path / "set", tmp_path / "got.npz", tmp_path / "stats.json"
    receiver = netns.popen(python("tests/ndi_receiver.py", "livegan-test", "3", str(got)), env=env,
                           stdout=subprocess.PIPE, text=True)
    live = netns.popen(livegan("live", "--headless", "--file", str(song), "--no-playback", "--duration", "8",
                               "--size", "64", "--window", "96x64", "--fps", "30", "--ndi", "livegan-test",
                               "--record", str(rec), "--stats-json", str(stats)), env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert live.wait(timeout=180) == 0, live.stderr.read()
        receiver.wait(timeout=120)
    finally:
        for p in (live, receiver):
            if p.poll() is None:
                p.kill()
    lines = [json.loads(line) for line in receiver.stdout.read().splitlines()]
    assert lines[-1]["found"], "the NDI Finder did not see livegan's source"
    sent = json.loads(stats.read_text())["outputs"]["ndi"]
    assert sent["sent"] > 20 and sent["errors"] == 0
    data = np.load(got)
    frames = data["frames"]
    assert len(frames) > 5 and frames.shape[1:] == (64, 96, 3)
    # Each received picture is one the show displayed (NDI carries 4:2:2 video: a detailed 96x64
    # picture comes back within about ten levels); upside down it is far off; the pictures move.
    recorded = load_set(rec)
    thumbs = [t for t in (recorded.thumbnail(r) for r in recorded.display) if t is not None and t.max() > 16]
    stack = np.array(thumbs, dtype=np.int16)
    best = [np.abs(stack - f.astype(np.int16)).mean(axis=(1, 2, 3)).min() for f in frames]
    upside = [np.abs(stack - f[::-1].astype(np.int16)).mean(axis=(1, 2, 3)).min() for f in frames]
    assert np.median(best) < 16.0 and np.median(best) * 3 < np.median(upside)
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 1.0
    # NDI stamps each frame with the sender's submit time: same machine, same clock.
    lag = data["arrived"] - data["stamps"]
    assert np.all(lag > -0.01)
    print(f"NDI submit -> received: median {np.median(lag) * 1000:.1f} ms")
