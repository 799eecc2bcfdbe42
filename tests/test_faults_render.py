"""Render faults: a killed process, a full disk, running out of memory.

Nothing already made may be lost and no partial OUT may be left: a SIGKILLed render
leaves only its finished chunks, ``--resume`` continues from them and produces exactly
the frames of an uninterrupted render, and a full disk is one clear line and exit 2.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from livegan.audio.demo import demo_track
from livegan.cli import main
from livegan.render.chunks import work_dir
from livegan.render.offline import BatchRunner
from livegan.session import Session, SessionSpec

# A render in its own process (so it can be SIGKILLed): a 128 px builtin model on one thread,
# slow enough that the kill lands mid-render, scaled to 48x48 at 10 fps, 3 s chunks. Lossless:
# lossy x264 output differs from run to run on some machines (bench/results/ray-*.json), so
# only lossless frames can be compared exactly.
CHILD = """
import sys, torch
torch.set_num_threads(1)
from livegan.audio.io import load_audio
from livegan.errors import LiveganError
from livegan.render.encoder import Encoding
from livegan.render.offline import render
from livegan.session import Session, SessionSpec
song, out, seed, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
try:
    clip = load_audio(song)
    session = Session(SessionSpec(model_size=128, seed=seed, device="cpu", sample_rate=clip.sample_rate))
    r = render(clip, out, session, size=(48, 48), fps=10, batch=2, progress=False, resume=resume,
               encoding=Encoding(lossless=True))
except LiveganError as exc:
    print(f"livegan: error: {exc}", file=sys.stderr)
    sys.exit(2)
print(r.resumed_chunks)
"""


def child(song: Path, out: Path, seed: int = 3, resume: bool = False) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(song), str(out), str(seed), "1" if resume else "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def decode_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return float(a.duration * a.time_base)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    clip = demo_track(24.0, sample_rate=22050)
    path = tmp_path_factory.mktemp("song") / "song.wav"
    sf.write(path, clip.samples, clip.sample_rate)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


def test_killed_render_leaves_no_output_and_resume_gives_identical_frames(tmp_path, song, capsys):
    whole = tmp_path / "whole.mp4"
    rc, _, err = finish(child(song, whole))
    assert rc == 0, err
    assert not work_dir(whole).exists()  # chunks are removed once joined

    out = tmp_path / "killed.mp4"
    proc = child(song, out)
    chunks = work_dir(out)
    deadline = time.monotonic() + 120
    try:
        while not (chunks / "chunk-00001.mp4").exists():  # two finished chunks of eight
            assert proc.poll() is None, f"the render ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no chunk appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not out.exists() and leftovers(tmp_path) == []
    assert len(list(chunks.glob("chunk-*.mp4"))) >= 2

    # Without --resume nothing is thrown away silently: the same settings are told to --resume ...
    rc, _, err = finish(child(song, out))
    assert rc == 2 and "add --resume" in err and str(chunks) in err, err
    # ... other settings (through the CLI: one line, exit 2) that the folder is a stale partial ...
    assert main(["render", str(song), "-o", str(out), "--size", "48x48", "--fps", "10", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stale partial render made with other settings" in err[0] and str(chunks) in err[0], err
    # ... and a resume with other settings is refused rather than mixing two looks.
    rc, _, err = finish(child(song, out, seed=4, resume=True))
    assert rc == 2 and err.strip().splitlines()[-1].endswith(f"delete {chunks} to start over"), err
    assert "other settings (seed)" in err and not out.exists()

    rc, printed, err = finish(child(song, out, resume=True))
    assert rc == 0, err
    assert int(printed.strip()) >= 2  # the kept chunks were reused, not rendered again
    a, b = decode_frames(whole), decode_frames(out)
    assert a.shape == b.shape == (240, 48, 48, 3)
    assert np.array_equal(a, b)  # exact: chunks are whole batches, so both runs batch alike
    assert abs(audio_seconds(out) - 24.0) < 0.05 and not chunks.exists()


@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a 2 MB tmpfs needs root and mount(8)")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused: {res.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_full_disk_is_one_line_exit_2_and_no_partial_output(tiny_disk, song, capsys):
    out = tiny_disk / "big.mp4"
    # Lossless 256x256 frames fill 2 MB within a few seconds of video.
    rc = main(["render", str(song), "-o", str(out), "--size", "256x256", "--fps", "10", "--crf", "0",
               "--x264-preset", "ultrafast", "--duration", "12", "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("livegan: error:"), err
    assert "no space left on the device" in err[0] and str(tiny_disk) in err[0] and "--resume" in err[0]
    assert not out.exists() and leftovers(tiny_disk) == []
    assert not [p for p in work_dir(out).glob("*partial*")]  # the chunk being written is gone too


class OutOfMemoryAbove:
    """A model path on the real engine, failing like CUDA does when a batch is larger than ``limit``."""

    def __init__(self, engine, limit: int) -> None:
        self.engine, self.limit, self.refused = engine, limit, 0

    def render_batch(self, inputs):
        if len(inputs) > self.limit:
            self.refused += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated: no GPU here)")
        return self.engine.generate(inputs)


def test_out_of_memory_halves_the_batch_and_keeps_the_frames():
    torch.manual_seed(0)
    session = Session(SessionSpec(model="builtin:1", model_size=32, device="cpu", sample_rate=22050))
    conductor, registry = session.conductor(), session.registry
    from livegan.audio.features import FeatureFrame

    inputs = [conductor.step([FeatureFrame.rest(i * 735)], registry.snapshot(), i / 30) for i in range(8)]
    engine = session.model.engine
    flaky = OutOfMemoryAbove(engine, limit=2)
    runner = BatchRunner(flaky, batch=8)
    frames = runner.run(inputs)
    assert runner.batch == 2 and flaky.refused == 2  # 8 -> 4 -> 2, then it stays at 2
    expected = np.concatenate([engine.generate(inputs[i:i + 2]).cpu().numpy() for i in range(0, 8, 2)])
    assert frames.shape == expected.shape and np.array_equal(frames, expected)

    never = BatchRunner(OutOfMemoryAbove(engine, limit=0), batch=4)
    from livegan.errors import LiveganError

    with pytest.raises(LiveganError, match="out of memory at batch 1"):
        never.run(inputs[:2])
