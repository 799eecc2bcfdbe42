"""The OSC address space, generated from the parameter registry.

Every address is either a method or a container, never both (OSC 1.0, OSCQuery): the
forms of a parameter live in their own branches, not below the parameter. For
``latent/speed``:

- ``/livegan/latent/speed f``            set in native units (range-checked)
- ``/livegan/norm/latent/speed f``       set from 0..1 (numbers, bools and enums)
- ``/livegan/nudge/latent/speed f``      add to the value, clamped (numbers only)
- ``/livegan/toggle/show/freeze``        flip a bool
- ``/livegan/get/latent/speed``          reply ``/livegan/latent/speed <value>``
- ``/livegan/get/norm/latent/speed``     reply ``/livegan/norm/latent/speed <0..1>``
- triggers (``/livegan/latent/reseed``) fire; actions (``/livegan/preset/load``) call the app;
- read-only parameters (``/livegan/clock/bpm``) and the feature outputs (``/livegan/out/...``)
  can be read (``/get``, OSCQuery, OSC out), and a message sent to them is refused.

A parameter whose first name part is one of those branches (``norm``, ``get`` ...) is not
reachable over OSC. Incoming addresses may be OSC patterns (``*``, ``?``, ``[a-z]``,
``[!x]``, ``{a,b}``).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..params.registry import ParamRegistry, ParamSpec
from .feature_out import FEATURE_OUTPUTS
from .triggers import ACTION_NAMES, ACTION_SPECS

log = logging.getLogger("livegan.osc")

PREFIX = "/livegan/"
MAX_PATTERN = 512
FORMS = ("norm", "nudge", "toggle", "get")  # the branches holding a parameter's other forms
RESERVED = (*FORMS, "out", "error")  # first name parts a parameter cannot use
ERROR_ADDRESS = "/livegan/error"  # replies to refused messages: s address, s reason, s detail
_BAD_CHARS = frozenset(" #*,?[]{}")


@dataclass(frozen=True)
class Endpoint:
    address: str
    kind: str  # set | norm | nudge | get | get_norm | toggle | trigger | action | readonly | output
    param: str  # the registry (or action, or feature output) name


def has_norm(spec: ParamSpec) -> bool:
    if spec.readonly:
        return False
    return (spec.type in ("float", "int") and spec.min is not None and spec.max is not None and spec.max > spec.min) \
        or spec.type == "bool" or (spec.type == "enum" and len(spec.choices) > 1)


def norm_address(spec: ParamSpec) -> str:
    return f"{PREFIX}norm/{spec.name}"


def valid_address(address: str) -> bool:
    """An OSC method address: no pattern characters or spaces, no empty parts."""
    return address.startswith("/") and not _BAD_CHARS.intersection(address) and "" not in address[1:].split("/")


def addressable(spec: ParamSpec) -> bool:
    return spec.name.split("/", 1)[0] not in RESERVED and valid_address(spec.address)


def endpoints_for(spec: ParamSpec) -> list[Endpoint]:
    """Every address of one parameter or action (none for a name OSC cannot carry)."""
    a, n = spec.address, spec.name
    if not addressable(spec):
        return []
    if spec.type == "trigger":
        return [Endpoint(a, "action" if n in ACTION_NAMES else "trigger", n)]
    get = Endpoint(f"{PREFIX}get/{n}", "get", n)
    if spec.readonly:
        return [Endpoint(a, "readonly", n), get]
    eps = [Endpoint(a, "set", n), get]
    if has_norm(spec):
        eps += [Endpoint(norm_address(spec), "norm", n), Endpoint(f"{PREFIX}get/norm/{n}", "get_norm", n)]
    if spec.type in ("float", "int"):
        eps.append(Endpoint(f"{PREFIX}nudge/{n}", "nudge", n))
    if spec.type == "bool":
        eps.append(Endpoint(f"{PREFIX}toggle/{n}", "toggle", n))
    return eps


def output_endpoints() -> list[Endpoint]:
    return [Endpoint(o.address, "output", o.name) for o in FEATURE_OUTPUTS]


def namespace_specs(registry: ParamRegistry) -> list[ParamSpec]:
    """The registry's addressable specs plus the action triggers it does not declare itself."""
    specs = {s.name: s for s in registry.specs()}
    for s in ACTION_SPECS:
        specs.setdefault(s.name, s)
    out = []
    for s in sorted(specs.values(), key=lambda s: s.name):
        if addressable(s):
            out.append(s)
        else:
            _warn_unaddressable(s.name)
    return out


