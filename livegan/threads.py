"""How many CPU threads torch uses, and how its OpenMP threads wait: decided once at start-up.

A VJ laptop also runs DJ software, OBS or Resolume. OpenMP's default wait policy lets an
idle worker spin on a core; when another program holds that core, every parallel region
waits for a worker that is not scheduled, and the embedded model fell from ~110 to 2 fps
(issue 13). Passive waiting (the worker sleeps) removes that collapse. The thread count, by
measurement (``tools/bench_threads.py``, ``bench/results/threads-*.json``): ``render`` uses
every core (nothing else of ours runs beside it; it was fastest both quiet and busy), ``live``
leaves one core to its display, audio and analysis threads and to the other programs on
stage (the steadier model rate when the machine is busy), and uses at most 4. These are the
counts livegan used before; what changed is the wait policy and that one rule, with one
override, serves both commands.

``OMP_WAIT_POLICY`` is read once, when libgomp initialises, which happens when torch is
imported; so :func:`prepare_process` runs in ``cli.main`` before any command module is
imported. The thread count can change later (:func:`apply`). ``--threads`` and
``LIVEGAN_THREADS`` override the count for ``live`` and ``render`` alike; a wait policy the
user set in the environment is kept.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import MutableMapping

from .errors import LiveganError

ENV = "LIVEGAN_THREADS"
MAX_THREADS = 256
WAIT_POLICY = "PASSIVE"


@dataclass(frozen=True)
class ThreadPolicy:
    threads: int
    source: str  # "--threads", "LIVEGAN_THREADS" or "default"


LIVE_MAX_DEFAULT = 4  # batch-1 frames of a live model gain little from more (the earlier live rule)


def default_threads(command: str = "render", cpus: int | None = None) -> int:
    """``render``: every core (torch's own default); ``live``: every core but one, at most
    LIVE_MAX_DEFAULT (see the module docstring)."""
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    if command == "live":
        return max(1, min(LIVE_MAX_DEFAULT, n - 1))
    return max(1, min(MAX_THREADS, n))


def _count(text: str, what: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        raise LiveganError(f"{what} {text!r}: expected a whole number of threads from 1 to {MAX_THREADS}")
    return n


def threads_arg(text: str) -> int:
    """argparse type of ``--threads``."""
    try:
        return _count(text, "--threads")
    except LiveganError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def choose(requested: int | None = None, command: str = "render", environ: MutableMapping[str, str] | None = None,
           cpus: int | None = None) -> ThreadPolicy:
    """``--threads`` first, then ``LIVEGAN_THREADS``, then :func:`default_threads` for ``command``."""
    env = os.environ if environ is None else environ
    if requested is not None:
        return ThreadPolicy(_count(str(requested), "--threads"), "--threads")
    if env.get(ENV, "").strip():
        return ThreadPolicy(_count(env[ENV].strip(), ENV), ENV)
    return ThreadPolicy(default_threads(command, cpus), "default")


def prepare_process(environ: MutableMapping[str, str] | None = None) -> bool:
    """Passive OpenMP waiting, unless the user chose a policy. Must run before torch is imported;
    returns False when torch was imported already (then the policy cannot apply any more)."""
    env = os.environ if environ is None else environ
    env.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return "torch" not in sys.modules


def apply(policy: ThreadPolicy) -> None:
    import torch  # noqa: PLC0415

    if torch.get_num_threads() != policy.threads:
        torch.set_num_threads(policy.threads)
