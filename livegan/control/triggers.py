"""Control actions: the triggers that do more than fire a registry event.

Loading a preset or a model needs the live app (a model load swaps the generator with a
crossfade), so the OSC server, MIDI learn and the keyboard call a ``ControlActions``
object the app passes in. With no app, ``default_actions`` applies presets to the
registry directly and refuses model loads.

Callbacks run on the controller's thread (OSC server, MIDI callback): they must return
quickly (queue heavy work) and raise ``LiveganError`` with one clear line to refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import LiveganError
from ..params.definitions import ACTION_SPECS
from .osc_packet import IMPULSE
from .osc_validate import BAD_ARGS, OUT_OF_RANGE, ArgError, is_number

PresetRef = str | int  # a preset's name, or its index in list_presets()


@dataclass
class ControlActions:
    """Hooks for actions the registry cannot perform by itself. ``None`` = not available."""

    load_preset: Callable[[PresetRef], None] | None = None
    save_preset: Callable[[str], None] | None = None
    morph_preset: Callable[[PresetRef, float, str], None] | None = None  # (preset, amount, "s" | "beats")
    load_model: Callable[[str, float], None] | None = None  # (path, crossfade seconds)
    midi_learn: Callable[[str], None] | None = None  # arm MIDI learn for a target ("" cancels)


ACTION_NAMES = frozenset(s.name for s in ACTION_SPECS)
ACTION_SIGNATURES = {"preset/load": "s|i", "preset/save": "s", "preset/morph": "s|i f [s]", "model/load": "s [f]",
                     "midi/learn": "s"}
# The same as OSC type tag strings (OSCQuery TYPE, then OVERLOADS): optional arguments are
# separate signatures, since "[f]" in a type tag string would mean an array.
ACTION_TYPES = {"preset/load": ("s", "i"), "preset/save": ("s",), "preset/morph": ("sfs", "sf", "ifs", "if"),
                "model/load": ("sf", "s"), "midi/learn": ("s",)}
MAX_MORPH = 3600.0
MAX_CROSSFADE = 60.0


def trigger_fires(args: tuple[Any, ...]) -> bool:
    """Whether a plain trigger's arguments mean "fire".

    Buttons on controllers send 1 on press and 0 on release: only the press fires. No
    argument, an impulse or True also fire. Anything else is refused.
    """
    if not args:
        return True
    if len(args) != 1:
        raise ArgError(BAD_ARGS, f"a trigger takes at most 1 argument, got {len(args)}")
    x = args[0]
    if x is IMPULSE or x is None:
        return True
    if isinstance(x, bool):
        return x
    if is_number(x):
        return float(x) != 0.0
    raise ArgError(BAD_ARGS, f"a trigger takes a number, got {type(x).__name__}")


def _preset_ref(x: Any) -> PresetRef:
    if isinstance(x, str) and x:
        return x
    if is_number(x) and float(x).is_integer() and float(x) >= 0:
        return int(x)
    raise ArgError(BAD_ARGS, f"expected a preset name or index, got {x!r:.40}")


def parse_action_args(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check an action's arguments; return them converted (raises ArgError)."""
    n = len(args)
    if name == "preset/load":
        if n != 1:
            raise ArgError(BAD_ARGS, f"preset/load takes 1 argument, got {n}")
        return (_preset_ref(args[0]),)
    if name == "preset/save":
        if n != 1 or not isinstance(args[0], str):
            raise ArgError(BAD_ARGS, "preset/save takes 1 string (the name)")
        return (args[0],)
    if name == "preset/morph":
        if n not in (2, 3) or not is_number(args[1]) or (n == 3 and args[2] not in ("s", "beats")):
            raise ArgError(BAD_ARGS, "preset/morph takes a preset, a duration and optionally 's' or 'beats'")
        amount = float(args[1])
        if not 0.0 <= amount <= MAX_MORPH:
            raise ArgError(OUT_OF_RANGE, f"morph duration {amount} is outside 0..{MAX_MORPH:g}")
        return (_preset_ref(args[0]), amount, args[2] if n == 3 else "s")
    if name == "model/load":
        if n not in (1, 2) or not isinstance(args[0], str) or not args[0] or (n == 2 and not is_number(args[1])):
            raise ArgError(BAD_ARGS, "model/load takes a path and optionally a crossfade in seconds")
        fade = float(args[1]) if n == 2 else 2.0
        if not 0.0 <= fade <= MAX_CROSSFADE:
            raise ArgError(OUT_OF_RANGE, f"crossfade {fade} is outside 0..{MAX_CROSSFADE:g} s")
        return (args[0], fade)
    if name == "midi/learn":
        if n != 1 or not isinstance(args[0], str):
            raise ArgError(BAD_ARGS, "midi/learn takes 1 string (a parameter or action name, '' to cancel)")
        return (args[0],)
    raise ArgError(BAD_ARGS, f"unknown action {name}")


def run_action(actions: ControlActions, name: str, args: tuple[Any, ...]) -> None:
    """Call the hook for an action whose arguments parse_action_args accepted."""
    hook = {"preset/load": actions.load_preset, "preset/save": actions.save_preset,
            "preset/morph": actions.morph_preset, "model/load": actions.load_model,
            "midi/learn": actions.midi_learn}[name]
    if hook is None:
        raise LiveganError(f"{name} is not available here")
    hook(*args)
