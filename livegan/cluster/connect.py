"""Starting or joining the Ray cluster a render runs on.

``--workers N`` alone starts a cluster on this machine for the render's length: every Ray
server on 127.0.0.1 (Ray treats a one-machine cluster as local and binds its servers to
loopback), no dashboard, no usage statistics. ``--ray-address ADDR`` joins a cluster
someone started (``ray start --head`` on one node, ``ray start --address`` on the others);
livegan then listens where that cluster's Ray does.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ..errors import LiveganError

log = logging.getLogger("livegan.cluster")

EXTRA = "livegan[cluster]"
MIN_OBJECT_STORE = 128 * 2**20  # bytes; Ray refuses less than ~75 MB


def import_ray(local: bool = False):
    """The ``ray`` module, or one line naming the extra that brings it."""
    if local:
        # Read once, when ray is imported: off makes Ray take this machine for a single-machine
        # setup and bind every server to loopback instead of the network address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray  # noqa: PLC0415
    except ModuleNotFoundError:
        raise LiveganError(f"rendering with --workers or --ray-address needs Ray: pip install '{EXTRA}'") from None
    return ray


@dataclass(frozen=True)
class ClusterOptions:
    """Where a render runs: ``workers`` (None: one per GPU of the cluster, else one per node)
    and ``address`` (None: a cluster on this machine)."""

    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise LiveganError(f"--workers {self.workers}: must be at least 1")
        if self.address is not None and not self.address.strip():
            raise LiveganError("--ray-address: empty address (expected HOST:PORT of a Ray head, or 'auto')")


@dataclass(frozen=True)
class Cluster:
    """The joined cluster: how many workers to start and what each asks for."""

    ray: object
    workers: int
    gpus_per_worker: float
    cpus_per_worker: float
    local: bool


def local_object_store(weights_bytes: int, workers: int) -> int:
    """Object store bytes for a cluster on this machine: the weights once, the chunk plans,
    states and encoded chunks in flight (a few MB each), with room to spare."""
    return max(MIN_OBJECT_STORE, 2 * weights_bytes + 32 * 2**20 * workers)


def on_loopback(address: str | None) -> bool:
    """A cluster on this machine only: started here, or joined at a loopback address."""
    if address is None:
        return True
    host = address.rsplit(":", 1)[0].strip("[]").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


@contextmanager
def cluster(options: ClusterOptions, want_gpu: bool, weights_bytes: int) -> Iterator[Cluster]:
    """Start or join the cluster; shut down (or disconnect) when the block ends."""
    local = options.address is None
    ray = import_ray(on_loopback(options.address))
    if ray.is_initialized():
        ray.shutdown()
    try:
        if local:
            n = options.workers or 1
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                     object_store_memory=local_object_store(weights_bytes, n), namespace="livegan")
        else:
            ray.init(address=options.address, log_to_driver=False, logging_level=logging.ERROR,
                     namespace="livegan")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split())[:200]
        if local:
            raise LiveganError(f"cannot start a Ray cluster on this machine ({why})") from None
        if "RAY_AUTH_MODE" not in os.environ:  # Ray's default: clusters ask for a token, clients must say so
            why += "; a cluster with token authentication needs RAY_AUTH_MODE=token here"
        raise LiveganError(f"--ray-address {options.address}: cannot join the Ray cluster ({why})") from None
    try:
        res = ray.cluster_resources()
        gpus = int(res.get("GPU", 0)) if want_gpu else 0
        nodes = max(1, len([n for n in ray.nodes() if n.get("Alive")]))
        workers = options.workers or (gpus or nodes)
        # One GPU each where the cluster has enough; otherwise CPU workers (torch on the CPU).
        use_gpu = gpus >= workers and gpus > 0
        yield Cluster(ray, workers, 1.0 if use_gpu else 0.0, 0.0 if use_gpu else 1.0, local)
    finally:
        ray.shutdown()
