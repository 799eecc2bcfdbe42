"""The OSC server: the registry's namespace on one UDP port.

Two ways to run, with the same behaviour:
- ``isolate=False``: one thread receives, parses and applies; bundles whose timetag lies
  ahead wait in a heap in the same thread (no thread per datagram, no sleeping handler).
- ``isolate=True`` (what the live app uses): a child process receives and parses
  (``osc_receiver``) and sends batches, with runs of sets to one address coalesced; a
  thread here applies them. A flood then costs the show's process next to nothing.
Nothing a sender does can raise out of either loop: bad packets and messages are refused,
counted, logged (rate-limited) and answered with one error reply (``osc_dispatch``).
Senders outside ``allow`` (``--osc-allow``) are dropped unanswered, before parsing.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

from ..errors import LiveganError
from ..params.registry import ParamRegistry
from .osc_dispatch import Dispatcher
from .osc_packet import IMMEDIATE, OscMessage, OscParseError, TimedMessage, encode_message, parse_packet
from .osc_validate import LATE_OR_FAR, MALFORMED, NOT_ALLOWED, UNKNOWN, ActivityStats, Network, allowed
from .triggers import ControlActions

log = logging.getLogger("livegan.osc")

Address = tuple[str, int]
class PortTaken(LiveganError):
    """The port asked for is in use (the live command decides whether that is fatal)."""


def listen_error(host: str, port: int, why: str | None, code: int | None) -> LiveganError:
    text = f"cannot listen for OSC on {host}:{port} ({why})"
    return PortTaken(text) if code == errno.EADDRINUSE else LiveganError(text)


class UdpOrigin:
    """A UDP sender, answered from the server's reply socket."""

    __slots__ = ("server", "key")

    def __init__(self, server: "OscServer", sender: Address) -> None:
        self.server = server
        self.key = server.reply_address(sender)

    def send(self, address: str, args: tuple[Any, ...]) -> None:
        sock = self.server._sock
        if sock is not None:
            sock.sendto(encode_message(address, args), self.key)


