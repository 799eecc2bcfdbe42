"""The mapping library: declarative audio -> generator mappings, composed from a preset.

A preset lists mappings as TOML tables; each reads one *source* (an audio feature, an
event, or an LFO locked to the beat clock), shapes it with its own attack / release
envelope, and acts on one part of the generator::

    [[mappings]]
    kind = "snap"          # pull the latent toward the kick latent on every kick
    source = "kick"
    layers = "coarse"      # coarse | middle | fine | all | [from, to] relative depth 0..1
    amount = 0.6
    release = 0.25

Kinds (``KINDS``): ``push`` (along a random w direction), ``snap`` (toward a target
latent: kick, snare, or a seed), ``direction`` (a GANSpace principal direction of the
model's w space), ``mix`` (style mixing with a second seed), ``truncation``, ``noise``
(strength; ``motion`` re-rolls the noise on events), ``bend`` (a network bend at a
layer group or depth), ``transform`` (input rotation / translation), ``flash`` and
``jump`` (to the next keyframe).

Sources (``SOURCES``): continuous levels follow the audio; events (``EVENTS``) fire once
and decay with the release, so they are frame-rate independent; ``lfo:<shape>:<beats>``
runs on the beat clock; LFOs and the clock's ``beat`` / ``bar`` events are gated by the
music's level so silence rests (``gate = false`` frees them).

Layer choices name groups or relative depth, never a family's layer names, so one preset
works with the embedded model and with every StyleGAN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..audio.features import Clock, FeatureFrame
from ..errors import LiveganError
from ..models.base import BEND_OPS, Bend, LayerInfo
from ..models.bends import is_neutral as bend_is_neutral
from ..smoothing import Envelope

KINDS = ("push", "snap", "direction", "mix", "truncation", "noise", "bend", "transform", "flash", "jump")
LEVELS = ("rms", "sub", "low", "mid", "high", "bass", "flux", "centroid", "build", "level",
          "onset:sub", "onset:low", "onset:mid", "onset:high", "beat_phase")
EVENTS = ("onset", "kick", "snare", "hat", "beat", "bar", "drop", "section")
SOURCES = LEVELS + EVENTS + ("lfo:<sine|tri|saw|square>:<beats>", "const")
LFO_SHAPES = ("sine", "tri", "saw", "square")
GROUPS = ("coarse", "middle", "fine", "all")
TRANSFORM_AXES = ("rotate", "x", "y")

_COMMON = {"kind", "source", "amount", "attack", "release", "layers", "curve", "gate", "name"}
_EXTRA = {
    "push": {"seed"}, "snap": {"target"}, "direction": {"component"}, "mix": {"seed"},
    "truncation": set(), "noise": {"motion"}, "bend": {"op", "base", "channels", "axis"},
    "transform": {"axis"}, "flash": set(), "jump": {"threshold"},
}


class MappingError(LiveganError):
    """A mapping table that cannot be used."""


@dataclass(frozen=True)
class MappingSpec:
    """One checked mapping."""

    kind: str
    source: str
    amount: float = 1.0
    attack: float = 0.0  # s
    release: float = 0.2  # s
    layers: str | tuple[float, float] = "all"
    curve: float = 1.0  # value ** curve: > 1 keeps only the peaks
    gate: bool = True  # LFOs fade with the music's level
    options: Mapping[str, Any] = field(default_factory=dict)


def _num(table: Mapping[str, Any], key: str, default: float, where: str, lo: float = -math.inf,
         hi: float = math.inf) -> float:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise MappingError(f"{where}: {key} = {v!r}: expected a number from {lo:g} to {hi:g}")
    return float(v)


def _check_source(src: Any, where: str) -> str:
    if not isinstance(src, str):
        raise MappingError(f"{where}: source = {src!r}: expected a string")
    if src in LEVELS or src in EVENTS or src == "const":
        return src
    parts = src.split(":")
    if parts[0] == "lfo":
        try:
            ok = len(parts) == 3 and parts[1] in LFO_SHAPES and float(parts[2]) > 0
        except ValueError:
            ok = False
        if ok:
            return src
        raise MappingError(f"{where}: source = {src!r}: an LFO is lfo:<{'|'.join(LFO_SHAPES)}>:<beats>, e.g. lfo:sine:4")
    raise MappingError(f"{where}: source = {src!r}: unknown (known: {', '.join(SOURCES)})")


def _check_layers(v: Any, where: str) -> str | tuple[float, float]:
    if isinstance(v, str) and v in GROUPS:
        return v
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 1 for x in v) and v[0] <= v[1]:
        return float(v[0]), float(v[1])
    raise MappingError(f"{where}: layers = {v!r}: expected one of {', '.join(GROUPS)} or [from, to] depths in 0..1")


def parse_mapping(table: Mapping[str, Any], where: str = "mapping") -> MappingSpec:
    """Check one ``[[mappings]]`` table; errors name ``where``, the field and the value."""
    kind = table.get("kind")
    if kind not in KINDS:
        raise MappingError(f"{where}: kind = {kind!r}: expected one of {', '.join(KINDS)}")
    where = f"{where} ({kind})"
    unknown = sorted(set(table) - _COMMON - _EXTRA[kind])
    if unknown:
        raise MappingError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(sorted(_COMMON | _EXTRA[kind]))})")
    opts: dict[str, Any] = {}
    if kind == "snap":
        target = table.get("target", "kick")
        if not (target in ("kick", "snare") or (isinstance(target, int) and not isinstance(target, bool) and target >= 0)):
            raise MappingError(f"{where}: target = {target!r}: expected 'kick', 'snare' or a seed")
        opts["target"] = target
    if kind in ("push", "mix"):
        opts["seed"] = int(_num(table, "seed", 1, where, 0, 2**31 - 1))
    if kind == "direction":
        opts["component"] = int(_num(table, "component", 0, where, 0, 63))
    if kind == "noise":
        opts["motion"] = _num(table, "motion", 0.0, where, 0.0, 100.0)
    if kind == "jump":
        opts["threshold"] = _num(table, "threshold", 0.5, where, 0.0, 10.0)
    if kind == "bend":
        op = table.get("op")
        if op not in BEND_OPS:
            raise MappingError(f"{where}: op = {op!r}: expected one of {', '.join(BEND_OPS)}")
        opts["op"] = op
        opts["base"] = _num(table, "base", 0.0, where)
        opts["channels"] = _num(table, "channels", 1.0, where, 0.0, 1.0)
        axis = table.get("axis", "x")
        if op == "translate" and axis not in ("x", "y"):
            raise MappingError(f"{where}: axis = {axis!r}: expected 'x' or 'y'")
        opts["axis"] = axis
    if kind == "transform":
        axis = table.get("axis", "rotate")
        if axis not in TRANSFORM_AXES:
            raise MappingError(f"{where}: axis = {axis!r}: expected one of {', '.join(TRANSFORM_AXES)}")
        opts["axis"] = axis
    default_layers = "middle" if kind == "bend" else "all"
    gate = table.get("gate", True)
    if not isinstance(gate, bool):
        raise MappingError(f"{where}: gate = {gate!r}: expected true or false")
    return MappingSpec(
        kind=kind,
        source=_check_source(table.get("source", "rms"), where),
        amount=_num(table, "amount", 1.0, where, -1000.0, 1000.0),
        attack=_num(table, "attack", 0.0, where, 0.0, 10.0),
        release=_num(table, "release", 0.2, where, 0.0, 30.0),
        layers=_check_layers(table.get("layers", default_layers), where),
        curve=_num(table, "curve", 1.0, where, 0.1, 8.0),
        gate=gate,
        options=opts,
    )


def parse_mappings(tables: Sequence[Mapping[str, Any]], where: str = "preset") -> tuple[MappingSpec, ...]:
    return tuple(parse_mapping(t, f"{where}: mappings[{i}]") for i, t in enumerate(tables))


def mappings_json(tables: Sequence[Mapping[str, Any]]) -> str:
    """A preset's ``[[mappings]]`` tables as the ``preset/mappings`` registry value."""
    return json.dumps([dict(t) for t in tables], separators=(",", ":"), sort_keys=True)


