"""MIDI learn: bind a knob, fader, encoder or pad to any parameter or action.

Arm a target (``arm("latent/speed")``), move a control, and the next CC or note binds to
it. Absolute controls use soft takeover by default: after a preset or another controller
moved the parameter, the knob does nothing until it reaches (or passes) the current
value, so the picture never jumps. Relative encoders send steps; three common encodings
are supported. Bindings are saved as TOML.

Needs the optional extra ``midi`` (mido + python-rtmidi) only for ``MidiInput``; the
mapping logic takes plain ``(status, data1, data2)`` bytes.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import tomli_w

from ..errors import LiveganError
from ..params.registry import ParamChange, ParamError, ParamRegistry
from .osc_namespace import has_norm
from .osc_validate import ArgError
from .triggers import ACTION_NAMES, ControlActions, parse_action_args, run_action

log = logging.getLogger("livegan.midi")

KINDS = ("cc", "note")
MODES = ("absolute", "relative", "relative_offset", "relative_sign")
TAKEOVERS = ("soft", "jump")
SOURCE = "midi"


@dataclass(frozen=True)
class MidiBinding:
    kind: str  # cc | note
    channel: int  # 0..15
    number: int  # controller or note number 0..127
    param: str  # registry parameter or action name
    mode: str = "absolute"  # for CCs; see relative_steps
    takeover: str = "soft"
    step: float = 0.01  # normalised change per encoder step
    arg: str | int | None = None  # an action's argument (a preset name or index, a model path)

    def check(self, where: str) -> "MidiBinding":
        def bad(what: str) -> LiveganError:
            return LiveganError(f"{where}: {what}")

        if self.kind not in KINDS:
            raise bad(f"kind {self.kind!r} must be one of {', '.join(KINDS)}")
        if not isinstance(self.channel, int) or not 0 <= self.channel <= 15:
            raise bad(f"channel {self.channel!r} must be 0..15")
        if not isinstance(self.number, int) or not 0 <= self.number <= 127:
            raise bad(f"number {self.number!r} must be 0..127")
        if self.mode not in MODES:
            raise bad(f"mode {self.mode!r} must be one of {', '.join(MODES)}")
        if self.takeover not in TAKEOVERS:
            raise bad(f"takeover {self.takeover!r} must be one of {', '.join(TAKEOVERS)}")
        if not isinstance(self.step, (int, float)) or not 0 < self.step <= 1:
            raise bad(f"step {self.step!r} must be in (0, 1]")
        return self

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.kind, self.channel, self.number)


def relative_steps(mode: str, value: int) -> int:
    """Encoder steps from a relative CC value.

    ``relative``: two's complement (1..63 up, 127..65 down); ``relative_offset``: 64 is
    no change (65 = +1, 63 = -1); ``relative_sign``: bit 6 is the sign (1 = +1, 65 = -1).
    """
    if mode == "relative":
        return value if value < 64 else value - 128
    if mode == "relative_offset":
        return value - 64
    if mode == "relative_sign":
        return -(value & 63) if value & 64 else value
    raise ValueError(mode)


def parse_midi(data: tuple[int, ...] | list[int]) -> tuple[str, int, int, int] | None:
    """(kind, channel, number, value) for CC, note on and note off; None for anything else."""
    if len(data) != 3:
        return None
    status, d1, d2 = (int(b) for b in data)
    kind, ch = status & 0xF0, status & 0x0F
    if kind == 0xB0:
        return ("cc", ch, d1 & 127, d2 & 127)
    if kind == 0x90:
        return ("note", ch, d1 & 127, d2 & 127)  # velocity 0 is a note off
    if kind == 0x80:
        return ("note", ch, d1 & 127, 0)
    return None


class MidiLearn:
    """Turns MIDI bytes into registry changes and actions, and learns new bindings."""

    def __init__(self, registry: ParamRegistry, actions: ControlActions | None = None,
                 pickup_window: float = 0.03) -> None:
        self.registry = registry
        self.actions = actions or ControlActions()
        self.pickup_window = pickup_window
        self._lock = threading.RLock()
        self._bindings: dict[tuple[str, int, int], MidiBinding] = {}
        self._armed: tuple[str, dict[str, Any]] | None = None
        self._picked: set[tuple[str, int, int]] = set()  # absolute controls that have caught their value
        self._last: dict[tuple[str, int, int], float] = {}  # last normalised position of each control
        self.on_learn: Callable[[MidiBinding], None] | None = None
        self.errors = 0
        self._unsubscribe = registry.subscribe(self._on_change)

    def close(self) -> None:
        self._unsubscribe()

    # ---- bindings ------------------------------------------------------------------
    @property
    def bindings(self) -> list[MidiBinding]:
        with self._lock:
            return sorted(self._bindings.values(), key=lambda b: b.key)

    def bind(self, binding: MidiBinding) -> None:
        self._check_target(binding.param)
        with self._lock:
            self._bindings[binding.key] = binding
            self._picked.discard(binding.key)

    def unbind(self, kind: str, channel: int, number: int) -> None:
        with self._lock:
            self._bindings.pop((kind, channel, number), None)

    def _check_target(self, name: str) -> None:
        if name not in self.registry and name not in ACTION_NAMES:
            raise LiveganError(f"MIDI learn: unknown parameter {name!r}")
        if name in self.registry and self.registry.spec(name).readonly:
            raise LiveganError(f"MIDI learn: {name} is read-only")

    def arm(self, param: str, **options: Any) -> None:
        """Bind the next control that moves to ``param`` (options: mode, takeover, step, arg)."""
        self._check_target(param)
        with self._lock:
            self._armed = (param, options)

    def cancel(self) -> None:
        with self._lock:
            self._armed = None

    @property
    def armed(self) -> str | None:
        return self._armed[0] if self._armed else None

    # ---- soft takeover bookkeeping -------------------------------------------------
    def _on_change(self, change: ParamChange) -> None:
        if change.source == SOURCE:
            return
        with self._lock:  # someone else moved it: knobs bound to it must catch it again
            self._picked.difference_update([k for k, b in self._bindings.items() if b.param == change.name])

    # ---- input ---------------------------------------------------------------------
    def handle(self, data: tuple[int, ...] | list[int]) -> str | None:
        """Apply one MIDI message; returns the parameter it changed (or learnt), else None."""
        msg = parse_midi(data)
        if msg is None:
            return None
        kind, ch, num, value = msg
        key = (kind, ch, num)
        with self._lock:
            if self._armed is not None and (kind == "cc" or value > 0):
                param, options = self._armed
                self._armed = None
                binding = MidiBinding(kind, ch, num, param, **options).check("MIDI learn")
                self._bindings[key] = binding
                self._picked.discard(key)
                self._last[key] = value / 127.0
                if self.on_learn:
                    self.on_learn(binding)
                return param
            binding = self._bindings.get(key)
            if binding is None:
                return None
            try:
                return self._apply(binding, kind, value)
            except (ParamError, ArgError, LiveganError) as exc:
                self.errors += 1
                log.warning("MIDI %s %d/%d -> %s: %s", kind, ch, num, binding.param, exc)
                return None

    def _apply(self, b: MidiBinding, kind: str, value: int) -> str | None:
        name = b.param
        if name in ACTION_NAMES:
            if value >= 64 if kind == "cc" else value > 0:
                run_action(self.actions, name, parse_action_args(name, () if b.arg is None else (b.arg,)))
                return name
            return None
        spec = self.registry.spec(name)
        if spec.type == "trigger" or (spec.type == "bool" and kind == "note"):
            pressed = value >= 64 if kind == "cc" else value > 0
            if not pressed or self._last.get(b.key, 0.0) >= 0.5 and kind == "cc":
                self._last[b.key] = value / 127.0
                return None  # fire on the press edge only
            self._last[b.key] = value / 127.0
            self.registry.set(name, None if spec.type == "trigger" else not self.registry.get(name), SOURCE)
            return name
        if not has_norm(spec):
            raise LiveganError(f"{name} is a {spec.type}: it cannot follow a MIDI control")
        current = spec.normalise(self.registry.get(name))
        if kind == "cc" and b.mode != "absolute":
            x = min(max(current + relative_steps(b.mode, value) * b.step, 0.0), 1.0)
            self.registry.set_normalised(name, x, SOURCE)
            return name
        x = value / 127.0
        prev = self._last.get(b.key)
        self._last[b.key] = x
        if b.takeover == "soft" and b.key not in self._picked:
            crossed = prev is not None and (prev - current) * (x - current) <= 0
            if abs(x - current) > self.pickup_window and not crossed:
                return None  # not caught yet: the picture must not jump
            self._picked.add(b.key)
        self.registry.set_normalised(name, x, SOURCE)
        return name

    # ---- files ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        rows = [{k: v for k, v in asdict(b).items() if v is not None} for b in self.bindings]
        path.write_text(tomli_w.dumps({"binding": rows}), encoding="utf-8")
        return path

    def load(self, path: str | Path) -> None:
        """Replace the bindings with a file's; a bad file changes nothing and names file and line."""
        bindings = load_bindings(path)
        for b in bindings:
            self._check_target(b.param)
        with self._lock:
            self._bindings = {b.key: b for b in bindings}
            self._picked.clear()