class OscServer:
    """Receives OSC on ``host:port`` (port 0 picks a free one; see ``.port`` after ``start``).

    Replies to queries go back to the sender, or to ``reply_port`` on the sender's host
    (what TouchOSC and most bridges expect), or to ``reply_to`` when given.
    """

    MAX_SCHEDULED = 10_000
    SOURCE = "osc"

    def __init__(self, registry: ParamRegistry, host: str = "127.0.0.1", port: int = 9000,
                 actions: ControlActions | None = None, reply_port: int | None = None,
                 reply_to: Address | None = None, max_ahead_s: float = 60.0,
                 wall_clock: Callable[[], float] = time.time, isolate: bool = False,
                 allow: tuple[Network, ...] = ()) -> None:
        self.registry = registry
        self.host = host
        self.requested_port = port
        self.dispatcher = Dispatcher(registry, actions, self.SOURCE)
        self.actions = self.dispatcher.actions
        self.reply_port = reply_port
        self.reply_to = reply_to
        self.allow = allow
        self.max_ahead_s = max_ahead_s
        self.wall_clock = wall_clock
        self.namespace = self.dispatcher.namespace
        self.activity = self.dispatcher.activity
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._scheduled: list[tuple[float, int, OscMessage, UdpOrigin]] = []
        self._counter = itertools.count()
        self.cpu_s = 0.0  # CPU time the server thread has used (for benchmarks)
        self.isolate = isolate
        self._child: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._port = 0
        self._table_version = -1

    # ---- lifecycle -----------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._conn is not None:
            return self._port
        return self._sock.getsockname()[1] if self._sock else self.requested_port

    def start(self) -> "OscServer":
        if self.isolate:
            return self._start_child()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise listen_error(self.host, self.requested_port, exc.strerror, exc.errno) from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)  # ride out bursts
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="livegan-osc", daemon=True)
        self._thread.start()
        return self

    def _start_child(self) -> "OscServer":
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this very livegan
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._child = subprocess.Popen(
            [sys.executable, "-m", "livegan.control.osc_receiver", str(theirs.fileno()), self.host,
             str(self.requested_port), ",".join(str(n) for n in self.allow)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())
        try:
            first = self._conn.recv() if self._conn.poll(20.0) else ("error", "the OSC receiver did not start")
        except EOFError:
            first = ("error", "the OSC receiver exited at start")
        if first[0] != "ready":
            self.stop()
            raise PortTaken(first[1]) if first[2:] == (errno.EADDRINUSE,) else LiveganError(first[1])
        self._port = int(first[1])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # replies only
        self._sock.bind((self.host, 0))
        self._send_table()
        self._stop.clear()
        self._thread = threading.Thread(target=self._pump, name="livegan-osc", daemon=True)
        self._thread.start()
        return self

    def child_cpu_s(self) -> float:
        """CPU seconds of the receiver process so far (0 in thread mode, or once it has stopped)."""
        if self._child is None or self._child.poll() is not None:
            return 0.0
        try:
            fields = Path(f"/proc/{self._child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.receiver_cpu_s = max(getattr(self, "receiver_cpu_s", 0.0), self.child_cpu_s())
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2.0)
        if self._conn is not None:
            try:
                self._conn.send(("stop",))
            except OSError:
                pass
        if self._child is not None:
            try:
                self._child.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._sock:
            self._sock.close()
        self._thread = None
        self._sock = None

    def __enter__(self) -> "OscServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stats(self) -> ActivityStats:
        return self.activity.stats()

    @property
    def alive(self) -> bool:
        running = bool(self._thread and self._thread.is_alive())
        return running and (self._child is None or self._child.poll() is None)

    # ---- the loop ------------------------------------------------------------------
    def _loop(self) -> None:
        assert self._sock is not None
        sock = self._sock
        try:  # under a flood the picture matters more than the controller: yield the CPU to it first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
        except (AttributeError, OSError):
            pass
        while not self._stop.is_set():
            wait = 0.1
            if self._scheduled:
                wait = min(wait, max(0.0005, self._scheduled[0][0] - self.wall_clock()))
            sock.settimeout(wait)
            try:
                data, sender = sock.recvfrom(65536)
            except socket.timeout:
                pass
            except OSError:
                if self._stop.is_set():
                    break
                continue
            else:
                self.handle_datagram(data, sender)
            if self._scheduled:
                self._run_due()
            self.cpu_s = time.thread_time()

    def handle_datagram(self, data: bytes, sender: Address) -> None:
        """Parse one datagram and apply (or schedule) its messages. Never raises."""
        try:
            if not allowed(sender[0], self.allow):
                self.activity.count(NOT_ALLOWED, 1)
                return
            origin = UdpOrigin(self, sender)
            try:
                timed = parse_packet(data)
            except OscParseError as exc:
                self.activity.received()
                self.dispatcher.refuse(MALFORMED, "", f"{exc} ({len(data)} bytes from {sender[0]}:{sender[1]})",
                                       origin)
                return
            self.activity.received(len(timed))
            now = self.wall_clock()
            for tm in timed:
                self._apply_or_schedule(tm, origin, now)
        except Exception as exc:  # a bug here must not stop the server
            log.exception("osc: internal error handling a datagram from %s", sender)
            self.activity.refuse("internal", "?", repr(exc))

    def _apply_or_schedule(self, tm: TimedMessage, origin: UdpOrigin, now: float) -> None:
        if tm.when != IMMEDIATE and tm.when > now:
            self._schedule(tm.when, tm.message, origin, now)
        else:
            self.dispatcher.apply_all(tm.message, origin)

    # ---- the isolated receiver's side ------------------------------------------------
    def _pump(self) -> None:
        assert self._conn is not None
        conn = self._conn
        next_table = 0.0
        while not self._stop.is_set():
            wait = 0.05
            if self._scheduled:
                wait = min(wait, max(0.0005, self._scheduled[0][0] - self.wall_clock()))
            try:
                if conn.poll(wait):
                    self._handle_batch(conn.recv())
            except (EOFError, OSError):
                if not self._stop.is_set():
                    log.error("osc: the receiver process stopped; OSC input is off")
                return
            except Exception as exc:  # a bug here must not stop the server
                log.exception("osc: internal error handling a batch")
                self.activity.refuse("internal", "?", repr(exc))
            if self._scheduled:
                self._run_due()
            now = time.monotonic()
            if now >= next_table:
                self._send_table()
                next_table = now + 0.25
            self.cpu_s = time.thread_time()

    def _send_table(self) -> None:
        version = self.namespace.refresh()
        if version != self._table_version and self._conn is not None:
            self._conn.send(("table", self.namespace.table()))
            self._table_version = version

    def _handle_batch(self, b: dict[str, Any]) -> None:
        act, refuse = self.activity, self.dispatcher.refuse
        act.received(b["received"])
        if b["coalesced"]:
            act.coalesce(b["coalesced"])
        if b["not_allowed"]:
            act.count(NOT_ALLOWED, b["not_allowed"])
        for sender, detail in b["malformed_detail"]:
            refuse(MALFORMED, "", f"{detail} from {sender[0]}:{sender[1]}", UdpOrigin(self, sender))
        if b["malformed"] > len(b["malformed_detail"]):
            act.count(MALFORMED, b["malformed"] - len(b["malformed_detail"]))
        now = self.wall_clock()
        for tm, sender in b["msgs"]:
            self._apply_or_schedule(tm, UdpOrigin(self, sender), now)
        for address, (count, tm, senders) in b["unknown"].items():
            if self.namespace.lookup(address):  # declared since the receiver's table was sent
                self._apply_or_schedule(tm, UdpOrigin(self, senders[-1]), now)
                if count > 1:
                    act.coalesce(count - 1)
                self._send_table()
            else:
                for sender in senders:  # one error reply per message the batch kept a sender for
                    refuse(UNKNOWN, address, "no such address", UdpOrigin(self, sender))
                if count > len(senders):
                    act.count(UNKNOWN, count - len(senders))

    def _schedule(self, when: float, msg: OscMessage, origin: UdpOrigin, now: float) -> None:
        if when - now > self.max_ahead_s:
            self.dispatcher.refuse(LATE_OR_FAR, msg.address, f"timetag is {when - now:.0f} s ahead "
                                   f"(at most {self.max_ahead_s:g} s)", origin)
        elif len(self._scheduled) >= self.MAX_SCHEDULED:
            self.dispatcher.refuse(LATE_OR_FAR, msg.address, "too many scheduled bundles", origin)
        else:
            heapq.heappush(self._scheduled, (when, next(self._counter), msg, origin))

    def _run_due(self) -> None:
        now = self.wall_clock()
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, msg, origin = heapq.heappop(self._scheduled)
            self.dispatcher.apply_all(msg, origin)

    def reply_address(self, sender: Address) -> Address:
        if self.reply_to:
            return self.reply_to
        return (sender[0], self.reply_port) if self.reply_port else sender

    def reply(self, sender: Address, address: str, value: Any) -> None:
        if self._sock is None:
            return
        self._sock.sendto(encode_message(address, [value]), self.reply_address(sender))