def parse_mappings_json(text: str, where: str = "preset/mappings") -> tuple[MappingSpec, ...]:
    """The checked specs of a ``preset/mappings`` value (MappingError names ``where``)."""
    if not text:
        return ()
    try:
        tables = json.loads(text)
    except ValueError as exc:
        raise MappingError(f"{where}: not JSON ({exc})") from None
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise MappingError(f"{where}: expected a JSON list of mapping tables")
    return parse_mappings(tables, where)


def check_mappings_json(text: str) -> None:
    """``ParamSpec.check`` of ``preset/mappings``: a bad value is refused when it is set."""
    from ..params.registry import ParamError

    try:
        parse_mappings_json(text)
    except MappingError as exc:
        raise ParamError(str(exc)) from None


# ---- the audio side: sources and envelopes ------------------------------------------------


def level_value(src: str, f: FeatureFrame, level: float) -> float:
    b = f.bands
    table = {
        "rms": f.rms, "sub": b[0], "low": b[1], "mid": b[2], "high": b[3], "bass": 0.5 * (b[0] + b[1]),
        "flux": f.flux, "centroid": f.centroid, "build": f.build, "level": level, "beat_phase": f.beat_phase,
        "onset:sub": f.band_onsets[0], "onset:low": f.band_onsets[1], "onset:mid": f.band_onsets[2],
        "onset:high": f.band_onsets[3],
    }
    return float(table[src])


