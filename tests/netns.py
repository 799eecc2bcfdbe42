"""A network namespace with only ``lo`` (multicast on, a 224.0.0.0/4 route) for Link, NDI and zeroconf tests.

Those protocols announce on every interface; inside the namespace the only one is the
loopback, so nothing leaves the machine. A holder process keeps the namespace alive;
``nsenter`` runs each process of the test in it. Needs root (CI runs as root); where the
namespace cannot be made the test is skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && echo ready && " \
        "exec sleep 3600"
ROOT = Path(__file__).resolve().parents[1]


class Netns:
    def __init__(self) -> None:
        missing = [t for t in ("unshare", "nsenter", "ip") if shutil.which(t) is None]
        if missing:
            pytest.skip(f"cannot make a network namespace: {', '.join(missing)} not installed (util-linux, iproute2)")
        self.holder = subprocess.Popen(["unshare", "-n", "sh", "-c", SETUP], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            err = self.holder.stderr.read().strip() if self.holder.poll() is not None else ""
            self.close()
            pytest.skip(f"cannot make a network namespace with only lo (needs root or CAP_SYS_ADMIN): {err or line}")

    def argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-n", *argv]

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        """``argv`` run inside the namespace (from the repository root)."""
        return subprocess.Popen(self.argv(argv), cwd=kw.pop("cwd", ROOT), **kw)

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def livegan(*args: str) -> list[str]:
    return python("-m", "livegan", *args)


@pytest.fixture
def netns():
    ns = Netns()
    yield ns
    ns.close()
