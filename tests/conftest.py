"""Session fixtures that start the real parts CI runs against (see docs/headless.md).

* ``jack_server``: a JACK dummy server, so PortAudio (sounddevice) and JACK MIDI have a
  device. ``sounddevice`` must be imported only after it started (PortAudio lists its
  host APIs once, at import), so tests import it lazily.
* ``xvfb_display``: an X server for real glfw windows when no DISPLAY is set.

Both reuse what is already running, and stop only what they started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

JACKD_ARGS = ["--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024", "-C", "2", "-P", "2"]


def jack_env(server: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["JACK_NO_AUDIO_RESERVATION"] = "1"
    env["JACK_NO_START_SERVER"] = "1"
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    return env


def jack_running(server: str | None = None) -> bool:
    try:
        return subprocess.run(["jack_lsp"], env=jack_env(server), capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_jackd(server: str | None = None, timeout: float = 10.0) -> subprocess.Popen:
    """Start a dummy-driver jackd (named ``server`` when given) and wait until it answers."""
    cmd = ["jackd"] + (["-n", server] if server else []) + JACKD_ARGS
    proc = subprocess.Popen(cmd, env=jack_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with code {proc.returncode}")
        if jack_running(server):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("jackd did not start")


def stop_process(proc: subprocess.Popen, grace_s: float = 1.0) -> None:
    # jackd can wait seconds for a killed client's timeout before it exits: do not wait on it.
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """Each test starts with the session's torch thread count: tests that run ``cli.main`` in this
    process apply livegan's thread policy (livegan/threads.py), which must not leak into the next."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def jack_server():
    """The default JACK server (dummy driver, 48 kHz, 1024-frame periods) is up."""
    if not shutil.which("jackd"):
        pytest.skip("jackd is not installed")
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    os.environ["JACK_NO_START_SERVER"] = "1"
    proc = None if jack_running() else start_jackd()
    yield "default"
    if proc is not None:
        # PortAudio users must be done first, or PortAudio aborts at exit.
        sd = sys.modules.get("sounddevice")
        if sd is not None:
            try:
                sd._terminate()
            except Exception:
                pass
        stop_process(proc)


@pytest.fixture(scope="session")
def xvfb_display():
    """An X display (the existing DISPLAY, or a fresh Xvfb); yields its name."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    num = next(n for n in range(99, 200) if not Path(f"/tmp/.X{n}-lock").exists()
               and not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = Path(f"/tmp/.X11-unix/X{num}")
    deadline = time.monotonic() + 10
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{num}"
    try:
        yield f":{num}"
    finally:
        os.environ.pop("DISPLAY", None)
        stop_process(proc)