def event_value(src: str, f: FeatureFrame, clock: Clock) -> float:
    """Strength of an event in this frame (0 when none)."""
    o = f.band_onsets
    strength = float(np.clip(0.5 + f.onset_strength, 0.0, 1.5))
    if src == "onset":
        return strength if f.onset else 0.0
    if src == "kick":  # an onset carried by the sub band
        return strength if f.onset and o[0] >= 0.5 else 0.0
    if src == "snare":  # mids without the sub: snares, claps
        return strength if f.onset and o[2] >= 0.5 and o[0] < 0.5 else 0.0
    if src == "hat":  # highs without the sub or mids
        return strength if f.onset and o[3] >= 0.5 and o[0] < 0.5 and o[2] < 0.5 else 0.0
    if src == "beat":
        return 1.0 if clock.beat else 0.0
    if src == "bar":
        return 1.0 if clock.bar else 0.0
    if src == "drop":
        return 1.0 if f.drop else 0.0
    if src == "section":
        return 1.0 if f.section else 0.0
    raise KeyError(src)


def lfo_value(src: str, beats: float) -> float:
    """0..1 LFO on the beat clock, zero phase on a bar line."""
    _, shape, period = src.split(":")
    x = (beats / float(period)) % 1.0
    if shape == "sine":
        return 0.5 - 0.5 * math.cos(2 * math.pi * x)
    if shape == "tri":
        return 1.0 - abs(2.0 * x - 1.0)
    if shape == "saw":
        return x
    return 1.0 if x < 0.5 else 0.0


