"""The parameter registry: every controllable value, declared once.

OSC addresses, the OSCQuery tree, the preset schema, MIDI-learn targets, the HUD and the
docs' address table are all generated from these declarations. Writers (OSC, MIDI,
presets, keyboard) call ``set``; readers (conductor, engine, display) take one
immutable ``snapshot()`` per tick, so a frame never sees half an update.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from ..errors import LiveganError

PARAM_TYPES = ("float", "int", "bool", "enum", "trigger", "string")


class ParamError(LiveganError):
    """A value, name or type the registry refuses."""


class ReadOnlyError(ParamError):
    """A write to a parameter only livegan itself sets."""


@dataclass(frozen=True)
class ParamSpec:
    """One controllable value.

    ``name`` is a slash path (``latent/speed``); its OSC address is ``/livegan/<name>``.
    ``smoothing`` is a time constant in seconds that consumers may apply when the value
    jumps (0 = take it as is). ``choices`` lists an enum's values. Triggers carry no
    state: setting one records an event that consumers read from ``Snapshot.triggers``.
    """

    name: str
    type: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    unit: str = ""
    description: str = ""
    smoothing: float = 0.0
    choices: tuple[str, ...] = ()
    group: str = ""
    # A trigger that, when fired, also adds 1 to this int parameter (wrapping at its max):
    # ``latent/reseed`` moves ``latent/seed`` on, so the seed a controller reads is the one in use.
    increments: str = ""
    # Written by the show itself (``ParamRegistry.publish``), never by a controller, a preset or a
    # replay: the beat clock's effective tempo. ``set`` refuses it; recorders leave it out.
    readonly: bool = False
    # An extra check of a value (raises ParamError); a string's max length is ``max`` (else 4096).
    check: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")
        if not self.group:
            object.__setattr__(self, "group", self.name.split("/", 1)[0])
        if self.type != "trigger":
            object.__setattr__(self, "default", self.coerce(self.default))

    @property
    def address(self) -> str:
        return "/livegan/" + self.name

    def coerce(self, value: Any) -> Any:
        """Check and convert a value; raise ParamError naming the parameter and the value."""
        t = self.type
        if t == "trigger":
            return None
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
                return value.lower() in ("true", "on", "1")
            raise self._bad(value)
        if t == "enum":
            if isinstance(value, str) and value in self.choices:
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer() \
                    and 0 <= int(value) < len(self.choices):
                return self.choices[int(value)]
            raise self._bad(value)
        if t == "string":
            limit = int(self.max) if self.max is not None else 4096
            if isinstance(value, str) and len(value) <= limit:
                if self.check is not None:
                    self.check(value)
                return value
            raise self._bad(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(value)
        v = float(value)
        if not math.isfinite(v):
            raise self._bad(value)
        if t == "int":
            if not v.is_integer():
                raise self._bad(value)
            v = int(v)
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            raise ParamError(f"parameter {self.name}: {value!r} is out of range [{self.min}, {self.max}]")
        return v

    def _bad(self, value: Any) -> ParamError:
        return ParamError(f"parameter {self.name}: {value!r} is not a valid {self.type}{self._range_text()}")

    def normalise(self, value: Any) -> float:
        """Native value -> 0..1 (what controllers send and receive)."""
        if self.type in ("float", "int") and self.min is not None and self.max is not None and self.max > self.min:
            return (float(value) - self.min) / (self.max - self.min)
        if self.type == "bool":
            return 1.0 if value else 0.0
        if self.type == "enum" and len(self.choices) > 1:
            return self.choices.index(value) / (len(self.choices) - 1)
        raise ParamError(f"parameter {self.name}: a {self.type} has no normalised form")

    def denormalise(self, x: float) -> Any:
        """0..1 -> native value (clamped; rounded for ints and enums)."""
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(float(x)):
            raise ParamError(f"parameter {self.name}: normalised value {x!r} is not a number")
        x = min(max(float(x), 0.0), 1.0)
        if self.type in ("float", "int") and self.min is not None and self.max is not None:
            v = self.min + x * (self.max - self.min)
            return int(round(v)) if self.type == "int" else v
        if self.type == "bool":
            return x >= 0.5
        if self.type == "enum" and self.choices:
            return self.choices[int(round(x * (len(self.choices) - 1)))]
        raise ParamError(f"parameter {self.name}: a {self.type} has no normalised form")

    def _range_text(self) -> str:
        if self.type == "enum":
            return f" (one of {', '.join(self.choices)})"
        if self.min is not None or self.max is not None:
            return f" in [{self.min}, {self.max}]"
        return ""


@dataclass(frozen=True)
class ParamChange:
    """One accepted change, stamped with the audio time it takes effect at."""

    name: str
    value: Any
    audio_time: float
    source: str = ""
    seq: int = 0


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of every value at one tick, plus the triggers fired since the last one."""

    values: Mapping[str, Any]
    triggers: tuple[ParamChange, ...] = ()
    seq: int = 0

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def fired(self, name: str) -> list[ParamChange]:
        return [t for t in self.triggers if t.name == name]


Listener = Callable[[ParamChange], None]


