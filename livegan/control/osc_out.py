"""OSC out: the music as livegan hears it, and every parameter change, at a fixed rate.

Lights, Resolume or TouchDesigner can follow the analysis through livegan, and a
controller's faders follow presets and morphs. Features are "latest wins"; events
(onset, beat, drop) that happen between two sends are not lost: each is sent once, as
``1``, in the next bundle. Parameter changes are coalesced per parameter.

Addresses (prefix ``/livegan/out``): ``rms``, ``flux``, ``centroid``, ``bands`` (4 floats:
sub, low, mid, high), ``band/<name>``, ``onset`` (its strength), ``beat``, ``drop``,
``tempo``, ``beat_phase``, ``build``; parameter changes go out as ``/livegan/<name> <value>``
and, when it has one, ``/livegan/<name>/norm <0..1>``.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ..audio.features import BAND_NAMES, FeatureFrame
from ..errors import LiveganError
from ..params.registry import ParamChange, ParamRegistry
from .osc_namespace import has_norm
from .osc_packet import encode_bundle, encode_message

log = logging.getLogger("livegan.osc")

OUT_PREFIX = "/livegan/out"
MAX_BUNDLE_BYTES = 8000  # stay under common MTU-ish limits of receivers; bigger sends split


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


def feature_messages(f: FeatureFrame, onset: float, beat: bool, drop: bool) -> list[bytes]:
    out = [encode_message(OUT_PREFIX + "/rms", [float(f.rms)]),
           encode_message(OUT_PREFIX + "/flux", [float(f.flux)]),
           encode_message(OUT_PREFIX + "/centroid", [float(f.centroid)]),
           encode_message(OUT_PREFIX + "/bands", [float(b) for b in f.bands]),
           encode_message(OUT_PREFIX + "/tempo", [float(f.tempo_bpm)]),
           encode_message(OUT_PREFIX + "/beat_phase", [float(f.beat_phase)]),
           encode_message(OUT_PREFIX + "/build", [float(f.build)])]
    out += [encode_message(f"{OUT_PREFIX}/band/{n}", [float(b)]) for n, b in zip(BAND_NAMES, f.bands)]
    if onset > 0:
        out.append(encode_message(OUT_PREFIX + "/onset", [float(onset)]))
    if beat:
        out.append(encode_message(OUT_PREFIX + "/beat", [1]))
    if drop:
        out.append(encode_message(OUT_PREFIX + "/drop", [1]))
    return out


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


class OscOut:
    """Sends features and parameter changes to ``targets`` ``rate_hz`` times a second."""

    def __init__(self, registry: ParamRegistry, targets: list[OscTarget], rate_hz: float = 30.0,
                 send_features: bool = True, send_params: bool = True) -> None:
        if not 0.5 <= rate_hz <= 1000:
            raise LiveganError(f"OSC out rate {rate_hz} must be within 0.5..1000 Hz")
        self.registry = registry
        self.targets = list(targets)
        self.rate_hz = rate_hz
        self.send_features = send_features
        self.send_params = send_params
        self.sent = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._frame: FeatureFrame | None = None
        self._onset = 0.0
        self._beat = False
        self._drop = False
        self._changes: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # ---- inputs (any thread; cheap) -------------------------------------------------
    def push_features(self, frame: FeatureFrame) -> None:
        with self._lock:
            self._frame = frame
            if frame.onset:
                self._onset = max(self._onset, float(frame.onset_strength) or 1.0)
            self._beat |= bool(frame.beat)
            self._drop |= bool(frame.drop)

    def _on_change(self, change: ParamChange) -> None:
        if change.value is None or isinstance(change.value, (tuple, list)):
            return  # triggers and actions carry no state to mirror
        with self._lock:
            self._changes[change.name] = change.value

    # ---- one send ------------------------------------------------------------------
    def take_messages(self) -> list[bytes]:
        """Everything due since the last call (resets events and changes)."""
        with self._lock:
            frame, onset, beat, drop = self._frame, self._onset, self._beat, self._drop
            changes = self._changes
            self._frame, self._onset, self._beat, self._drop, self._changes = None, 0.0, False, False, {}
        msgs: list[bytes] = []
        if frame is not None and self.send_features:
            msgs += feature_messages(frame, onset, beat, drop)
        if self.send_params:
            for name, value in changes.items():
                if name not in self.registry:
                    continue
                spec = self.registry.spec(name)
                msgs.append(encode_message(spec.address, [value]))
                if has_norm(spec):
                    msgs.append(encode_message(spec.address + "/norm", [float(spec.normalise(value))]))
        return msgs

    def send_now(self) -> int:
        msgs = self.take_messages()
        if not msgs or self._sock is None:
            return 0
        for packet in bundles(msgs):
            for t in self.targets:
                try:
                    self._sock.sendto(packet, (t.host, t.port))
                    self.sent += 1
                except OSError as exc:  # a target that went away must not stop the others
                    self.errors += 1
                    log.debug("osc out to %s:%d failed: %s", t.host, t.port, exc)
        return len(msgs)

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> "OscOut":
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.send_params:
            self._unsubscribe = self.registry.subscribe(self._on_change)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="livegan-osc-out", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        period = 1.0 / self.rate_hz
        while not self._stop.wait(period):
            self.send_now()

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._sock:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "OscOut":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