@functools.lru_cache(maxsize=64)
def _warn_unaddressable(name: str) -> None:
    log.warning("parameter %s has no OSC address (its first part is reserved, or it has characters OSC "
                "addresses cannot hold)", name)


@functools.lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern[str] | None:
    """Compile an OSC address pattern; None if it is malformed."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                return None
            body = pattern[i + 1:j]
            neg = body.startswith("!")
            if neg:
                body = body[1:]
            if not body or "/" in body:
                return None
            # Keep '-' as a range marker between characters; escape everything else.
            parts = [re.escape(ch) if ch != "-" or k in (0, len(body) - 1) else "-" for k, ch in enumerate(body)]
            out.append(("[^/" if neg else "[") + "".join(parts) + "]")
            i = j
        elif c == "{":
            j = pattern.find("}", i + 1)
            if j < 0:
                return None
            alts = pattern[i + 1:j].split(",")
            if any("/" in a for a in alts):
                return None
            out.append("(?:" + "|".join(re.escape(a) for a in alts) + ")")
            i = j
        elif c in "]}":
            return None
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error:
        return None


def is_pattern(address: str) -> bool:
    return any(c in address for c in "*?[{")


class Namespace:
    """Address -> endpoints, rebuilt when the registry's declarations change.

    Parameters come and go at run time (a model load declares its layers' bends), so a
    lookup miss, or a pattern, re-checks the declarations at most every ``recheck_s``.
    """

    def __init__(self, registry: ParamRegistry, recheck_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address: dict[str, Endpoint] = {}
        self._names: tuple[str, ...] = ()
        self._checked = -1e9
        self.version = 0  # bumped on every rebuild (the receiver process copies the table)
        self.rebuild()

    def rebuild(self) -> None:
        specs = namespace_specs(self.registry)
        table = {ep.address: ep for s in specs for ep in endpoints_for(s)}
        table.update((ep.address, ep) for ep in output_endpoints())
        with self._lock:
            self._by_address = table
            self._names = tuple(s.name for s in specs)
            self._checked = self._clock()
            self.version += 1

    def table(self) -> dict[str, tuple[str, float | None, float | None, bool]]:
        """Address -> (kind, min, max, integer) for the receiver process.

        The receiver may only coalesce a set it knows the registry will accept, so numeric
        sets carry their range; every other kind carries no range.
        """
        out: dict[str, tuple[str, float | None, float | None, bool]] = {}
        for a, ep in self._by_address.items():
            spec = self.registry.spec(ep.param) if ep.param in self.registry else None
            if ep.kind == "set" and spec is not None and spec.type in ("float", "int"):
                out[a] = ("set_number", spec.min, spec.max, spec.type == "int")
            else:
                out[a] = (ep.kind, None, None, False)
        return out

    def refresh(self) -> int:
        """Re-check the declarations (rate-limited); returns the table's version."""
        self._maybe_rebuild()
        return self.version

    def _maybe_rebuild(self) -> None:
        if self._clock() - self._checked < self._recheck_s:
            return
        names = tuple(s.name for s in namespace_specs(self.registry))
        if names != self._names:
            self.rebuild()
        else:
            self._checked = self._clock()

    def endpoints(self) -> list[Endpoint]:
        self._maybe_rebuild()
        return sorted(self._by_address.values(), key=lambda e: e.address)

    def lookup(self, address: str) -> list[Endpoint]:
        """The endpoints an address or pattern names ([] if none)."""
        if len(address) > MAX_PATTERN or not address.startswith("/"):
            return []
        if not is_pattern(address):
            ep = self._by_address.get(address)
            if ep is None:
                self._maybe_rebuild()
                ep = self._by_address.get(address)
            return [ep] if ep else []
        self._maybe_rebuild()
        rx = pattern_regex(address)
        if rx is None:
            return []
        # A pattern writes to what it can: read-only matches are left out, not refused.
        return [ep for a, ep in self._by_address.items() if rx.match(a) and ep.kind not in ("readonly", "output")]

    def addresses(self) -> Iterable[str]:
        return self._by_address.keys()
