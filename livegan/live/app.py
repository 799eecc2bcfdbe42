"""The live app: audio source -> analysis thread -> inference thread -> GL display.

The GL main thread never waits on inference: each display tick takes whatever model
frame is newest (uploading it only when it is new), draws it through the effect chain
and the HUD, and swaps. Audio-reactive shader uniforms follow the newest features, not
the (older) features of the model frame, so effects stay tight to the music.
"""

from __future__ import annotations

import copy
import gc
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..audio.features import FeatureFrame
from ..conductor.mappings import Clock
from ..control.morph import MorphRunner
from ..control.triggers import ControlActions
from ..errors import LiveganError
from ..params.registry import ParamRegistry
from .analysis_thread import AnalysisThread
from .audio_input import DeviceInput, FileInput, load_mono
from .effects import EffectChain, FrameUniforms
from .gc_pause import freeze_startup_objects
from .gl_context import Surface, open_surface
from .hud import AMBER, RED, WHITE, Hud, HudState
from .inference_thread import InferenceThread, ModelRenderer, RenderedFrame, Renderer
from .latest import Latest
from .quantize import Quantizer
from .ringbuffer import AudioRing
from .stats import LiveStats, write_json
from ..oom import limit_malloc_arenas
from .hotswap import ModelSwapper, SwapResult, live_builder
from .watchdog import InferenceWatchdog

log = logging.getLogger("livegan.live")
# A model load still running when the show ends gets this long to finish: Python's exit would
# stop its thread inside torch's C++ code, which aborts the process (tests/test_faults_live.py).
LOAD_QUIT_WAIT_S = 5.0


@dataclass
class LiveConfig:
    audio_device: str | None = None  # capture device (name fragment or index); None = default
    file: str | None = None  # play this song instead of capturing
    play: bool = True  # with --file: send it to the output device (else the file's clock)
    output_device: str | None = None
    model: str = "builtin"
    size: int = 512  # model resolution (the builtin model renders at this size)
    window: tuple[int, int] | None = None  # output size; default 1280x720 windowed, the model size headless
    preset: str | None = None
    monitor: int = 0
    fullscreen: bool = False
    headless: bool = False
    duration: float | None = None
    stats_json: str | None = None
    sample_rate: int = 48000
    block: int = 512
    device: str = "auto"  # torch device
    threads: int | None = None
    refresh_hz: float = 60.0  # headless pacing (a window follows its monitor)
    shader_dir: str | None = None
    hud: bool = True  # HUD visible at start (H toggles)
    seed: int = 0
    stall_limit_s: float = 2.0  # watchdog: a render running longer than this restarts inference
    record: str | None = None  # --record SET: the input audio and every parameter change, for replay


@dataclass
class _Display:
    """Display-thread state between ticks."""

    shown_version: int = 0
    frame: RenderedFrame | None = None
    pending: RenderedFrame | None = None  # newest frame whose latency is not yet recorded
    weight: float = 0.0  # how much of the newest frame the last draw showed
    frame_t: float = 0.0
    model_interval: float = 0.1
    display_interval: float = 1.0 / 60.0  # measured, not the nominal refresh
    onset_env: float = 0.0
    onsets_seen: int = 0
    last_t: float = field(default_factory=time.perf_counter)


def _crossfade_weight(mix: float, values) -> float:
    """The newest frame's share in shaders/crossfade.glsl (same formula)."""
    amount = float(values.get("fx/crossfade/amount", 1.0))
    x = min(max(mix, 0.0), 1.0)
    return (1.0 - amount) + amount * x * x * (3.0 - 2.0 * x)


