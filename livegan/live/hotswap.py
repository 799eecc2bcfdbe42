"""Model hot swap for live mode: load on a side thread, swap only what works.

A VJ may load a model mid-set (OSC ``/livegan/model/load``). The new model is read,
built and run once on a loader thread while the old one keeps playing; only a model that
produced a picture replaces the inference thread's renderer (one attribute assignment,
which the inference thread picks up on its next frame). A missing, corrupt, malicious or
incompatible file, or running out of memory, leaves the current model in place with one
clear line for the HUD and the log. Out of memory is tried once more at fp16 first.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..conductor.performance import Groove
from ..errors import LiveganError
from ..oom import free_device_memory, is_out_of_memory, trim_malloc
from .inference_thread import HostCopier, Renderer

log = logging.getLogger("livegan.live.swap")
TRIM_AFTER_S = 1.0  # the old model is gone by then: the inference thread moved on at its next frame

# (model spec, precision) -> a renderer with ``spec``, ``name`` and ``render(groove)`` (a
# ``ModelPath``: ``Session.load_model``). Raises on any failure.
Builder = Callable[[str, str], Renderer]


@dataclass(frozen=True)
class SwapResult:
    """What one load request ended in (for the HUD, the log and tests)."""

    spec: str
    ok: bool
    message: str
    seconds: float
    precision: str = "auto"


class ModelSwapper:
    """Owns model loads for one inference thread. ``request`` matches ``ControlActions.load_model``."""

    def __init__(self, slot, build: Builder, on_result: Callable[[SwapResult], None] | None = None) -> None:
        self.slot = slot  # anything with a ``renderer`` attribute (the watchdog's guard)
        self.build = build
        self.on_result = on_result
        self.model_name = ""
        self.message = ""  # the last outcome, one line
        self.results: list[SwapResult] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request(self, spec: str, crossfade_s: float = 2.0) -> None:
        """Start loading ``spec``; refuses at once (LiveganError) what can be told without loading."""
        text = str(spec)
        if not text.startswith("builtin") and not Path(text).is_file():
            raise LiveganError(f"model {text}: no such file (keeping the current model)")
        with self._lock:
            if self.busy:
                raise LiveganError(f"model {text}: another model is still loading (keeping the current model)")
            self._thread = threading.Thread(target=self._load, args=(text,), name="model-load", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> SwapResult | None:
        """Join the current load (tests, the soak); the newest result, if any."""
        th = self._thread
        if th is not None:
            th.join(timeout)
        return self.results[-1] if self.results else None

    # ---- loader thread -------------------------------------------------------------------
    def _try(self, spec: str, precision: str) -> tuple[Renderer, str]:
        renderer = self.build(spec, precision)
        self._probe(renderer)
        return renderer, renderer.name

    def _probe(self, renderer: Renderer) -> None:
        """One frame at rest: a model that cannot make a picture is incompatible."""
        with torch.inference_mode():
            img = HostCopier()(renderer.render(Groove()))
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
            raise LiveganError(f"the model made a picture of shape {list(img.shape)}, not [H, W, 3]")

    def _load(self, spec: str) -> None:
        t0 = time.perf_counter()
        precision = "auto"
        try:
            try:
                renderer, name = self._try(spec, precision)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                free_device_memory()
                log.warning("model %s: out of memory; trying fp16", spec)
                precision = "fp16"
                renderer, name = self._try(spec, precision)
        except Exception as exc:  # whatever the file does, the show goes on with the old model
            free_device_memory()
            why = "out of memory" if is_out_of_memory(exc) else (str(exc) if isinstance(exc, LiveganError)
                                                                  else f"{type(exc).__name__}: {exc}")
            what = why if spec in why else f"model {spec}: {why}"  # loader errors already name the file
            keep = self.model_name or "the current model"
            self._finish(SwapResult(spec, False, f"{what} (keeping {keep})", time.perf_counter() - t0, precision))
            return
        self.slot.renderer = renderer  # picked up by the inference thread's next tick (one assignment)
        # Once the inference thread has let go of the old model (its next frame), trim the heap.
        trim = threading.Timer(TRIM_AFTER_S, trim_malloc)
        trim.daemon = True  # a pending trim never holds up quitting
        trim.start()
        self.model_name = name
        self._finish(SwapResult(spec, True, f"model {name} loaded", time.perf_counter() - t0, precision))

    def _finish(self, result: SwapResult) -> None:
        self.message = " ".join(result.message.split())[:200]  # one line, whatever the file said
        self.results.append(result)
        (log.info if result.ok else log.error)("%s", self.message)
        if self.on_result is not None:
            self.on_result(result)
