"""OSCQuery (Vidvox's OSCQueryProposal): the namespace as JSON, built from the registry.

Every parameter is a *method* node (no CONTENTS) with TYPE, VALUE, RANGE, CLIPMODE, UNIT,
ACCESS and DESCRIPTION; its 0..1 form is a method of its own under ``/livegan/norm/...``.
Actions carry their type tag strings (alternatives as OVERLOADS), triggers ``N``; both have
ACCESS 0 (no value). The ``/livegan/out/...`` feature outputs are read-only methods whose
VALUE is the newest level (events have none). This module is pure: ``query_server.py``
serves it over HTTP and a WebSocket.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..params.registry import ParamRegistry, ParamSpec
from .feature_out import FEATURE_OUTPUTS, OutSpec
from .osc_namespace import has_norm, namespace_specs, norm_address
from .triggers import ACTION_NAMES, ACTION_TYPES, MAX_CROSSFADE, MAX_MORPH

log = logging.getLogger("livegan.oscquery")

ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_RW = 0, 1, 2, 3
# The node attributes this server fills in (HOST_INFO's EXTENSIONS lists them, and the rest it supports).
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION", "UNIT", "CLIPMODE",
              "OVERLOADS")
EXTENSIONS = ("ACCESS", "VALUE", "RANGE", "DESCRIPTION", "UNIT", "CLIPMODE", "OVERLOADS", "LISTEN",
              "PATH_CHANGED", "HTML")
_TYPE_TAGS = {"float": "f", "int": "i", "bool": "T", "enum": "s", "string": "s"}
# Registry units that have a name in the proposal's units.md.
_UNITS = {"s": "time.second", "degrees": "angle.degree", "BPM": "time.bpm"}
# Livegan refuses a value outside RANGE (with an error reply) and never clips it: "none".
CLIPMODE = ["none"]
TRIGGER_OVERLOADS = [{"TYPE": ""}, {"TYPE": "I"}, {"TYPE": "i"}, {"TYPE": "f"}, {"TYPE": "T"}]


def _json_value(v: Any) -> Any:
    return v if isinstance(v, (bool, int, float, str)) or v is None else str(v)


def _unit(spec_unit: str) -> dict[str, Any]:
    return {"UNIT": [_UNITS[spec_unit]]} if spec_unit in _UNITS else {}


def param_node(spec: ParamSpec, value: Any) -> dict[str, Any]:
    """A parameter's method node (read/write, or read-only)."""
    node: dict[str, Any] = {"FULL_PATH": spec.address, "TYPE": _TYPE_TAGS[spec.type],
                            "ACCESS": ACCESS_READ if spec.readonly else ACCESS_RW,
                            "VALUE": [_json_value(value)], "DESCRIPTION": spec.description}
    if spec.type in ("float", "int") and (spec.min is not None or spec.max is not None):
        node["RANGE"] = [{k: v for k, v in (("MIN", spec.min), ("MAX", spec.max)) if v is not None}]
        node["CLIPMODE"] = CLIPMODE
    elif spec.type == "enum":
        node["RANGE"] = [{"VALS": list(spec.choices)}]
        node["OVERLOADS"] = [{"TYPE": "i", "RANGE": [{"MIN": 0, "MAX": len(spec.choices) - 1}]}]
    node.update(_unit(spec.unit))
    return node


def norm_node(spec: ParamSpec, value: Any) -> dict[str, Any]:
    """The 0..1 form of a parameter: a method of its own (a parameter has no children)."""
    return {"FULL_PATH": norm_address(spec), "TYPE": "f", "ACCESS": ACCESS_RW,
            "VALUE": [float(spec.normalise(value))], "RANGE": [{"MIN": 0.0, "MAX": 1.0}], "CLIPMODE": CLIPMODE,
            "DESCRIPTION": f"{spec.name} as 0..1 across its range (what faders send)"}