def _pick_threads(requested: int | None) -> int:
    if requested:
        return requested
    # With audio, analysis and GL sharing the cores, fewer torch threads are steadier.
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def build_renderer(cfg: LiveConfig, sample_rate: int) -> tuple[Renderer, str, str]:
    """The model path: generator + conductor + engine. Returns (renderer, model name, torch device)."""
    import torch  # noqa: PLC0415

    from ..conductor.conductor import Conductor  # noqa: PLC0415
    from ..models.load import load_generator, parse_builtin  # noqa: PLC0415
    from ..render.engine import Engine, pick_device  # noqa: PLC0415

    torch.set_num_threads(_pick_threads(cfg.threads))
    dev = pick_device(cfg.device)
    builtin = parse_builtin(cfg.model)
    if builtin is not None:
        from ..models.builtin import BuiltinGenerator  # noqa: PLC0415

        gen = BuiltinGenerator(seed=builtin.seed, world=builtin.world, resolution=cfg.size)
        gen = gen.eval().requires_grad_(False).to(dev)
        engine = Engine(gen, dev)
    else:
        gen = load_generator(cfg.model, dev)
        engine = Engine(gen, dev, size=(cfg.size, cfg.size) if cfg.size != gen.resolution else None)
    conductor = Conductor(gen, seed=cfg.seed, sample_rate=sample_rate)
    return ModelRenderer(conductor, engine), f"{Path(cfg.model).name} {cfg.size}px", str(dev)


