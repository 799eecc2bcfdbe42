"""The OSC server: the registry's namespace on one UDP port.

Two ways to run, with the same behaviour:
- ``isolate=False``: one thread receives, parses and applies; bundles whose timetag lies
  ahead wait in a heap in the same thread (no thread per datagram, no sleeping handler).
- ``isolate=True`` (what the live app should use): a child process receives and parses
  (``osc_receiver``) and sends batches, with runs of sets to one address coalesced; a
  thread here applies them. A flood then costs the show's process next to nothing.
Nothing a sender does can raise out of either loop: bad packets and messages are refused,
counted and logged (rate-limited) by ``Activity``.
"""

from __future__ import annotations

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
from ..params.registry import ParamError, ParamRegistry
from .osc_namespace import Endpoint, Namespace
from .osc_packet import IMMEDIATE, OscMessage, OscParseError, TimedMessage, encode_message, parse_packet
from .osc_validate import (ACTION_FAILED, BAD_ARGS, LATE_OR_FAR, MALFORMED, OUT_OF_RANGE, UNKNOWN, Activity,
                           ActivityStats, ArgError, is_number, no_args, one_arg, one_number, unit_interval)
from .triggers import ControlActions, parse_action_args, run_action, trigger_fires

log = logging.getLogger("livegan.osc")

Address = tuple[str, int]


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
                 wall_clock: Callable[[], float] = time.time, isolate: bool = False) -> None:
        self.registry = registry
        self.host = host
        self.requested_port = port
        self.actions = actions or ControlActions()
        self.reply_port = reply_port
        self.reply_to = reply_to
        self.max_ahead_s = max_ahead_s
        self.wall_clock = wall_clock
        self.namespace = Namespace(registry)
        self.activity = Activity()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._scheduled: list[tuple[float, int, OscMessage, Address]] = []
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
            raise LiveganError(f"cannot listen for OSC on {self.host}:{self.requested_port} ({exc.strerror})") from None
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
             str(self.requested_port)], pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())
        try:
            first = self._conn.recv() if self._conn.poll(20.0) else ("error", "the OSC receiver did not start")
        except EOFError:
            first = ("error", "the OSC receiver exited at start")
        if first[0] != "ready":
            self.stop()
            raise LiveganError(first[1])
        self._port = int(first[1])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # replies only
        self._sock.bind((self.host, 0))
        self._send_table()
        self._stop.clear()
        self._thread = threading.Thread(target=self._pump, name="livegan-osc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
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
            try:
                timed = parse_packet(data)
            except OscParseError as exc:
                self.activity.received()
                self.activity.refuse(MALFORMED, f"{sender[0]}:{sender[1]}", f"{exc} ({len(data)} bytes)")
                return
            self.activity.received(len(timed))
            now = self.wall_clock()
            for tm in timed:
                self._apply_or_schedule(tm, sender, now)
        except Exception as exc:  # a bug here must not stop the server
            log.exception("osc: internal error handling a datagram from %s", sender)
            self.activity.refuse("internal", "?", repr(exc))

    def _apply_or_schedule(self, tm: TimedMessage, sender: Address, now: float) -> None:
        if tm.when != IMMEDIATE and tm.when > now:
            self._schedule(tm.when, tm.message, sender, now)
        else:
            self._apply_all(tm.message, sender)

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
        act = self.activity
        act.received(b["received"])
        if b["coalesced"]:
            act.coalesce(b["coalesced"])
        for where, detail in b["malformed_detail"]:
            act.refuse(MALFORMED, where, detail)
        if b["malformed"] > len(b["malformed_detail"]):
            act.count(MALFORMED, b["malformed"] - len(b["malformed_detail"]))
        now = self.wall_clock()
        for tm, sender in b["msgs"]:
            self._apply_or_schedule(tm, sender, now)
        for address, (count, tm, sender) in b["unknown"].items():
            if self.namespace.lookup(address):  # declared since the receiver's table was sent
                self._apply_or_schedule(tm, sender, now)
                if count > 1:
                    act.coalesce(count - 1)
                self._send_table()
            else:
                act.refuse(UNKNOWN, address, "no such address")
                if count > 1:
                    act.count(UNKNOWN, count - 1)

    def _schedule(self, when: float, msg: OscMessage, sender: Address, now: float) -> None:
        if when - now > self.max_ahead_s:
            self.activity.refuse(LATE_OR_FAR, msg.address, f"timetag is {when - now:.0f} s ahead "
                                 f"(at most {self.max_ahead_s:g} s)")
        elif len(self._scheduled) >= self.MAX_SCHEDULED:
            self.activity.refuse(LATE_OR_FAR, msg.address, "too many scheduled bundles")
        else:
            heapq.heappush(self._scheduled, (when, next(self._counter), msg, sender))

    def _run_due(self) -> None:
        now = self.wall_clock()
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, msg, sender = heapq.heappop(self._scheduled)
            self._apply_all(msg, sender)

    # ---- dispatch ------------------------------------------------------------------
    def _apply_all(self, msg: OscMessage, sender: Address) -> None:
        endpoints = self.namespace.lookup(msg.address)
        if not endpoints:
            self.activity.refuse(UNKNOWN, msg.address, "no such address")
            return
        for ep in endpoints:
            try:
                self._apply(ep, msg.args, sender)
                self.activity.applied()
            except ArgError as exc:
                self.activity.refuse(exc.reason, ep.address, str(exc))
            except ParamError as exc:
                reason = OUT_OF_RANGE if len(msg.args) == 1 and is_number(msg.args[0]) else BAD_ARGS
                self.activity.refuse(reason, ep.address, str(exc))
            except LiveganError as exc:
                self.activity.refuse(ACTION_FAILED, ep.address, str(exc))
            except OSError as exc:  # a reply that cannot be sent
                self.activity.refuse("reply_failed", ep.address, str(exc))

    def _apply(self, ep: Endpoint, args: tuple[Any, ...], sender: Address) -> None:
        reg, name, kind = self.registry, ep.param, ep.kind
        if kind == "set":
            spec = reg.spec(name)
            value = one_number(args, spec.type) if spec.type in ("float", "int") else one_arg(args, spec.type)
            reg.set(name, value, self.SOURCE)
        elif kind == "norm":
            reg.set_normalised(name, unit_interval(args), self.SOURCE)
        elif kind == "nudge":
            reg.nudge(name, one_number(args, "a change in native units"), self.SOURCE)
        elif kind == "get":
            no_args(args)
            self.reply(sender, reg.spec(name).address, reg.get(name))
        elif kind == "get_norm":
            no_args(args)
            spec = reg.spec(name)
            self.reply(sender, spec.address + "/norm", float(spec.normalise(reg.get(name))))
        elif kind == "toggle":
            if trigger_fires(args):
                reg.set(name, not reg.get(name), self.SOURCE)
        elif kind == "trigger":
            if trigger_fires(args):
                reg.set(name, None, self.SOURCE)
        elif kind == "action":
            parsed = parse_action_args(name, args)
            run_action(self.actions, name, parsed)
            if name in reg:  # let recorders and the HUD see it; the action itself ran above
                reg.set(name, parsed, self.SOURCE)
        else:  # pragma: no cover - Namespace only makes the kinds above
            raise ArgError(BAD_ARGS, f"unsupported endpoint kind {kind}")

    def reply_address(self, sender: Address) -> Address:
        if self.reply_to:
            return self.reply_to
        return (sender[0], self.reply_port) if self.reply_port else sender

    def reply(self, sender: Address, address: str, value: Any) -> None:
        if self._sock is None:
            return
        self._sock.sendto(encode_message(address, [value]), self.reply_address(sender))
