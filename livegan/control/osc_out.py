"""OSC out: the music as livegan hears it, and every parameter change, to ``--osc-out`` targets.

Lights, Resolume or TouchDesigner can follow the analysis through livegan, and a
controller's faders follow presets and morphs. The feedback pump (``feedback.py``) calls
``send`` at ``--osc-out-rate`` with the ``/livegan/out/...`` messages; parameter changes
since the last send are coalesced per parameter and go in the same bundles, as
``/livegan/<name> <value>`` and, when it has one, ``/livegan/norm/<name> <0..1>``.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import LiveganError
from ..params.registry import ParamChange, ParamRegistry
from .osc_namespace import has_norm, norm_address
from .osc_packet import encode_bundle, encode_message

log = logging.getLogger("livegan.osc")

MAX_BUNDLE_BYTES = 8000  # stay under common MTU-ish limits of receivers; bigger sends split
MIN_RATE_HZ, MAX_RATE_HZ = 1.0, 200.0


@dataclass(frozen=True)
class OscTarget:
    host: str
    port: int

    @staticmethod
    def parse(text: str) -> "OscTarget":
        """``HOST:PORT`` or ``PORT`` (127.0.0.1) -> target; LiveganError naming the text otherwise."""
        host, _, port = text.rpartition(":")
        try:
            p = int(port)
        except ValueError:
            p = -1
        if not 0 < p < 65536:
            raise LiveganError(f"OSC target {text!r} must be HOST:PORT with a port in 1..65535")
        return OscTarget(host or "127.0.0.1", p)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def bundles(messages: list[bytes], limit: int = MAX_BUNDLE_BYTES) -> list[bytes]:
    """Pack messages into as few immediate bundles as fit under ``limit`` bytes."""
    out: list[bytes] = []
    group: list[bytes] = []
    size = 16
    for m in messages:
        if group and size + 4 + len(m) > limit:
            out.append(encode_bundle(group))
            group, size = [], 16
        group.append(m)
        size += 4 + len(m)
    if group:
        out.append(encode_bundle(group))
    return out


def param_messages(registry: ParamRegistry, changes: dict[str, Any]) -> list[bytes]:
    """A parameter's value (and its 0..1 form) for each change, as OSC messages."""
    msgs: list[bytes] = []
    for name, value in changes.items():
        if name not in registry:
            continue
        spec = registry.spec(name)
        msgs.append(encode_message(spec.address, [value]))
        if has_norm(spec):
            msgs.append(encode_message(norm_address(spec), [float(spec.normalise(value))]))
    return msgs


class OscOut:
    """Sends what ``send`` is given, plus the parameter changes since the last send, to ``targets``."""

    def __init__(self, registry: ParamRegistry, targets: list[OscTarget], send_params: bool = True) -> None:
        self.registry = registry
        self.targets = list(targets)
        self.send_params = send_params
        self.sent = 0  # datagrams
        self.errors = 0
        self._lock = threading.Lock()
        self._changes: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def _on_change(self, change: ParamChange) -> None:
        if change.value is None or isinstance(change.value, (tuple, list)):
            return  # triggers and actions carry no state to mirror
        with self._lock:
            self._changes[change.name] = change.value

    def take_messages(self, features: list[tuple[str, tuple[Any, ...]]] = ()) -> list[bytes]:
        """The feature messages given, then every parameter change since the last call."""
        with self._lock:
            changes, self._changes = self._changes, {}
        msgs = [encode_message(a, args) for a, args in features]
        if self.send_params:
            msgs += param_messages(self.registry, changes)
        return msgs

    def send(self, features: list[tuple[str, tuple[Any, ...]]] = ()) -> int:
        """One send to every target; returns the number of messages."""
        msgs = self.take_messages(features)
        if not msgs or self._sock is None:
            return 0
        for packet in bundles(msgs):
            for t in self.targets:
                try:
                    self._sock.sendto(packet, (t.host, t.port))
                    self.sent += 1
                except OSError as exc:  # a target that went away must not stop the others
                    self.errors += 1
                    log.debug("osc out to %s failed: %s", t, exc)
        return len(msgs)

    def start(self) -> "OscOut":
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.send_params:
            self._unsubscribe = self.registry.subscribe(self._on_change)
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sock:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "OscOut":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