class LiveApp:
    def __init__(self, cfg: LiveConfig, registry: ParamRegistry | None = None, renderer: Renderer | None = None,
                 osc_activity: Callable[[], Any] | None = None,
                 on_frame: Callable[["LiveApp", int], None] | None = None) -> None:
        from ..params.definitions import make_registry  # noqa: PLC0415

        self.cfg = cfg
        self.registry = registry or make_registry()
        self.renderer = renderer
        self.osc_activity = osc_activity  # hook: the OSC server's ``stats`` (received / rate / errors)
        self.on_frame = on_frame  # called after every swap (tests, recording)
        self.stats = LiveStats()
        self.surface: Surface | None = None
        self.effects: EffectChain | None = None
        self.model_name = cfg.model
        self.torch_device = "cpu"
        self.preset_name = ""
        self.presets: list[str] = []
        self.message = ""  # last user-facing notice (preset errors and the like)
        self.frames_drawn = 0
        self.hud: Hud | None = None
        self.last_hud: HudState | None = None
        self.frames_audio_lost = 0  # frames drawn while the audio input was gone
        self.capture_requested = False  # set to keep the next drawn frame in ``captured``
        self.captured = None
        self.last_shown: RenderedFrame | None = None
        self.watchdog: InferenceWatchdog | None = None
        self.swapper: ModelSwapper | None = None
        self._preset_request: str | int | None = None  # set from control threads, served on the GL thread
        self.preset_quantizer: Quantizer = Quantizer()  # holds a preset until its beat or bar
        self._renderer_lock = threading.Lock()  # the live renderer slot: display vs model loader
        self.preset = None  # the Preset applied last (its mappings are saved with the look)
        self.morph = MorphRunner(self.registry, bpm=self._bpm)
        self._morph_landing: tuple[int, str] | None = None  # (morph generation, preset to load at its end)
        self._quit = False
        self.looping = False  # the show loop is running (a stop request then ends it at the next tick)
        self.interrupted = False  # stopped by request_stop (Ctrl-C), not by the end of its duration

    # ---- set-up ---------------------------------------------------------------------
    def _size(self) -> tuple[int, int]:
        if self.cfg.window:
            return self.cfg.window
        return (self.cfg.size, self.cfg.size) if self.cfg.headless else (1280, 720)

    def _read_preset(self, ref: str | int):
        """A preset by name or index, parsed and checked (LiveganError names the file and line)."""
        from ..conductor.preset import list_presets, load_preset  # noqa: PLC0415

        if isinstance(ref, int):
            names = list_presets()
            if not 0 <= ref < len(names):
                raise LiveganError(f"preset index {ref}: there are {len(names)} presets")
            ref = names[ref]
        return load_preset(ref, self.registry)

    def _apply_preset(self, preset) -> None:
        from ..conductor.preset import apply_preset  # noqa: PLC0415

        apply_preset(self.registry, preset)
        with self._renderer_lock:  # not while a swapped-in model takes the mappings over
            conductor = getattr(self.renderer, "conductor", None)
            if conductor is not None:  # the preset's audio mappings, as `render` uses them
                conductor.set_mappings(preset.mappings, where=str(preset.path or preset.name))
        self.effects.configure(preset.effects)
        self.preset_name = preset.name
        self.preset = preset

    def _load_preset(self, name: str) -> None:
        self._apply_preset(self._read_preset(name))

    def _step_preset(self, delta: int) -> None:
        from ..conductor.preset import list_presets  # noqa: PLC0415

        self.presets = list_presets()
        if not self.presets:
            return
        waiting = self.preset_quantizer.waiting
        current = waiting.name if waiting is not None else self.preset_name  # step on from a queued one
        i = self.presets.index(current) if current in self.presets else -1
        self.request_preset(self.presets[(i + delta) % len(self.presets)])
        self._serve_preset_request(time.perf_counter())

    def request_preset(self, ref: str | int) -> None:
        """Load a preset (name or index) on the display thread (OSC, MIDI, keys).

        It is read at once (a broken file is reported at once) and applied at once, or on the
        next beat or bar when ``show/quantize`` says so and the beat clock runs (quantize.py).
        """
        self._preset_request = ref

    def control_actions(self) -> ControlActions:
        """The OSC/MIDI actions (``/livegan/preset/load`` ...) as this app performs them."""
        return ControlActions(load_preset=self.request_preset, save_preset=self.save_preset,
                              morph_preset=self.morph_preset, load_model=self.request_model)

    def save_preset(self, name: str) -> Path:
        """Save the look on screen (values, effect order, the preset's mappings) as a preset file.

        Called from a control thread (OSC ``/livegan/preset/save``); it goes to the first preset
        folder (``$LIVEGAN_PRESETS``, else ``./presets``) and is loadable at once.
        """
        from ..conductor.preset import preset_dirs  # noqa: PLC0415
        from ..control.presets import save_preset  # noqa: PLC0415

        values = self.registry.peek().values
        effects = [{"name": n, "enabled": bool(values.get(f"fx/{n}/enabled", False))} for n in self.effects.order]
        current = self.preset
        path = save_preset(self.registry, name, preset_dirs()[0], effects=effects,
                           description=f"saved live from {current.name}" if current else "saved live",
                           mappings=current.mappings if current else ())
        self.message = f"preset saved as {path}"
        return path

    def morph_preset(self, ref: str | int, amount: float, unit: str = "s") -> None:
        """Glide the values to a preset's over seconds or beats (control thread, OSC ``preset/morph``).

        Numbers glide, switches flip half way (morph.py); the preset's mappings and effect order
        arrive with the last step, when it is loaded (values already there: nothing jumps).
        """
        from ..control.morph import preset_targets  # noqa: PLC0415

        preset = self._read_preset(ref)  # a bad name is refused now, to the controller
        self.morph.start_thread(preset_targets(self.registry, preset), self.morph.seconds(amount, unit))
        self._morph_landing = (self.morph.generation, preset.name)

    def _conductor_clock(self) -> Clock | None:
        return getattr(getattr(self.renderer, "conductor", None), "last_clock", None)

    def _bpm(self) -> float:
        clock = self._conductor_clock()
        if clock is not None and clock.bpm > 0:
            return clock.bpm
        manual = float(self.registry.get("tempo/bpm"))
        return manual if manual > 0 else 120.0

    def request_model(self, spec: str, crossfade_s: float = 2.0) -> None:
        """Swap the model in the background; the old one keeps playing until the new one works."""
        if self.swapper is not None:
            self.swapper.request(spec, crossfade_s)

    def _serve_preset_request(self, now: float) -> None:
        ref, self._preset_request = self._preset_request, None
        if ref is not None and self._morph_landing is not None:
            self.morph.cancel()  # a preset asked for now wins over a morph still gliding
            self._morph_landing = None
        landing = self._morph_landing
        if landing is not None and not self.morph.active:  # a morph ended: load its preset
            self._morph_landing = None
            if ref is None and landing[0] == self.morph.generation:
                ref = landing[1]
        clock = self._beat_clock()
        preset = None
        if ref is not None:
            try:
                preset = self._read_preset(ref)
            except LiveganError as exc:  # a broken preset file must not stop the show
                self.message = str(exc)
                log.error("%s", exc)
                return
            mode = str(self.registry.get("show/quantize"))
            preset = self.preset_quantizer.request(preset, mode, clock, now)
            if preset is None:
                self.message = f"preset {self.preset_quantizer.waiting.name} on the next {mode}"
        else:
            preset = self.preset_quantizer.due(clock, now)
        if preset is not None:
            try:
                self._apply_preset(preset)
                self.message = f"preset {preset.name}"
            except LiveganError as exc:  # e.g. it lists a shader that is not there
                self.message = str(exc)
                log.error("%s", exc)

    def _beat_clock(self) -> Clock | None:
        """The conductor's beat clock carried forward to the newest audio (else the analyzer's)."""
        ring = getattr(self, "ring", None)
        if ring is None:
            return None
        t = ring.write_pos / ring.sample_rate
        clock = self._conductor_clock()
        if clock is not None and clock.bpm > 0:
            return clock.at(t)
        feat = self.features.get()[0]
        if feat is None or feat.tempo_bpm <= 0:
            return None
        return Clock(feat.tempo_bpm, feat.beat_count + feat.beat_phase, time=feat.time).at(t)

    def _install_renderer(self, new: Renderer) -> None:
        """A hot-swapped model goes live with the show's audio mappings and beat clock (loader thread)."""
        with self._renderer_lock:
            old_c, new_c = getattr(self.renderer, "conductor", None), getattr(new, "conductor", None)
            if old_c is not None and new_c is not None:
                new_c.set_mappings(old_c.mapping_specs)
                new_c.clock = copy.deepcopy(old_c.clock)  # the beat (taps, phase) carries on
                new_c.last_clock = old_c.last_clock
            self.watchdog.guard.renderer = new
            self.renderer = new

    def _model_swapped(self, result: SwapResult) -> None:
        self.message = result.message  # the HUD's notice line: loaded, or why the old model stays
        if result.ok:
            self.model_name = self.swapper.model_name

    def request_stop(self) -> None:
        """Ctrl-C: end the show at the next display tick (signal handlers call this).

        A flag, not an exception: a KeyboardInterrupt that lands inside a finalizer run by the
        garbage collector is printed and dropped, and the show would play on.
        """
        self.interrupted = True
        self._quit = True

    def on_key(self, key: str) -> None:
        reg = self.registry
        if key == "h" and self.hud is not None:
            self.hud.visible = not self.hud.visible
        elif key == "f":
            self.surface.toggle_fullscreen()
        elif key == "right":
            self._step_preset(+1)
        elif key == "left":
            self._step_preset(-1)
        elif key == "r":
            reg.set("latent/reseed", None, source="key")
        elif key == "space":
            reg.set("show/freeze", not reg.get("show/freeze"), source="key")
        elif key == "b":
            reg.set("show/blackout", not reg.get("show/blackout"), source="key")
        elif key in ("escape", "q"):
            self._quit = True

    # ---- run ------------------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        limit_malloc_arenas()  # before any worker thread: model swaps must not step RSS up
        from ..conductor.preset import DEFAULT_PRESET  # noqa: PLC0415

        samples = None
        rate = cfg.sample_rate
        if cfg.file:
            samples, rate = load_mono(cfg.file)
        self.surface = open_surface(cfg.headless, self._size(), cfg.monitor, cfg.fullscreen, cfg.refresh_hz)
        self.surface.key_handler = self.on_key
        threads: list = []
        completed = False
        try:
            ctx = self.surface.ctx
            self.effects = EffectChain(ctx, self.registry, cfg.shader_dir)
            first_preset = self._read_preset(cfg.preset or DEFAULT_PRESET)  # a typo fails before a slow model load
            self.hud = Hud(ctx)
            self.hud.visible = cfg.hud
            from .upload import FrameUploader  # noqa: PLC0415

            self.uploader = FrameUploader(ctx)
            if self.renderer is None:
                self.renderer, self.model_name, self.torch_device = build_renderer(cfg, rate)
            self._apply_preset(first_preset)  # after the model: its conductor takes the preset's mappings
            from ..audio.analyzer import Analyzer  # noqa: PLC0415

            self.ring = ring = AudioRing(rate * 4, rate)
            self.registry.clock = lambda: ring.write_pos / ring.sample_rate
            if cfg.file:
                self.source = FileInput(ring, cfg.file, samples, play=cfg.play, device=cfg.output_device,
                                        block=cfg.block)
            else:
                self.source = DeviceInput(ring, cfg.audio_device, block=cfg.block)
            self.features: Latest[FeatureFrame] = Latest()
            self.frames: Latest[RenderedFrame] = Latest()
            self.recorder = None
            if cfg.record:
                from ..control.recording import SetRecorder  # noqa: PLC0415

                # Analysis starts at ring position 0, so audio time 0 is the set's first sample.
                self.recorder = SetRecorder(self.registry, cfg.record, rate, 1, origin=0.0, frame_stamps=True).start()
            self.analysis = AnalysisThread(ring, Analyzer(rate), self.features,
                                           gain=lambda: self.registry.get("audio/gain"),
                                           tap=self.recorder.write_audio if self.recorder else None)

            def make_inference(renderer) -> InferenceThread:
                return InferenceThread(self.features, self.registry, renderer, self.frames,
                                       max_fps=self.surface.refresh_hz,
                                       on_snapshot=self.recorder.mark_tick if self.recorder else None)

            # The watchdog owns the inference thread and replaces a stalled one (watchdog.py).
            self.watchdog = InferenceWatchdog(make_inference, self.renderer, cfg.stall_limit_s).start()
            self.inference = self.watchdog.thread
            # Model loads (OSC /livegan/model/load -> ControlActions.load_model = app.swapper.request).
            self.swapper = ModelSwapper(self.watchdog.guard, self.registry, live_builder(cfg, rate),
                                        on_result=self._model_swapped, install=self._install_renderer)
            self.swapper.model_name = self.model_name  # "keeping <this>" when a load fails
            threads = [self.watchdog, self.analysis.start(), self.source.start()]
            freeze_startup_objects()  # no 50 ms full collections mid-set (gc_pause.py)
            self._loop()
            completed = True
        finally:
            gc.unfreeze()  # the freeze is for the show only, not for whoever embeds the app
            result = self._summary()  # before stopping: the audio state as it was while running
            for th in threads:
                th.stop()
            if self.swapper is not None and self.swapper.busy:
                log.info("waiting up to %.0f s for the model load to finish", LOAD_QUIT_WAIT_S)
                self.swapper.wait(LOAD_QUIT_WAIT_S)
            if getattr(self, "recorder", None) is not None:
                result["recording"] = str(self.recorder.stop())
            if cfg.stats_json and completed:  # a failed start writes nothing
                write_json(cfg.stats_json, result)
            for part in (getattr(self, "hud", None), getattr(self, "uploader", None), self.effects):
                if part is not None:
                    part.release()
            self.surface.close()
        return result

    def unfinished_threads(self) -> list[str]:
        """Show threads still running after ``run`` returned: a model load that overran its wait,
        renders the watchdog gave up on. Both may be inside torch's C++ code."""
        left = ["model-load"] if self.swapper is not None and self.swapper.busy else []
        stuck = self.watchdog.stuck_threads() if self.watchdog is not None else 0
        return left + ["stalled inference"] * stuck

    def _summary(self) -> dict:
        out = self.stats.summary().to_dict()
        src = getattr(self, "source", None)
        out.update({
            "model": self.model_name,
            "torch_device": self.torch_device,
            "preset": self.preset_name,
            "output_size": list(self.surface.size) if self.surface and self.surface.ctx else list(self._size()),
            "headless": self.cfg.headless,
            "audio_state": src.status.state if src else "none",
            "audio_message": src.status.message if src else "",
            "audio_restarts": src.status.restarts if src else 0,
            "audio_xruns": src.status.xruns if src else 0,
            "onsets": self.analysis.onset_count if hasattr(self, "analysis") else 0,
            "shader_errors": dict(self.effects.errors) if self.effects else {},
            "model_frames_skipped": self.frames.dropped if hasattr(self, "frames") else 0,  # replaced unseen
            "frames_audio_lost": self.frames_audio_lost,
            "inference_restarts": self.watchdog.restarts if self.watchdog else 0,  # watchdog.py
        })
        return out

    def _loop(self) -> None:
        cfg = self.cfg
        # The display thread must get the GIL back quickly from the inference thread's Python
        # (conductor, op dispatch); the default 5 ms switch interval shows up as frame jitter.
        sys.setswitchinterval(float(os.environ.get("LIVEGAN_SWITCH_INTERVAL", "0.001")))
        d = _Display()
        start = time.perf_counter()
        self.looping = True
        soft_pace = self.surface.headless is False and os.environ.get("LIVEGAN_NO_SOFT_PACE") is None
        last_swap = start
        while not self._quit and not self.surface.should_close():
            now = time.perf_counter()
            if cfg.duration is not None and now - start >= cfg.duration:
                break
            self.surface.poll()
            self._serve_preset_request(now)
            self.effects.poll_reload()
            if self.watchdog is not None and self.watchdog.check(now):
                self.inference = self.watchdog.thread
            self._take_frame(d, now)
            self._draw(d, now)
            if self.capture_requested:
                self.captured, self.capture_requested = self.surface.read(), False
            self.stats.draw_ms.append((time.perf_counter() - now) * 1000.0)
            if soft_pace:
                # A window whose swap does not block (no vsync, e.g. Xvfb) is rate-limited by hand,
                # a little short of the refresh so that with vsync the swap still meets its vblank.
                wait = last_swap + 0.9 / self.surface.refresh_hz - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            self.surface.swap()
            t_swap = last_swap = time.perf_counter()
            self.stats.on_swap(t_swap)
            if d.pending is not None and d.weight >= 0.5:
                # Latency counts when the frame is really on screen: shown at least half blended in.
                arrival = self.ring.arrival_time(d.pending.sample_pos)
                lat = (t_swap - arrival) * 1000.0 if arrival is not None else None
                self.stats.on_new_model_frame(lat, d.pending.inference_ms)
                d.pending = None
            self.frames_drawn += 1
            if self.source.status.state == "lost":
                self.frames_audio_lost += 1
            if self.on_frame is not None:
                self.on_frame(self, self.frames_drawn)

    def _take_frame(self, d: _Display, now: float) -> RenderedFrame | None:
        frame, version = self.frames.get()
        if frame is None or version == d.shown_version:
            return None
        self.uploader.upload(frame.pixels)
        if d.pending is not None:
            self.stats.dropped_model_frames += 1  # replaced before it was ever half visible
        d.pending = frame
        if d.frame is not None:
            gap = now - d.frame_t
            d.model_interval += 0.2 * (min(gap, 1.0) - d.model_interval)
        d.shown_version, d.frame, d.frame_t = version, frame, now
        self.last_shown = frame
        return frame

    def _draw(self, d: _Display, now: float) -> None:
        target, size = self.surface.fbo, self.surface.size
        dt = now - d.last_t
        d.last_t = now
        d.display_interval += 0.1 * (min(dt, 0.5) - d.display_interval)
        feat, _ = self.features.get()
        feat = feat or FeatureFrame.rest()
        n_on = self.analysis.onset_count
        if n_on != d.onsets_seen:
            d.onset_env, d.onsets_seen = 1.0, n_on
        else:
            d.onset_env *= math.exp(-dt / 0.12)
        values = self.registry.peek().values
        target.use()
        target.viewport = (0, 0, *size)
        if d.frame is None or values.get("show/blackout", False):
            target.clear(0.0, 0.0, 0.0, 1.0)
            d.weight = 1.0
        else:
            # Blend only when the model is slower than the display: a new frame starts one display
            # period in, so a model at display rate shows every frame whole.
            mix = min(1.0, (now - d.frame_t + d.display_interval) / max(d.model_interval, 1e-3))
            d.weight = _crossfade_weight(mix, values) if values.get("fx/crossfade/enabled", False) else 1.0
            if d.weight >= 1.0:
                values = {**values, "fx/crossfade/enabled": False}  # nothing to blend: save a pass
            u = FrameUniforms(time=feat.time, onset=d.onset_env, rms=feat.rms, flux=feat.flux,
                              bands=tuple(feat.bands), beat_phase=feat.beat_phase, frame_mix=mix)
            self.effects.render(self.uploader.current, self.uploader.previous, target, size, u, values)
        if self.hud is not None and self.hud.visible:
            self.last_hud = self._hud_state(feat, d, values)
            self.hud.draw(target, size, self.last_hud)

    def _hud_state(self, feat: FeatureFrame, d: _Display, values) -> HudState:
        r = self.stats.recent()
        lines: list[tuple[str, tuple]] = [
            (f"FPS {r['fps']:5.1f}  FRAME {r['frame_p50']:.1f}/{r['frame_p99']:.1f} MS  "
             f"INFER {r['inference']:.0f} MS  LATENCY {r['latency_p50']:.0f}/{r['latency_p99']:.0f} MS", WHITE),
        ]
        osc = ""
        if self.osc_activity is not None:
            try:
                a = self.osc_activity()
                osc = f"  OSC {a.received} ({a.messages_per_s:.0f}/S) ERR {a.error_total}"
            except Exception:  # the hook is someone else's: never let it break the frame
                osc = "  OSC ?"
        quant = values.get("show/quantize", "off")
        waiting = self.preset_quantizer.waiting
        preset = self.preset_name + (f" > {waiting.name} ON {quant.upper()}" if waiting is not None else
                                     f" (Q {quant.upper()})" if quant != "off" else "")
        lines.append((f"PRESET {preset}  MODEL {self.model_name} {self.torch_device}{osc}", WHITE))
        st = self.source.status
        xruns = f"  XRUNS {st.xruns}" if st.xruns else ""
        lines.append((f"AUDIO {st.state}: {st.message}"[:96] + xruns, AMBER if st.state == "lost" or xruns else WHITE))
        flags = [n for n, on in (("FROZEN", values.get("show/freeze")), ("BLACKOUT", values.get("show/blackout"))) if on]
        if flags:
            lines.append(("  ".join(flags), AMBER))
        if self.message:
            lines.append((self.message[:110], WHITE))
        for err in self.effects.errors.values():
            lines.append((f"SHADER {err}"[:110], RED))
        if self.inference.error:
            lines.append((f"MODEL {self.inference.error}"[:110], RED))
        if self.watchdog is not None and self.watchdog.message:
            lines.append((self.watchdog.message[:110], RED))
        return HudState(lines, level=min(1.0, feat.rms * 1.5), bands=tuple(feat.bands), flux=min(1.0, feat.flux),
                        onset=d.onset_env, beat_phase=feat.beat_phase)