def load_bindings(path: str | Path) -> list[MidiBinding]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LiveganError(f"{path}: cannot read MIDI mappings ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise LiveganError(f"{path}{':' + m.group(1) if m else ''}: invalid TOML: {str(exc).split(' (at')[0]}") \
            from None
    rows = data.get("binding", [])
    if not isinstance(rows, list):
        raise LiveganError(f"{path}: 'binding' must be an array of tables ([[binding]])")
    out = []
    fields = set(MidiBinding.__dataclass_fields__)
    for i, row in enumerate(rows, 1):
        where = f"{path}: binding {i}"
        if not isinstance(row, dict) or not {"kind", "channel", "number", "param"} <= set(row):
            raise LiveganError(f"{where}: needs kind, channel, number and param")
        unknown = set(row) - fields
        if unknown:
            raise LiveganError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        out.append(MidiBinding(**row).check(where))
    return out


class MidiInput:
    """Feeds a MIDI input port (by name substring) into a ``MidiLearn``, through mido.

    ``api`` picks the rtmidi backend: ``UNIX_JACK`` (JACK MIDI), ``LINUX_ALSA``, ``MACOSX_CORE``,
    ``WINDOWS_MM``, or None for mido's default.
    """

    def __init__(self, learn: MidiLearn, port: str, api: str | None = None, virtual: bool = False) -> None:
        """``virtual``: create an input port named ``port`` that controllers connect to."""
        try:
            import mido
        except ImportError:
            raise LiveganError("MIDI needs the optional extra: pip install 'livegan[midi]' (mido, python-rtmidi)") \
                from None
        backend = mido.Backend("mido.backends.rtmidi" + (f"/{api}" if api else ""), load=True)
        self.learn = learn
        if virtual:
            try:
                self._port = backend.open_input(port, virtual=True, callback=self._on_message)
            except Exception as exc:  # rtmidi raises its own error types when no MIDI system is there
                raise LiveganError(f"cannot create the MIDI input {port!r} ({exc})") from None
            self.name = port
            return
        try:
            names = backend.get_input_names()
        except Exception as exc:
            raise LiveganError(f"no MIDI system available ({exc})") from None
        match = [n for n in names if port in n]
        if not match:
            raise LiveganError(f"MIDI input {port!r} not found (inputs: {', '.join(names) or 'none'})")
        self.name = match[0]
        self._port = backend.open_input(self.name, callback=self._on_message)

    def _on_message(self, message: Any) -> None:
        try:
            self.learn.handle(tuple(message.bytes()))
        except Exception:  # never let a callback exception reach rtmidi's thread
            log.exception("MIDI input")

    def close(self) -> None:
        self._port.close()
