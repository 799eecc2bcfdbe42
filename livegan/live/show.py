"""The show controller: what the performer asks for, turned into registry changes at the right time.

GL-free. Control threads (OSC, MIDI) and the keyboard call ``request_preset``,
``morph_preset``, ``save_preset``, ``request_model`` and ``on_key``; the display thread
calls ``serve`` once per tick, which applies a requested preset at once or, with
``show/quantize``, on the next beat or bar of the conductor's clock (``quantize.py``).
Everything it does goes through the registry, so the conductor and the display pick it
up from their next snapshot and a recorded set replays it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

from ..audio.features import Clock
from ..conductor.preset import Preset, list_presets, preset_dirs
from ..control.morph import MorphRunner, preset_targets
from ..control.presets import save_preset
from ..control.triggers import ControlActions, PresetRef
from ..errors import LiveganError
from ..gl.declarations import effect_order, read_effects
from ..session import Session
from .quantize import Quantizer

log = logging.getLogger("livegan.live")

ModelRequest = Callable[[str, float], None]


class ShowController:
    """Presets, quantize, morphs, saves and keys for one session."""

    def __init__(self, session: Session, clock: Callable[[], Clock | None],
                 request_model: ModelRequest | None = None) -> None:
        self.session = session
        self.registry = session.registry
        self.clock = clock  # the conductor's beat clock carried to the newest audio (None: no tempo)
        self._request_model = request_model
        self.message = ""  # the last user-facing notice (preset errors and the like), for the HUD
        self.quantizer: Quantizer[Preset] = Quantizer()  # holds a preset until its beat or bar
        self.morph = MorphRunner(self.registry, bpm=self._bpm)
        self._request: PresetRef | None = None  # set from control threads, served on the display thread
        self._morph_landing: tuple[int, str] | None = None  # (morph generation, preset to load at its end)

    @property
    def preset_name(self) -> str:
        return str(self.registry.get("preset/name"))

    @property
    def waiting(self) -> Preset | None:
        return self.quantizer.waiting

    def _bpm(self) -> float:
        clock = self.clock()
        if clock is not None and clock.bpm > 0:
            return clock.bpm
        manual = float(self.registry.get("tempo/bpm"))
        return manual if manual > 0 else 120.0

    # ---- control threads ---------------------------------------------------------------
    def actions(self) -> ControlActions:
        """The OSC/MIDI actions (``/livegan/preset/load`` ...) as this show performs them."""
        return ControlActions(load_preset=self.request_preset, save_preset=self.save_preset,
                              morph_preset=self.morph_preset, load_model=self.request_model)

    def request_preset(self, ref: PresetRef) -> None:
        """Load a preset (name or index) on the display thread's next tick."""
        self._request = ref

    def request_model(self, spec: str, crossfade_s: float = 2.0) -> None:
        """Swap the model in the background; the old one keeps playing until the new one works."""
        if self._request_model is None:
            raise LiveganError("model/load is not available here")
        self._request_model(spec, crossfade_s)

    def morph_preset(self, ref: PresetRef, amount: float, unit: str = "s") -> None:
        """Glide the values to a preset's over seconds or beats (control thread, OSC ``preset/morph``).

        Numbers glide, switches and the preset's mappings and effect order flip half way
        (morph.py); the preset is loaded with the last step (values already there: nothing jumps).
        """
        preset = self.session.read_preset(ref)  # a bad name is refused now, to the controller
        self.morph.start_thread(preset_targets(self.registry, preset), self.morph.seconds(amount, unit))
        self._morph_landing = (self.morph.generation, preset.name)

    def save_preset(self, name: str) -> Path:
        """Save the look on screen (values, effect order, mappings) as a preset file.

        It goes to the first preset folder (``$LIVEGAN_PRESETS``, else ``./presets``) and is
        loadable at once.
        """
        values = self.registry.peek().values
        infos = read_effects(self.session.spec.shader_dir)
        order = [n for n in effect_order(infos, str(values.get("fx/order", ""))) if infos[n].order == ""]
        effects = [{"name": n, "enabled": bool(values.get(f"fx/{n}/enabled", False))} for n in order]
        text = str(values.get("preset/mappings", ""))
        mappings = json.loads(text) if text else []  # checked when it was set
        current = self.preset_name
        path = save_preset(self.registry, name, preset_dirs()[0], effects=effects,
                           description=f"saved live from {current}" if current else "saved live", mappings=mappings)
        self.message = f"preset saved as {path}"
        return path

    # ---- keys (display thread) -----------------------------------------------------------
    def on_key(self, key: str) -> bool:
        """Show keys; False for keys that are not the show's (the display's own: F, H)."""
        reg = self.registry
        if key == "right":
            self.step_preset(+1)
        elif key == "left":
            self.step_preset(-1)
        elif key == "r":
            reg.set("latent/reseed", None, source="key")
        elif key == "space":
            reg.set("show/freeze", not reg.get("show/freeze"), source="key")
        elif key == "b":
            reg.set("show/blackout", not reg.get("show/blackout"), source="key")
        else:
            return False
        return True

    def step_preset(self, delta: int, now: float | None = None) -> None:
        names = list_presets()
        if not names:
            return
        waiting = self.quantizer.waiting
        current = waiting.name if waiting is not None else self.preset_name  # step on from a queued one
        i = names.index(current) if current in names else -1
        self.request_preset(names[(i + delta) % len(names)])
        self.serve(time.perf_counter() if now is None else now)

    # ---- the display thread, once per tick ------------------------------------------------
    def serve(self, now: float) -> None:
        """Apply a requested, quantized or morphed-to preset whose time has come."""
        ref, self._request = self._request, None
        if ref is not None and self._morph_landing is not None:
            self.morph.cancel()  # a preset asked for now wins over a morph still gliding
            self._morph_landing = None
        landing = self._morph_landing
        if landing is not None and not self.morph.active:  # a morph ended: load its preset
            self._morph_landing = None
            if ref is None and landing[0] == self.morph.generation:
                ref = landing[1]
        clock = self.clock()
        preset = None
        if ref is not None:
            try:
                preset = self.session.read_preset(ref)
            except LiveganError as exc:  # a broken preset file must not stop the show
                self._notice(str(exc), error=True)
                return
            mode = str(self.registry.get("show/quantize"))
            preset = self.quantizer.request(preset, mode, clock, now)
            if preset is None:
                self.message = f"preset {self.quantizer.waiting.name} on the next {mode}"
        else:
            preset = self.quantizer.due(clock, now)
        if preset is not None:
            try:
                self.session.apply_preset(preset)
                self.message = f"preset {preset.name}"
            except LiveganError as exc:  # e.g. it lists a shader that is not there
                self._notice(str(exc), error=True)

    def _notice(self, text: str, error: bool = False) -> None:
        self.message = text
        (log.error if error else log.info)("%s", text)

