"""``livegan live --headless --file SONG ...`` in a process of its own, steered the way a user's
controllers would: UDP OSC, HTTP and WebSocket on 127.0.0.1 (tests/test_cli_control.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from livegan.control.osc_packet import encode_message, parse_message, parse_packet

LIVEGAN = [sys.executable, "-m", "livegan"]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(every)


class Controller:
    """A UDP OSC controller: sends to livegan from its own socket and reads what comes back."""

    def __init__(self, port: int, bind: str = "127.0.0.1", listen_port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, listen_port))
        self.target = ("127.0.0.1", port)
        self.backlog: list[tuple[str, tuple]] = []  # received, not yet asked for (``wait_message``)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(encode_message(address, list(args)), self.target)

    def receive(self, timeout: float = 2.0) -> list[tuple[str, tuple]]:
        """The messages that arrive until a 50 ms lull or ``timeout`` seconds (bundles opened).

        Bounded in total: a stream of features out never leaves a 50 ms gap."""
        end = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        got: list[tuple[str, tuple]] = []
        try:
            while True:
                data, _ = self.sock.recvfrom(65536)
                got += [(tm.message.address, tm.message.args) for tm in parse_packet(data)]
                left = end - time.monotonic()
                if left <= 0:
                    return got
                self.sock.settimeout(min(0.05, left))
        except (socket.timeout, BlockingIOError):
            return got

    def wait_message(self, address: str, timeout: float = 10.0,
                     match: Callable[[tuple], bool] = lambda a: True) -> tuple | None:
        """The arguments of the first ``address`` message (that ``match`` accepts) received: from the
        backlog of messages that arrived before, else the next ones to arrive."""
        for i, (a, args) in enumerate(self.backlog):
            if a == address and match(args):
                del self.backlog[i]
                return args
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return None
            found = None
            for tm in parse_packet(data):
                if found is None and tm.message.address == address and match(tm.message.args):
                    found = tm.message.args
                else:
                    self.backlog.append((tm.message.address, tm.message.args))
            del self.backlog[:-5000]
            if found is not None:
                return found
        return None

    def ask(self, address: str, timeout: float = 5.0) -> tuple | None:
        """``/livegan/get/<name>`` -> the value's arguments (other replies are skipped)."""
        self.backlog.clear()
        self.send("/livegan/get/" + address.removeprefix("/livegan/"))
        return self.wait_message(address, timeout)

    def close(self) -> None:
        self.sock.close()


class LiveShow:
    """A running ``livegan live --headless --file`` with the options given."""

    def __init__(self, song: Path, *options: str, size: int = 32, duration: float = 600.0, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.cmd = [*LIVEGAN, "live", "--headless", "--file", str(song), "--no-playback", "--size", str(size),
                    "--window", "32x32", "--fps", "30", "--duration", str(duration), *options]
        # Files, not pipes: a show that logs more than a pipe holds must never block on it.
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err, text=True, cwd=cwd, env=env)
        self.stdout = self.stderr = ""

    def log(self) -> str:
        """What the show has written to stderr so far."""
        self._err.flush()
        self._err.seek(0)
        return self._err.read()

    def option(self, flag: str) -> str:
        return self.cmd[self.cmd.index(flag) + 1]

    def wait_http(self, port: int, timeout: float = 120.0) -> dict:
        def up() -> dict | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"livegan live exited {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?HOST_INFO", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        info = wait_for(up, timeout, 0.2)
        assert info, "the OSCQuery server did not come up"
        return info

    def wait_osc(self, ctl: Controller, timeout: float = 120.0) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"livegan live exited {self.proc.returncode}: {self.log()}")
            return ctl.ask("/livegan/latent/keyframes", timeout=0.5) is not None

        assert wait_for(up, timeout, 0.2), "livegan did not answer OSC"

    def stop(self, timeout: float = 60.0) -> int:
        """Ctrl-C, as a user ends the show; returns the exit code (130)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.finish(timeout)

    def finish(self, timeout: float = 180.0) -> int:
        """Wait for the show's end (--duration, or a stop); keeps its output."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.seek(0)
        self.stdout, self.stderr = self._out.read(), self.log()
        return self.proc.returncode


def message(data: bytes) -> tuple[str, tuple]:
    m = parse_message(data)
    return m.address, m.args