class MappingEnvelopes:
    """The model-free half of a preset's mappings: each mapping's shaped 0..1 value per frame.

    Envelopes are time state (they belong to the performance and survive a model swap);
    what a value does to the picture is ``MappingTargets``' business.
    """

    def __init__(self, specs: Sequence[MappingSpec]) -> None:
        self.specs = specs if isinstance(specs, tuple) else tuple(specs)
        self.envelopes = [Envelope(s.attack, s.release) for s in self.specs]
        self.noise_phase = 0.0  # noise re-rolls (noise motion)
        self.has_noise_motion = any(s.kind == "noise" and s.options.get("motion") for s in self.specs)

    def value(self, i: int, f: FeatureFrame, clock: Clock, level: float, dt: float) -> float:
        s, env = self.specs[i], self.envelopes[i]
        if s.source in EVENTS:
            strength = event_value(s.source, f, clock)
            if s.source in ("beat", "bar") and s.gate:
                strength *= min(1.0, 5.0 * level)  # the clock runs on through silence; the picture rests
            v = env.trigger(strength, dt)
        elif s.source.startswith("lfo:"):
            v = env.follow(lfo_value(s.source, clock.beats) * (level if s.gate else 1.0), dt)
        elif s.source == "const":
            v = env.follow(level if s.gate else 1.0, dt)
        else:
            v = env.follow(level_value(s.source, f, level), dt)
        return max(0.0, v) ** s.curve

    def step(self, f: FeatureFrame, clock: Clock, level: float, dt: float, scale: float) -> "MappingLevels":
        values = []
        jump = False
        for i, s in enumerate(self.specs):
            v = self.value(i, f, clock, level, dt)
            values.append(v)
            if s.kind == "noise":
                self.noise_phase += dt * float(s.options["motion"]) * v * scale
            elif s.kind == "jump":
                # Fires when the event arrives (the envelope jumped), not while it decays.
                fired = s.source in EVENTS and event_value(s.source, f, clock) > 0
                jump = jump or (fired and v * s.amount >= s.options["threshold"])
        return MappingLevels(self.specs, tuple(values), scale, self.noise_phase, jump)


@dataclass(frozen=True)
class MappingLevels:
    """One frame's mapping values (the performance's message to the latent rig)."""

    specs: tuple[MappingSpec, ...] = ()
    values: tuple[float, ...] = ()
    scale: float = 1.0  # mapping/amount
    noise_steps: float = 0.0
    jump: bool = False


# ---- the generator side ----------------------------------------------------------------------


@dataclass
class Contribution:
    """What all mappings together add to one frame."""

    psi: float = 0.0
    noise_gain: float = 1.0
    noise_steps: float = 0.0  # noise re-rolls (noise motion)
    bends: list[Bend] = field(default_factory=list)
    rotate: float = 0.0
    translate: tuple[float, float] = (0.0, 0.0)
    flash: float = 0.0
    jump: bool = False


def layer_indices(layers: str | tuple[float, float], groups: Mapping[str, list[int]], num_ws: int) -> list[int]:
    """``ws`` indices for a group name or a [from, to] relative depth range."""
    if isinstance(layers, str):
        if layers == "all":
            return list(range(num_ws))
        if groups.get(layers):
            return list(groups[layers])
        # A family whose resolutions leave a group empty (StyleGAN3): use that third of the depth.
        layers = {"coarse": (0.0, 1 / 3), "middle": (1 / 3, 2 / 3), "fine": (2 / 3, 1.0)}[layers]
    lo, hi = layers
    span = max(num_ws - 1, 1)
    return [i for i in range(num_ws) if lo - 1e-9 <= i / span <= hi + 1e-9]


