"""``Session``: one small spec in, the whole pipeline out.

``livegan live``, ``render``, ``render --replay``, ``analyze`` and the tests all take
their parts from here, so they cannot drift apart (the first round's live and offline
builds differed in smoothing, seed and effects):

* the parameter registry: core parameters, control actions, every shader's uniforms
  (read as text, no GL context needed) and the ``preset/mappings`` check;
* the performance (model-free time state: envelopes, smoothing with the registry's time
  constants, triggers, the beat clock), built once per show;
* the model path (generator, latent rig, engine), rebuilt by a hot swap;
* the preset, applied to the registry (its values, mappings and effect order), and the
  seed from the command line on top;
* the compositor (effect chain) for a GL context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from ..conductor.conductor import Conductor
from ..conductor.mappings import check_mappings_json
from ..conductor.performance import Performance
from ..conductor.preset import DEFAULT_PRESET, Preset, apply_preset, list_presets, load_preset
from ..conductor.rig import LatentRig
from ..errors import LiveganError
from ..gl.declarations import declare_effect, read_effects
from ..params.definitions import declare_actions, make_registry
from ..params.registry import ParamRegistry
from .model import ModelPath

log = logging.getLogger("livegan.session")


@dataclass(frozen=True)
class SessionSpec:
    """What a pipeline is made of. Everything else follows from it and the registry."""

    model: str = "builtin"  # builtin, builtin:SEED, a .pkl or .safetensors file
    preset: str | None = DEFAULT_PRESET  # name or .toml path (None: no preset, the registry's defaults)
    seed: int | None = None  # latent/seed on top of the preset (None: the preset's, else 0)
    model_size: int | None = None  # side the model's frames are made at (None: the model's own; builtin 512)
    device: str = "auto"  # torch device: auto, cpu, cuda, cuda:N
    shader_dir: str | None = None  # effect shaders (default: the bundled shaders/)
    sample_rate: int = 48000


def session_registry(shader_dir: str | Path | None = None, registry: ParamRegistry | None = None) -> ParamRegistry:
    """A registry with every parameter a session has: core, actions, effects, checked mappings
    (``registry``, when given, gets what it lacks)."""
    registry = registry if registry is not None else make_registry()
    declare_actions(registry)
    spec = registry.spec("preset/mappings")
    registry.declare(replace(spec, check=check_mappings_json), replace=True)
    for info in read_effects(shader_dir).values():
        declare_effect(registry, info)
    return registry


def smoothing_taus(registry: ParamRegistry) -> dict[str, float]:
    """The time constants the performance smooths each parameter with (``ParamSpec.smoothing``)."""
    return {s.name: s.smoothing for s in registry.specs() if s.smoothing > 0}


class Session:
    """Builds and holds one pipeline. Parts are built in the order that fails fastest:
    the registry and the preset (a typo) before the model (slow)."""

    def __init__(self, spec: SessionSpec, registry: ParamRegistry | None = None, load_model: bool = True) -> None:
        self.spec = spec
        self.registry = session_registry(spec.shader_dir, registry)
        self.preset = self.read_preset(spec.preset) if spec.preset is not None else None
        self.performance = Performance(smoothing_taus(self.registry), spec.sample_rate)
        self.model: ModelPath | None = self.load_model(spec.model) if load_model else None
        if self.preset is not None:
            self.apply_preset(self.preset)
        if spec.seed is not None:
            self.registry.set("latent/seed", int(spec.seed), source="cli")

    # ---- parts ---------------------------------------------------------------------
    def read_preset(self, ref: str | int) -> Preset:
        """A preset by name, path or index, parsed and checked (PresetError names file and line)."""
        if isinstance(ref, int):
            names = list_presets()
            if not 0 <= ref < len(names):
                raise LiveganError(f"preset index {ref}: there are {len(names)} presets")
            ref = names[ref]
        return load_preset(ref, self.registry)

    def apply_preset(self, preset: Preset, source: str = "preset") -> None:
        """Values, mappings and effect order in one registry update (the conductor and the
        display pick them up from their next snapshot)."""
        apply_preset(self.registry, preset, source=source)
        self.preset: Preset | None = preset

    def load_model(self, model: str, precision: str = "auto", weights=None) -> ModelPath:
        """Generator + rig + engine for a model spec (also what a hot swap builds); ``weights``
        (``model_weights()`` of another session, e.g. from a cluster's object store) replace
        reading the model file."""
        from ..models.load import load_generator  # noqa: PLC0415
        from ..synth.engine import Engine, pick_device  # noqa: PLC0415

        dev = pick_device(self.spec.device)
        size = self.spec.model_size
        gen = load_generator(model, dev, precision, size=size, weights=weights)
        resize = (size, size) if size and size != gen.resolution else None
        engine = Engine(gen, dev, size=resize)
        side = size or gen.resolution
        label = f"{Path(model).name} {side}px" + (f" {precision}" if precision != "auto" else "")
        return ModelPath(LatentRig(gen), engine, label, str(model))

    def model_weights(self):
        """The spec's model weights in memory (``models.load.ModelWeights``), for sessions
        built elsewhere with the same spec: they build the same generator from them."""
        from ..models.load import read_weights  # noqa: PLC0415

        return read_weights(self.spec.model, self.spec.model_size)

    def conductor(self) -> Conductor:
        """The performance driving the current model (offline renderers step this)."""
        if self.model is None:
            raise LiveganError("this session has no model")
        return Conductor(self.performance, self.model.rig)

    def compositor(self, ctx):
        """The effect chain on a GL context (live display or offline EGL)."""
        from ..gl.compositor import Compositor  # noqa: PLC0415

        return Compositor(ctx, self.registry, self.spec.shader_dir)
