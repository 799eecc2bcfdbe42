"""Counting and logging refused OSC input without letting a flood of it cost anything.

Every refused packet or message is counted by reason; a log line is written at most once
per (reason, address) per second, so a controller stuck sending garbage cannot fill the
log or slow the server.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

log = logging.getLogger("livegan.osc")

# Reasons a message is refused (the keys of ActivityStats.errors).
MALFORMED = "malformed"  # the datagram is not OSC
UNKNOWN = "unknown_address"
BAD_ARGS = "bad_arguments"  # wrong count or type
OUT_OF_RANGE = "out_of_range"
LATE_OR_FAR = "bad_timetag"  # scheduled too far ahead, or the schedule is full
ACTION_FAILED = "action_failed"  # a preset/model hook refused (e.g. unknown preset)
READ_ONLY = "read_only"  # a read-only parameter or a feature output
NOT_ALLOWED = "sender_not_allowed"  # a sender outside --osc-allow (dropped unanswered)


@dataclass(frozen=True)
class ActivityStats:
    """What the HUD shows about the control surface."""

    received: int  # messages parsed (a bundle counts its messages)
    applied: int  # messages that changed or queried something
    errors: Mapping[str, int]  # refused messages by reason
    messages_per_s: float  # over the last second
    last_error: str = ""
    coalesced: int = 0  # sets superseded by a later one in the same batch (counted in applied too)

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


class Activity:
    """Thread-safe counters plus a once-per-second-per-key logger."""

    MAX_KEYS = 4096  # forget rate-limit keys beyond this many (random addresses must not grow memory)

    def __init__(self, clock: Callable[[], float] = time.monotonic, logger: logging.Logger = log) -> None:
        self._clock = clock
        self._log = logger
        self._lock = threading.Lock()
        self._received = 0
        self._applied = 0
        self._errors: dict[str, int] = collections.Counter()
        self._last_logged: dict[tuple[str, str], float] = {}
        self._last_error = ""
        self._coalesced = 0
        # Messages per second from whole-second buckets: one int per message, no per-message list.
        self._second = 0
        self._this_second = 0
        self._last_second = 0

    # received/applied are called by the one server thread only: plain increments, no lock.
    def received(self, n: int = 1) -> None:
        sec = int(self._clock())
        if sec != self._second:
            self._last_second = self._this_second if sec == self._second + 1 else 0
            self._second, self._this_second = sec, 0
        self._this_second += n
        self._received += n

    def applied(self, n: int = 1) -> None:
        self._applied += n

    def coalesce(self, n: int) -> None:
        self._coalesced += n
        self._applied += n

    def count(self, reason: str, n: int) -> None:
        """Count refusals already logged or summarised elsewhere (no log line)."""
        with self._lock:
            self._errors[reason] += n

    def refuse(self, reason: str, address: str, detail: str) -> bool:
        """Count a refused message; log it unless this (reason, address) was logged under a second ago.

        Returns whether a line was logged (tests use it to check the rate limit).
        """
        t = self._clock()
        key = (reason, address[:200])
        with self._lock:
            self._errors[reason] += 1
            self._last_error = f"{address[:200]}: {detail}"
            last = self._last_logged.get(key)
            if last is not None and t - last < 1.0:
                return False
            if len(self._last_logged) >= self.MAX_KEYS:
                self._last_logged.clear()
            self._last_logged[key] = t
        self._log.warning("osc %s %s: %s", reason.replace("_", " "), address[:200], detail)
        return True

    def stats(self) -> ActivityStats:
        """Counters now; the rate is the last whole second's count (0 after a quiet second)."""
        sec = int(self._clock())
        if sec == self._second:
            rate = max(self._last_second, self._this_second)
        else:
            rate = self._this_second if sec == self._second + 1 else 0
        with self._lock:
            return ActivityStats(self._received, self._applied, dict(self._errors), float(rate), self._last_error,
                                 self._coalesced)


class ArgError(Exception):
    """A message's arguments do not fit its address (count, type or range)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def one_arg(args: tuple[Any, ...], what: str) -> Any:
    if len(args) != 1:
        raise ArgError(BAD_ARGS, f"expected 1 argument ({what}), got {len(args)}")
    return args[0]


def one_number(args: tuple[Any, ...], what: str) -> float:
    x = one_arg(args, what)
    if not is_number(x):
        raise ArgError(BAD_ARGS, f"expected a number ({what}), got {type(x).__name__} {x!r:.40}")
    return float(x)


def unit_interval(args: tuple[Any, ...]) -> float:
    x = one_number(args, "0..1")
    if not 0.0 <= x <= 1.0:
        raise ArgError(OUT_OF_RANGE, f"normalised value {x!r} is outside 0..1")
    return x


def no_args(args: tuple[Any, ...]) -> None:
    if args:
        raise ArgError(BAD_ARGS, f"expected no arguments, got {len(args)}")


# ---- who may send (--osc-allow) ------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(items: Iterable[str]) -> tuple[Network, ...]:
    """``--osc-allow`` values (addresses or networks, comma-separated) -> networks; ValueError if bad."""
    out = []
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"--osc-allow {part!r}: not an IP address or network "
                                 "(e.g. 192.168.1.20 or 192.168.1.0/24)") from None
    return tuple(out)


def allowed(host: str, allow: tuple[Network, ...]) -> bool:
    if not allow:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in allow)
