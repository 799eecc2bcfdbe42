"""``livegan render --workers 2`` / ``--ray-address``: real Ray clusters on 127.0.0.1, all on the CPU.

Every render here is compared with ``livegan render`` on one machine with the same
arguments. ``--lossless`` makes that comparison exact: the decoded frames are the pictures
the pipeline made, bit for bit, on both sides (lossy x264 is itself not bit-reproducible
from run to run on this machine at every size, see bench/results/ray-*.json, so a lossy
comparison would test x264, not the cluster). The audio is compared sample for sample.

Faults are real: a worker process killed by its PID mid-render, a driver killed with
SIGKILL and resumed. Each test stops what it started, by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest

from livegan.record.recorder import SetRecorder
from livegan.session import Session, SessionSpec
from test_recording import SR, music

LIVEGAN = [sys.executable, "-m", "livegan"]
# Small on purpose (2 shared cores): 12 s at 4 fps, 12-frame chunks -> 4 chunks.
ARGS = ["--demo", "--duration", "12", "--fps", "4", "--batch", "4", "--size", "64x64", "--model-size", "64",
        "--device", "cpu", "--lossless", "--quiet"]


# ---- processes ---------------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    out = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in map(int, kids):
        out += [c] + descendants(c)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_all(pids) -> None:
    """Stop processes this test started (a killed driver's Ray agents linger for a minute)."""
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def listening_addresses(pids: set[int]) -> list[str]:
    """Local addresses of the TCP/UDP sockets these processes listen on (``ss``)."""
    out = subprocess.run(["ss", "-Htlnup"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        if any(f"pid={p}," in line for p in pids):
            found.append(line.split()[4].rsplit(":", 1)[0])
    return found


@pytest.fixture
def ray_env(tmp_path):
    """Ray's session files in a short private folder (its socket paths must stay short)."""
    d = tempfile.mkdtemp(prefix="lgray", dir="/tmp")
    # Token authentication (Ray's default for a new cluster); a client joining one must ask for it.
    env = {**os.environ, "RAY_TMPDIR": d, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    yield env
    shutil.rmtree(d, ignore_errors=True)


def run_cli(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(LIVEGAN + ["render"] + args, env=env, capture_output=True, text=True, timeout=timeout)


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as c:
        video = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    return video, audio


def assert_same_render(a: Path, b: Path) -> None:
    va, aa = decoded(a)
    vb, ab = decoded(b)
    assert va.shape == vb.shape
    # Exact on purpose: lossless H.264 decodes to the rendered pixels, made by the same code on both sides.
    bad = [i for i in range(len(va)) if not np.array_equal(va[i], vb[i])]
    assert not bad, f"frames {bad[:10]} differ from the single-machine render"
    assert np.array_equal(aa, ab)  # the same AAC encoder on the same samples


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The single-machine render every cluster render here must equal."""
    out = tmp_path_factory.mktemp("ref") / "single.mp4"
    proc = run_cli(ARGS + ["-o", str(out)], os.environ)
    assert proc.returncode == 0, proc.stderr
    return out


def wait_for_chunks(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(folder.glob("chunk-*.mp4"))) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {n} finished chunks in {folder} (render exited with {proc.poll()})")


# ---- the tests ---------------------------------------------------------------------------
def test_cluster_render_survives_a_killed_worker_and_equals_one_machine(tmp_path, reference, ray_env):
    """``--workers 2`` on a local cluster (only on 127.0.0.1); one worker killed by its PID mid-render."""
    out = tmp_path / "cluster.mp4"
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen(LIVEGAN + ["render"] + ARGS + ["-o", str(out), "--workers", "2", "--stats-json", str(stats)],
                            env=ray_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree: set[int] = set()
    try:
        wait_for_chunks(tmp_path / ".cluster.mp4.chunks", 1, proc)
        tree = set(descendants(proc.pid)) | {proc.pid}
        workers = [p for p in tree if cmdline(p).startswith("ray::ChunkWorker")]
        assert len(workers) == 2, [cmdline(p) for p in tree]
        addresses = listening_addresses(tree)
        assert addresses and all(a in ("127.0.0.1", "[::ffff:127.0.0.1]") for a in addresses), addresses
        os.kill(workers[0], signal.SIGKILL)  # it holds a chunk: 3 are left and each worker takes up to 2
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        kill_all(tree | set(descendants(proc.pid)) if proc.poll() is None else tree)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    s = json.loads(stats.read_text())
    assert f"pid {workers[0]}" in stderr and "to another worker" in stderr, (stdout, stderr, s)
    assert s["workers"] == 2 and s["retried_chunks"] >= 1 and s["frames"] == 48
    assert not (tmp_path / ".cluster.mp4.chunks").exists()
    assert_same_render(reference, out)


def test_killed_driver_resumes_from_its_chunks(tmp_path, reference, ray_env):
    """The driver killed (SIGKILL) after a few chunks; ``--resume`` keeps them and finishes the same file."""
    out = tmp_path / "resumed.mp4"
    chunks = tmp_path / ".resumed.mp4.chunks"
    proc = subprocess.Popen(LIVEGAN + ["render"] + ARGS + ["-o", str(out), "--workers", "2"],
                            env=ray_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: set[int] = set()
    try:
        wait_for_chunks(chunks, 2, proc)
        tree = set(descendants(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        kill_all(tree)
    kept = sorted(p.name for p in chunks.glob("chunk-*.mp4"))
    assert len(kept) >= 2 and not out.exists()  # never a partial OUT

    again = run_cli(ARGS + ["-o", str(out)], ray_env)  # without --resume: refused, nothing lost
    assert again.returncode == 2 and "--resume" in again.stderr and chunks.is_dir()

    stats = tmp_path / "stats.json"
    done = run_cli(ARGS + ["-o", str(out), "--workers", "2", "--resume", "--stats-json", str(stats)], ray_env)
    assert done.returncode == 0, done.stderr
    # Chunk files are written whole (renamed into place), each after its effect state: all are kept.
    assert json.loads(stats.read_text())["resumed_chunks"] == len(kept)
    assert not chunks.exists()
    assert_same_render(reference, out)


def record_set(path: Path, seconds: float = 8.0) -> None:
    """A set whose feedback trails go off at 2.5 s and on again at 6.5 s: the chunk that brings
    them back (6-8 s) must start from the trails left at 2.5 s, across a chunk without them."""
    session = Session(SessionSpec(model_size=64, device="cpu", sample_rate=SR), load_model=False)
    reg = session.registry
    clock = {"t": 0.0}
    reg.clock = lambda: clock["t"]
    assert reg.get("fx/feedback/enabled") is True  # the default preset draws trails
    audio = music(seconds, seed=3)
    block = 1024
    with SetRecorder(reg, path, SR, 2, origin=0.0) as rec:
        for i in range(0, len(audio), block):
            rec.write_audio(audio[i:i + block])
            clock["t"] = (i + block) / SR
            if abs(clock["t"] - 2.5) < block / SR / 2:
                reg.set("fx/feedback/enabled", False)
            if abs(clock["t"] - 6.5) < block / SR / 2:
                reg.set("fx/feedback/enabled", True)
            rec.mark_tick(reg.snapshot(), clock["t"], i + block)


@pytest.fixture
def ray_head(ray_env):
    """A Ray cluster someone else started (here: a process that hosts it), on 127.0.0.1."""
    host = subprocess.Popen(
        [sys.executable, "-c", (
            "import os, sys, logging\n"
            "os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'\n"
            "import ray\n"
            "ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20,"
            " logging_level=logging.ERROR)\n"
            "print(ray.get_runtime_context().gcs_address, flush=True)\n"
            "sys.stdin.read()\n"
            "ray.shutdown()\n")],
        env=ray_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tree: set[int] = set()
    try:
        address = host.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        tree = set(descendants(host.pid))
        yield address
    finally:
        host.stdin.close()
        try:
            host.wait(timeout=60)
        except subprocess.TimeoutExpired:
            host.kill()
        kill_all(tree)


def test_replay_at_new_fps_on_a_joined_cluster(tmp_path, ray_env, ray_head):
    """``--replay SET --fps N --ray-address ADDR``: trails switched off and on again across chunks."""
    record_set(tmp_path / "set")
    args = ["--replay", str(tmp_path / "set"), "--fps", "4", "--batch", "4", "--size", "64x64", "--model-size", "64",
            "--device", "cpu", "--lossless", "--quiet"]
    single = tmp_path / "single.mp4"
    proc = run_cli(args + ["-o", str(single)], ray_env)
    assert proc.returncode == 0, proc.stderr
    joined = tmp_path / "joined.mp4"
    stats = tmp_path / "stats.json"
    proc = run_cli(args + ["-o", str(joined), "--ray-address", ray_head, "--workers", "2", "--stats-json", str(stats)],
                   ray_env)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(stats.read_text())
    # 3 s chunks: trails in the first and the last (which continues the first's), none in the middle.
    assert s["workers"] == 2 and s["chunks"] == 3 and s["stateful_chunks"] == 2
    assert_same_render(single, joined)


def test_without_the_extra_one_line_names_it(tmp_path):
    """No Ray installed: one line naming ``livegan[cluster]``, exit 2, nothing written."""
    code = ("import sys, importlib.abc\n"
            "class NoRay(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'ray' or name.startswith('ray.'):\n"
            "            raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n"
            "sys.meta_path.insert(0, NoRay())\n"
            "from livegan.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "x.mp4"
    proc = subprocess.run([sys.executable, "-c", code, "render", "--demo", "-o", str(out), "--workers", "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "livegan[cluster]" in lines[0], proc.stderr
    assert not out.exists() and not (tmp_path / ".x.mp4.chunks").exists()


def test_bad_worker_count_is_one_line(tmp_path):
    proc = run_cli(["--demo", "-o", str(tmp_path / "x.mp4"), "--workers", "0"], os.environ, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == "livegan: error: --workers 0: must be at least 1"


def test_streamed_analysis_equals_the_whole_file_pass():
    """The cluster driver analyses as it plans chunks; the frames must be ``analyze()``'s."""
    from livegan.audio.analyzer import analyze
    from livegan.audio.demo import demo_track
    from livegan.render.offline import FeatureStream, slice_clip

    clip = slice_clip(demo_track(), 0.0, 12.0)
    whole = analyze(clip.samples, clip.sample_rate)
    stream = FeatureStream(clip.samples, clip.sample_rate)
    for pos in range(0, len(clip.samples) + 4000, 7919):  # frames asking at uneven steps
        stream.until(pos)
        assert len(stream.frames) >= sum(f.sample_pos <= pos for f in whole)  # every hop heard by then
    # Exact on purpose: the same analyzer code on the same samples, in other block sizes.
    assert stream.frames == whole and stream.positions == [f.sample_pos for f in whole]