def action_node(spec: ParamSpec, presets: list[str]) -> dict[str, Any]:
    """An action (its arguments' types, alternatives as OVERLOADS) or a plain trigger (``N``)."""
    node: dict[str, Any] = {"FULL_PATH": spec.address, "ACCESS": ACCESS_NONE, "DESCRIPTION": spec.description}
    if spec.name not in ACTION_NAMES:
        node.update(TYPE="N", OVERLOADS=TRIGGER_OVERLOADS)
        return node
    kinds = ACTION_TYPES[spec.name]
    ranges = {"preset/load": {"s": [{"VALS": presets}], "i": [{"MIN": 0, "MAX": max(0, len(presets) - 1)}]},
              "preset/morph": {t: [{"VALS": presets} if t[0] == "s" else {"MIN": 0, "MAX": max(0, len(presets) - 1)},
                                   {"MIN": 0.0, "MAX": MAX_MORPH}] + ([{"VALS": ["s", "beats"]}] if len(t) == 3 else [])
                               for t in kinds},
              "model/load": {"sf": [None, {"MIN": 0.0, "MAX": MAX_CROSSFADE}]}}.get(spec.name, {})

    def typed(tags: str) -> dict[str, Any]:
        return {"TYPE": tags, **({"RANGE": ranges[tags]} if tags in ranges else {})}

    node.update(typed(kinds[0]))
    if len(kinds) > 1:
        node["OVERLOADS"] = [typed(t) for t in kinds[1:]]
    return node


def output_node(out: OutSpec, value: tuple[Any, ...] | None) -> dict[str, Any]:
    node: dict[str, Any] = {"FULL_PATH": out.address, "TYPE": out.tags, "DESCRIPTION": out.description}
    if out.event:
        node["ACCESS"] = ACCESS_NONE  # an event has no standing value; LISTEN to receive it
    else:
        node["ACCESS"] = ACCESS_READ
        node["VALUE"] = [_json_value(v) for v in value] if value is not None else \
            ["" if t == "s" else 0.0 for t in out.tags]
    node.update(_unit(out.unit))
    return node


def _insert(root: dict[str, Any], node: dict[str, Any]) -> None:
    parts = node["FULL_PATH"].strip("/").split("/")
    here = root
    for i, part in enumerate(parts[:-1]):
        child = here["CONTENTS"].get(part)
        if child is None:
            child = here["CONTENTS"][part] = {"FULL_PATH": "/" + "/".join(parts[:i + 1]), "ACCESS": ACCESS_NONE,
                                              "CONTENTS": {}}
        if "CONTENTS" not in child:  # a method cannot hold children
            log.warning("oscquery: %s is left out: %s is a method", node["FULL_PATH"], child["FULL_PATH"])
            return
        here = child
    if parts[-1] in here["CONTENTS"]:
        log.warning("oscquery: %s is left out: the address is taken", node["FULL_PATH"])
        return
    here["CONTENTS"][parts[-1]] = node


def build_tree(registry: ParamRegistry, levels: Mapping[str, tuple[Any, ...]] | None = None,
               presets: Callable[[], list[str]] | None = None) -> dict[str, Any]:
    """The whole namespace, values as of now (``levels``: the newest feature outputs)."""
    values = registry.peek().values
    names = presets() if presets is not None else []
    root: dict[str, Any] = {"FULL_PATH": "/", "ACCESS": ACCESS_NONE, "DESCRIPTION": "livegan", "CONTENTS": {}}
    norms = []
    for spec in namespace_specs(registry):
        if spec.type == "trigger":
            _insert(root, action_node(spec, names))
            continue
        value = values.get(spec.name)
        _insert(root, param_node(spec, value))
        if has_norm(spec):
            norms.append(norm_node(spec, value))
    for node in norms:
        _insert(root, node)
    for out in FEATURE_OUTPUTS:
        _insert(root, output_node(out, (levels or {}).get(out.address)))
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


def host_info(name: str, osc_host: str | None, osc_port: int | None) -> dict[str, Any]:
    """HOST_INFO: where the OSC server is (absent when OSC input is off), and what this server does."""
    info: dict[str, Any] = {"NAME": name, "EXTENSIONS": {a: True for a in EXTENSIONS}}
    if osc_port:
        info.update(OSC_PORT=osc_port, OSC_TRANSPORT="UDP")
        if osc_host and osc_host not in ("0.0.0.0", "::", ""):
            info["OSC_IP"] = osc_host  # else: the address this page was asked on
    return info


def attribute(node: dict[str, Any], name: str) -> tuple[int, dict[str, Any] | None]:
    """``?NAME`` on a node: 200 with ``{NAME: ...}`` (``{}`` where the node has none, as the
    proposal's container example); 204 for the VALUE of what cannot be read; 400 if unknown."""
    if name not in ATTRIBUTES:
        return 400, None
    if name == "VALUE" and node.get("ACCESS") in (ACCESS_NONE, ACCESS_WRITE):
        return 204, None
    return 200, ({name: node[name]} if name in node else {})