class ParamRegistry:
    """Thread-safe store of declared parameters and their current values.

    The audio clock is given by ``clock`` (seconds); every change is stamped with it so a
    recorded set can be replayed exactly.
    """

    def __init__(self, specs: Iterable[ParamSpec] = (), clock: Callable[[], float] | None = None) -> None:
        self._lock = threading.RLock()
        self._specs: dict[str, ParamSpec] = {}
        self._values: dict[str, Any] = {}
        self._pending_triggers: list[ParamChange] = []
        self._listeners: list[Listener] = []
        self._seq = 0
        self.clock: Callable[[], float] = clock or (lambda: 0.0)
        for spec in specs:
            self.declare(spec)

    # ---- declarations --------------------------------------------------------------
    def declare(self, spec: ParamSpec, replace: bool = False) -> ParamSpec:
        with self._lock:
            if spec.name in self._specs and not replace:
                old = self._specs[spec.name]
                if old != spec:
                    raise ValueError(f"parameter {spec.name} is already declared differently")
                return old
            keep = self._values.get(spec.name)
            self._specs[spec.name] = spec
            if spec.type != "trigger":
                try:
                    self._values[spec.name] = spec.coerce(keep) if keep is not None else spec.default
                except ParamError:
                    self._values[spec.name] = spec.default
            return spec

    def undeclare(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._values.pop(name, None)

    def spec(self, name: str) -> ParamSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ParamError(f"unknown parameter {name!r}") from None

    def specs(self) -> list[ParamSpec]:
        with self._lock:
            return sorted(self._specs.values(), key=lambda s: s.name)

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    # ---- values --------------------------------------------------------------------
    def get(self, name: str) -> Any:
        with self._lock:
            self.spec(name)
            return self._values.get(name)

    def set(self, name: str, value: Any, source: str = "", audio_time: float | None = None) -> ParamChange:
        """Validate and store a value (or fire a trigger). Raises ParamError, changing nothing, if refused."""
        spec = self.spec(name)
        if spec.readonly:
            raise ReadOnlyError(f"parameter {name} is read-only (livegan sets it)")
        v = spec.coerce(value)
        with self._lock:
            changes = [self._store(spec, v if spec.type != "trigger" else value, source, audio_time)]
            if spec.type == "trigger" and spec.increments and spec.increments in self._specs:
                target = self._specs[spec.increments]
                nxt = int(self._values[target.name]) + 1
                if target.max is not None and nxt > target.max:
                    nxt = int(target.min or 0)
                changes.append(self._store(target, nxt, source, audio_time))
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                try:
                    listener(change)
                except Exception:  # a broken listener (OSC out, recorder) must never block control
                    pass
        return changes[0]

    def publish(self, name: str, value: Any, source: str = "show") -> ParamChange | None:
        """Store a read-only parameter's new value (the show's own readings); None if unchanged."""
        spec = self.spec(name)
        if not spec.readonly:
            raise ParamError(f"parameter {name} is not read-only: set it")
        v = spec.coerce(value)
        with self._lock:
            if self._values.get(name) == v:
                return None
            change = self._store(spec, v, source, None)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # as in ``set``: a broken listener must never block the show
                pass
        return change

    def _store(self, spec: ParamSpec, v: Any, source: str, audio_time: float | None) -> ParamChange:
        self._seq += 1
        change = ParamChange(spec.name, v, self.clock() if audio_time is None else audio_time, source, self._seq)
        if spec.type == "trigger":
            self._pending_triggers.append(change)
        else:
            self._values[spec.name] = v
        return change

    def set_normalised(self, name: str, x: float, source: str = "") -> ParamChange:
        return self.set(name, self.spec(name).denormalise(x), source)

    def nudge(self, name: str, delta: float, source: str = "") -> ParamChange:
        """Relative change in native units, clamped to the range (what encoders send)."""
        spec = self.spec(name)
        if spec.type not in ("float", "int"):
            raise ParamError(f"parameter {name}: a {spec.type} cannot be nudged")
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(float(delta)):
            raise ParamError(f"parameter {name}: nudge {delta!r} is not a number")
        with self._lock:
            v = float(self._values[name]) + float(delta)
            if spec.min is not None:
                v = max(v, spec.min)
            if spec.max is not None:
                v = min(v, spec.max)
            if spec.type == "int":
                v = int(round(v))
            return self.set(name, v, source)

    def update(self, values: Mapping[str, Any], source: str = "") -> None:
        """Set many values atomically: all are checked first, none is applied if one is refused."""
        for name in values:
            if self.spec(name).readonly:
                raise ReadOnlyError(f"parameter {name} is read-only (livegan sets it)")
        checked = {name: self.spec(name).coerce(v) for name, v in values.items()}
        with self._lock:
            for name, v in checked.items():
                self.set(name, v, source)

    def reset(self, names: Iterable[str] | None = None) -> None:
        with self._lock:
            for spec in self.specs():
                if spec.type != "trigger" and (names is None or spec.name in names):
                    self._values[spec.name] = spec.default

    def snapshot(self) -> Snapshot:
        """Current values and the triggers fired since the previous snapshot (consumed)."""
        with self._lock:
            trig = tuple(self._pending_triggers)
            self._pending_triggers.clear()
            return Snapshot(MappingProxyType(dict(self._values)), trig, self._seq)

    def peek(self) -> Snapshot:
        """Current values without consuming triggers (for UIs and queries)."""
        with self._lock:
            return Snapshot(MappingProxyType(dict(self._values)), tuple(self._pending_triggers), self._seq)

    # ---- observers -----------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe
