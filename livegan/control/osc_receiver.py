"""The OSC receiving process: parse, sort and coalesce datagrams away from the show's GIL.

Parsing a datagram costs tens of microseconds of Python. At 10,000 messages a second that
is a quarter of a core, and inside the live process it would hold the GIL the render and
inference threads need (a 10k msg/s flood cost a CPU frame loop over a third of its frame
rate). So ``OscServer(isolate=True)`` runs this module in a child process: it receives,
parses and checks packets, drops what is malformed, coalesces runs of plain sets to the
same address (only the last value of a run matters) and hands the rest to the parent in
batches every few milliseconds. The parent applies them to the registry, answers
queries and runs bundles at their time.

Protocol over the ``Connection`` (pickles):
- child -> parent: ``("ready", port)`` or ``("error", text)`` once, then batch dicts (see ``Batch``).
- parent -> child: ``("table", {address: kind})`` whenever the namespace changes; ``("stop",)``.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from .osc_packet import IMMEDIATE, OscParseError, TimedMessage, parse_packet
from .osc_validate import allowed, parse_allow

FLUSH_S = 0.005  # batch period under a stream of messages (a lone message goes at once)
STREAM_PER_20MS = 20  # above ~1000 messages/s, batch
MAX_BATCH = 2000  # flush early when this many messages wait
MAX_DETAILS = 16  # malformed-packet descriptions per batch (the rest are only counted)
MAX_SENDERS = 16  # senders kept per unknown address per batch (each gets an error reply)


def new_batch() -> dict[str, Any]:
    """What the child sends: counts, messages in order, unknown addresses, malformed packets."""
    return {"received": 0, "coalesced": 0, "msgs": [], "unknown": {}, "malformed": 0, "malformed_detail": [],
            "not_allowed": 0}


def coalescable(entry: tuple[str, float | None, float | None, bool], tm: TimedMessage) -> bool:
    """Whether a message is an immediate set the registry will surely accept.

    Only those may be replaced by a later one: a refused value must still be refused (and
    counted), and must not hide the valid value before it.
    """
    kind, lo, hi, integer = entry
    args = tm.message.args
    if tm.when != IMMEDIATE or kind not in ("norm", "set_number") or len(args) != 1:
        return False
    x = args[0]
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return False
    if kind == "norm":
        return 0.0 <= x <= 1.0
    if integer and not float(x).is_integer():
        return False
    return (lo is None or x >= lo) and (hi is None or x <= hi)


class Sorter:
    """Turns datagrams into a batch, coalescing runs of immediate sets to one address."""

    def __init__(self) -> None:
        self.table: dict[str, tuple[str, float | None, float | None, bool]] = {}
        self.batch = new_batch()
        self._run: dict[str, int] = {}  # address -> index in batch["msgs"] within the current run of sets

    def take(self) -> dict[str, Any]:
        batch, self.batch, self._run = self.batch, new_batch(), {}
        return batch

    def add_datagram(self, data: bytes, sender: tuple[str, int]) -> None:
        b = self.batch
        try:
            timed = parse_packet(data)
        except OscParseError as exc:
            b["received"] += 1
            b["malformed"] += 1
            if len(b["malformed_detail"]) < MAX_DETAILS:
                b["malformed_detail"].append((sender, f"{exc} ({len(data)} bytes)"))
            return
        for tm in timed:
            b["received"] += 1
            address = tm.message.address
            entry = self.table.get(address)
            if entry is None and not any(c in address for c in "*?[{"):
                count, _, senders = b["unknown"].get(address, (0, None, []))
                if len(senders) < MAX_SENDERS:
                    senders.append(sender)
                b["unknown"][address] = (count + 1, tm, senders)  # the parent re-checks: it may be brand new
                continue
            if entry is not None and coalescable(entry, tm):
                i = self._run.get(address)
                if i is not None:
                    b["msgs"][i] = (tm, sender)
                    b["coalesced"] += 1
                    continue
                self._run[address] = len(b["msgs"])
            else:
                self._run.clear()  # anything else is a barrier: order around it is kept exactly
            b["msgs"].append((tm, sender))

    @property
    def pending(self) -> int:
        b = self.batch
        return len(b["msgs"]) + len(b["unknown"]) + b["malformed"] + b["not_allowed"]


def serve(conn: Connection, host: str, port: int, allow: str = "") -> None:
    nets = parse_allow([allow]) if allow else ()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        conn.send(("error", f"cannot listen for OSC on {host}:{port} ({exc.strerror})", exc.errno))
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    try:
        os.nice(5)  # when CPUs are short, the picture comes before the controller
    except OSError:
        pass
    conn.send(("ready", sock.getsockname()[1]))
    sorter = Sorter()
    first = conn.recv()  # the parent answers "ready" with the namespace: no datagram is sorted blind
    if first[0] != "table":
        return
    sorter.table = first[1]
    parent = os.getppid()
    last_flush = 0.0
    next_check = 0.0
    bucket, in_bucket, in_last = 0, 0, 0  # arrivals per 20 ms, to tell a stream from a trickle
    while True:
        now = time.monotonic()
        # A trickle (under ~1000 messages/s) goes at once, so queries answer fast; a stream goes
        # in batches every FLUSH_S, so the parent wakes a bounded number of times a second.
        streaming = in_last + in_bucket > STREAM_PER_20MS
        if sorter.pending and (not streaming or now - last_flush >= FLUSH_S or sorter.pending >= MAX_BATCH):
            conn.send(sorter.take())
            last_flush = now
        if now >= next_check:
            while conn.poll(0):
                cmd = conn.recv()
                if cmd[0] == "stop":
                    return
                if cmd[0] == "table":
                    sorter.table = cmd[1]
            if os.getppid() != parent:  # the show is gone
                return
            next_check = now + 0.05
        wait = last_flush + FLUSH_S - now if sorter.pending else next_check - now
        sock.settimeout(min(max(0.0002, wait), 0.05))
        try:
            data, sender = sock.recvfrom(65536)
        except socket.timeout:
            continue
        b = int(time.monotonic() * 50)
        if b != bucket:
            in_last, in_bucket, bucket = (in_bucket if b == bucket + 1 else 0), 0, b
        in_bucket += 1
        if nets and not allowed(sender[0], nets):
            sorter.batch["not_allowed"] += 1  # dropped before parsing: a stranger costs next to nothing
            continue
        sorter.add_datagram(data, sender)


def main(argv: list[str]) -> int:
    fd, host, port = int(argv[0]), argv[1], int(argv[2])
    conn = Connection(fd)
    try:
        serve(conn, host, port, argv[3] if len(argv) > 3 else "")
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass  # the parent closed the connection: stop quietly
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