def bend_layer(layers: str | tuple[float, float], table: Sequence[LayerInfo], groups: Mapping[str, list[int]]) -> str:
    """The one synthesis layer a bend acts on: the middle layer of the group or depth range."""
    num_ws = max(info.w_index for info in table) + 1
    idx = set(layer_indices(layers, groups, num_ws)) if layers != "all" else set(range(num_ws))
    cands = [info for info in table if info.w_index in idx and info.channels > 3] or list(table)
    return cands[len(cands) // 2].name


def bend_amount(op: str, value: float, base: float, axis: str) -> float | tuple[float, float] | str:
    """A bend op's amount for a mapped value (0 = neutral for every op)."""
    v = base + value
    if op == "translate":
        return (v, 0.0) if axis == "x" else (0.0, v)
    if op == "scale":
        return max(1e-3, 1.0 + v)
    if op == "multiply":
        return 1.0 + v
    if op == "flip":
        return "h" if v > 0.5 else ""
    if op in ("erode", "dilate"):
        return max(0.0, v)
    if op == "threshold":
        return v if v > 0 else -math.inf
    if op in ("invert", "ablate"):
        return float(np.clip(v, 0.0, 1.0))
    return v  # rotate (degrees)


class MappingTargets:
    """The model-specific half: what each mapping acts on in one generator, for one seed.

    ``latent(seed)`` gives a w vector for a seed (the rig's mapping of z), and ``spread``
    the norm of typical w offsets, so pushes have a size that suits the model. Kick and
    snare targets come from the seed so a reseed changes them too.
    """

    def __init__(self, specs: Sequence[MappingSpec], generator, latent, spread: float, base_seed: int) -> None:
        self.specs = specs if isinstance(specs, tuple) else tuple(specs)
        self.num_ws = generator.num_ws
        self.groups = generator.layer_groups()
        self.layers = list(generator.layers)
        self.indices = [layer_indices(s.layers, self.groups, self.num_ws) for s in self.specs]
        self.bend_layers = [bend_layer(s.layers, self.layers, self.groups) if s.kind == "bend" else "" for s in self.specs]
        self._targets: dict[int, torch.Tensor] = {}
        for i, s in enumerate(self.specs):
            if s.kind in ("snap", "mix"):
                target = s.options.get("target", s.options.get("seed"))
                seed = {"kick": base_seed + 7001, "snare": base_seed + 7002}.get(target, target)  # type: ignore[arg-type]
                self._targets[i] = latent(int(seed))
            elif s.kind == "push":
                g = torch.Generator().manual_seed(int(s.options["seed"]) * 7919 + i)
                d = torch.randn(generator.w_dim, generator=g)
                self._targets[i] = d / d.norm() * spread
            elif s.kind == "direction":
                from .ganspace import directions

                dirs = directions(generator)
                k = min(int(s.options["component"]), len(dirs.stds) - 1)
                self._targets[i] = dirs.components[k] * dirs.stds[k]

    def apply(self, ws: torch.Tensor, levels: MappingLevels) -> Contribution:
        """Apply every mapping to ``ws`` ([num_ws, w_dim], in place) and return the rest."""
        out = Contribution(noise_steps=levels.noise_steps, jump=levels.jump)
        rot, tx, ty = 0.0, 0.0, 0.0
        for i, (s, v) in enumerate(zip(self.specs, levels.values)):
            a = s.amount * levels.scale * v
            idx = self.indices[i]
            if s.kind in ("push", "direction") and idx:
                ws[idx] += a * self._targets[i]
            elif s.kind in ("snap", "mix") and idx:
                ws[idx] += float(np.clip(a, -1.0, 1.0)) * (self._targets[i] - ws[idx])
            elif s.kind == "truncation":
                out.psi += a
            elif s.kind == "noise":
                out.noise_gain *= max(0.0, 1.0 + a)
            elif s.kind == "bend":
                amount = bend_amount(s.options["op"], a, s.options["base"], s.options["axis"])
                bend = Bend(self.bend_layers[i], s.options["op"], amount, s.options["channels"])
                if not bend_is_neutral(bend):  # neutral bends would only split batches
                    out.bends.append(bend)
            elif s.kind == "transform":
                axis = s.options["axis"]
                rot += a if axis == "rotate" else 0.0
                tx += a if axis == "x" else 0.0
                ty += a if axis == "y" else 0.0
            elif s.kind == "flash":
                out.flash = max(out.flash, min(1.0, a))
        out.rotate, out.translate = rot, (tx, ty)
        return out
