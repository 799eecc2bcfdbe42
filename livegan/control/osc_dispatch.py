"""Applying OSC messages: one dispatcher for every way they arrive (UDP, the WebSocket).

A message names endpoints (``osc_namespace``); each is set, nudged, toggled, fired, run as
an action or answered. A refused message is counted and logged by ``Activity`` and gets one
error reply, ``/livegan/error s:address s:reason s:detail``, to whoever sent it (at most
``MAX_ERROR_REPLIES_S`` a second to one sender, so garbage cannot be turned into a flood).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Hashable, Protocol

from ..errors import LiveganError
from ..params.registry import ParamError, ParamRegistry, ReadOnlyError
from .osc_namespace import ERROR_ADDRESS, Endpoint, Namespace, norm_address
from .osc_packet import OscMessage
from .osc_validate import (ACTION_FAILED, BAD_ARGS, OUT_OF_RANGE, READ_ONLY, UNKNOWN, Activity, ArgError,
                           is_number, no_args, one_arg, one_number, unit_interval)
from .triggers import ControlActions, parse_action_args, run_action, trigger_fires

MAX_ERROR_REPLIES_S = 50


class Origin(Protocol):
    """Whoever sent a message: where replies go (``key`` names it for the rate limit)."""

    key: Hashable

    def send(self, address: str, args: tuple[Any, ...]) -> None: ...


class ErrorBudget:
    """Error replies per origin per second (a small token bucket per key)."""

    MAX_KEYS = 1024

    def __init__(self, per_s: float = MAX_ERROR_REPLIES_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, time)
        self.withheld = 0

    def take(self, key: Hashable) -> bool:
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.per_s, now))
        tokens = min(self.per_s, tokens + (now - then) * self.per_s)
        if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
            self._buckets.clear()
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            self.withheld += 1
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True


class Dispatcher:
    """Applies messages to a registry and a show's actions. One thread at a time calls it."""

    def __init__(self, registry: ParamRegistry, actions: ControlActions | None = None, source: str = "osc",
                 activity: Activity | None = None) -> None:
        self.registry = registry
        self.actions = actions or ControlActions()
        self.source = source
        self.namespace = Namespace(registry)
        self.activity = activity or Activity()
        self.errors = ErrorBudget()

    # ---- refusals ------------------------------------------------------------------
    def refuse(self, reason: str, address: str, detail: str, origin: Origin | None) -> None:
        """Count and log a refused message, and answer it with one error reply."""
        self.activity.refuse(reason, address, detail)
        if origin is not None and self.errors.take(origin.key):
            try:
                origin.send(ERROR_ADDRESS, (address[:200], reason, detail[:300]))
            except OSError:
                pass  # the sender went away: the refusal is counted all the same

    # ---- dispatch ------------------------------------------------------------------
    def apply_all(self, msg: OscMessage, origin: Origin | None) -> None:
        endpoints = self.namespace.lookup(msg.address)
        if not endpoints:
            self.refuse(UNKNOWN, msg.address, "no such address", origin)
            return
        for ep in endpoints:
            try:
                self.apply(ep, msg.args, origin)
                self.activity.applied()
            except ArgError as exc:
                self.refuse(exc.reason, ep.address, str(exc), origin)
            except ReadOnlyError as exc:
                self.refuse(READ_ONLY, ep.address, str(exc), origin)
            except ParamError as exc:
                reason = OUT_OF_RANGE if len(msg.args) == 1 and is_number(msg.args[0]) else BAD_ARGS
                self.refuse(reason, ep.address, str(exc), origin)
            except LiveganError as exc:
                self.refuse(ACTION_FAILED, ep.address, str(exc), origin)
            except OSError as exc:  # a reply that cannot be sent
                self.activity.refuse("reply_failed", ep.address, str(exc))

    def apply(self, ep: Endpoint, args: tuple[Any, ...], origin: Origin | None) -> None:
        reg, name, kind, src = self.registry, ep.param, ep.kind, self.source
        if kind == "set":
            spec = reg.spec(name)
            value = one_number(args, spec.type) if spec.type in ("float", "int") else one_arg(args, spec.type)
            reg.set(name, value, src)
        elif kind == "norm":
            reg.set_normalised(name, unit_interval(args), src)
        elif kind == "nudge":
            reg.nudge(name, one_number(args, "a change in native units"), src)
        elif kind == "get":
            no_args(args)
            if origin is not None:
                origin.send(reg.spec(name).address, (reg.get(name),))
        elif kind == "get_norm":
            no_args(args)
            spec = reg.spec(name)
            if origin is not None:
                origin.send(norm_address(spec), (float(spec.normalise(reg.get(name))),))
        elif kind == "toggle":
            if trigger_fires(args):
                reg.set(name, not reg.get(name), src)
        elif kind == "trigger":
            if trigger_fires(args):
                reg.set(name, None, src)
        elif kind == "action":
            parsed = parse_action_args(name, args)
            run_action(self.actions, name, parsed)
            if name in reg:  # let recorders and the HUD see it; the action itself ran above
                reg.set(name, parsed, src)
        elif kind in ("readonly", "output"):
            raise ArgError(READ_ONLY, f"{ep.address} is read-only: livegan sends it (ask /livegan/get/... "
                           "or OSCQuery, or listen with --osc-out)" if kind == "readonly" else
                           f"{ep.address} is one of livegan's outputs: receive it with --osc-out or a "
                           "WebSocket LISTEN")
        else:  # pragma: no cover - Namespace only makes the kinds above
            raise ArgError(BAD_ARGS, f"unsupported endpoint kind {kind}")
