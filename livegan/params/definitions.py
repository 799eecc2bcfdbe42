"""The core parameters every livegan run has, declared once.

Shader effects add their own uniforms (``fx/<effect>/<uniform>``) at run time; everything
else a controller, preset or HUD can touch is here.
"""

from __future__ import annotations

from typing import Callable

from ..models.builtin import WORLD_NAMES
from .registry import ParamRegistry, ParamSpec


def _f(name: str, default: float, lo: float, hi: float, desc: str, unit: str = "", smoothing: float = 0.0) -> ParamSpec:
    return ParamSpec(name, "float", default, lo, hi, unit, desc, smoothing)


def _t(name: str, desc: str) -> ParamSpec:
    return ParamSpec(name, "trigger", description=desc)


CORE_PARAMS: tuple[ParamSpec, ...] = (
    # Latent motion: keyframes drift at `speed`, a random walk adds `motion`, onsets add `pulse`.
    _f("latent/speed", 0.15, 0.0, 4.0, "keyframes passed per second of music when it is loud", "keyframes/s", 0.5),
    _f("latent/motion", 0.5, 0.0, 2.0, "random-walk motion amount, scaled by loudness", "", 0.2),
    _f("latent/pulse", 0.6, 0.0, 2.0, "onset pulse: how far each onset kicks the latent", "", 0.0),
    _f("latent/chroma", 0.4, 0.0, 1.0, "how much the harmony (chroma) chooses between keyframes", "", 0.5),
    ParamSpec("latent/keyframes", "int", 8, 2, 64, "", "number of latent keyframes in the loop"),
    ParamSpec("latent/seed", "int", 0, 0, 2**31 - 1, "", "seed of the keyframe latents"),
    ParamSpec("latent/reseed", "trigger", description="pick new keyframe latents (latent/seed + 1)",
              increments="latent/seed"),
    _t("latent/next", "jump to the next keyframe"),
    # Layer groups driven by bands.
    _f("layers/bass_coarse", 0.6, 0.0, 2.0, "bass energy pushes the coarse layers (structure)", "", 0.05),
    _f("layers/mid_middle", 0.4, 0.0, 2.0, "mid energy pushes the middle layers", "", 0.05),
    _f("layers/high_fine", 0.5, 0.0, 2.0, "high energy pushes the fine layers (texture, colour)", "", 0.05),
    # Truncation.
    _f("truncation/psi", 0.8, -1.0, 2.0, "truncation psi: 0 = average image, 1 = as trained", "", 0.3),
    _f("truncation/energy", 0.2, 0.0, 1.0, "loudness adds this much psi", "", 0.3),
    # Noise.
    ParamSpec("noise/mode", "enum", "const", description="noise maps: const, random, none", choices=("const", "random", "none")),
    _f("noise/strength", 1.0, 0.0, 10.0, "multiplier on every layer's noise", "", 0.1),
    _f("noise/highs", 1.5, 0.0, 10.0, "hats and highs add this much noise strength", "", 0.05),
    # The embedded model's world (its structural look); other models ignore it.
    ParamSpec("look/world", "enum", "auto", choices=("auto", *WORLD_NAMES),
              description="builtin model's world: auto (the one the model spec names), " + ", ".join(WORLD_NAMES)),
    # StyleGAN3 / builtin input transform.
    _f("transform/rotate", 0.0, -180.0, 180.0, "input rotation", "degrees", 0.2),
    _f("transform/translate_x", 0.0, -1.0, 1.0, "input translation x", "", 0.2),
    _f("transform/translate_y", 0.0, -1.0, 1.0, "input translation y", "", 0.2),
    _f("transform/spin", 0.0, -90.0, 90.0, "continuous rotation speed", "degrees/s", 0.5),
    # Bending at the middle layers.
    _f("bend/zoom", 0.0, 0.0, 1.0, "onsets zoom the middle feature maps", "", 0.0),
    _f("bend/rotate", 0.0, -180.0, 180.0, "rotate the coarse feature maps", "degrees", 0.2),
    # Envelopes.
    _f("envelope/attack", 0.01, 0.0, 2.0, "attack time of audio-driven motion", "s"),
    _f("envelope/release", 0.25, 0.0, 5.0, "release time of audio-driven motion", "s"),
    # Show control.
    ParamSpec("show/freeze", "bool", False, description="hold the current picture"),
    ParamSpec("show/blackout", "bool", False, description="black output"),
    ParamSpec("show/quantize", "enum", "off", choices=("off", "beat", "bar"),
              description="preset changes land: off (at once), beat, bar (on the beat clock)"),
    _f("show/master", 1.0, 0.0, 1.0, "output brightness", "", 0.1),
    _f("audio/gain", 1.0, 0.0, 8.0, "input gain before analysis", ""),
    _t("fx/flash", "one white flash"),
    _t("tempo/tap", "tap tempo"),
    # Beat clock and musical mappings.
    ParamSpec("tempo/source", "enum", "auto", description="beat clock: auto (taps, else analysis), analysis, tap, manual",
              choices=("auto", "analysis", "tap", "manual")),
    _f("tempo/bpm", 0.0, 0.0, 300.0, "manual tempo (used when nothing else gives one, or with source manual)", "BPM"),
    ParamSpec("tempo/loop_bars", "int", 0, 0, 64, "bars", "walk the keyframe loop once every N bars (0: free motion)"),
    # What the beat clock follows now (read-only: the show publishes them; controllers read them).
    ParamSpec("clock/bpm", "float", 0.0, 0.0, 1000.0, "BPM", readonly=True,
              description="the beat clock's tempo now (0: no tempo yet); read-only"),
    ParamSpec("clock/source", "string", "", max=32, readonly=True,
              description="what leads the beat clock now: tap, analysis or manual (empty: no tempo); read-only"),
    _f("mapping/amount", 1.0, 0.0, 2.0, "scales every preset mapping", "", 0.2),
    # The look a preset brings beyond values: its name, audio mappings and effect order. They
    # live here so that a preset load reaches the conductor and the display as one registry
    # update, and a recorded set replays it.
    ParamSpec("preset/name", "string", "", description="the preset on screen (set by preset loads)"),
    ParamSpec("preset/mappings", "string", "", max=65536,
              description="the preset's audio mappings: a JSON list of mapping tables (presets/README.md)"),
    ParamSpec("fx/order", "string", "", max=1024,
              description="order of the middle shader effects, comma-separated (first/last effects keep their place)"),
    *(_f(f"ganspace/{k}", 0.0, -3.0, 3.0, f"move along principal direction {k} of the model's w space", "sd", 0.2)
      for k in range(8)),
)


# The action addresses, declared like parameters so the OSCQuery tree, the docs and MIDI
# learn list them. Their argument lists are checked by parse_action_args below.
ACTION_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("preset/load", "trigger", description="load a preset: s name, or i index into the preset list"),
    ParamSpec("preset/save", "trigger", description="save the current values as presets/<name>.toml: s name"),
    ParamSpec("preset/morph", "trigger",
              description="morph to a preset: s name (or i index), f duration, optional s unit 's' or 'beats'"),
    ParamSpec("model/load", "trigger", description="load a model with a crossfade: s path, optional f seconds (2)"),
    ParamSpec("midi/learn", "trigger",
              description="MIDI learn: s parameter or action; the next knob, fader or pad moved binds to it "
                          "(empty string: cancel)"),
)


def declare_actions(registry: ParamRegistry) -> None:
    """Declare the action triggers (idempotent) so recorders and the HUD see them fire."""
    for spec in ACTION_SPECS:
        if spec.name not in registry:
            registry.declare(spec)


def make_registry(clock: Callable[[], float] | None = None) -> ParamRegistry:
    """A registry holding the core parameters at their defaults."""
    return ParamRegistry(CORE_PARAMS, clock=clock)
