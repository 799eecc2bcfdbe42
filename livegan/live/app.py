"""The live app: a composition of the session, the pipeline threads, the show and the display.

    audio source ─▶ ring ─▶ analysis thread ─▶ features ─▶ inference thread ─▶ frames ─▶ display (GL main thread)
                                                   (performance + model path)     clock ─▶ show controller

The GL main thread never waits on inference; between threads there are only latest-wins
slots (``latest.py``). The session (``livegan.session``) builds every part that live and
offline share; this module only wires them to threads, keys and the clock.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..audio.features import Clock, FeatureFrame
from ..clock.show import ShowSync
from ..conductor.preset import DEFAULT_PRESET
from ..control.morph import MorphRunner
from ..control.triggers import ControlActions
from ..errors import LiveganError
from ..gl.compositor import Compositor
from ..gl.context import Surface, open_surface
from ..oom import limit_malloc_arenas
from ..output.feed import OutputFeed, build_outputs
from ..params.registry import ParamRegistry
from ..record.recorder import SetRecorder
from ..session import Session, SessionSpec
from .analysis_thread import AnalysisThread
from .audio_input import DeviceInput, FileInput, load_mono
from .display import Display
from .gc_pause import freeze_startup_objects
from .hotswap import ModelSwapper, SwapResult
from .hud import Hud, HudState
from .hud_text import hud_state
from .inference_thread import InferenceThread, RenderedFrame, Renderer
from .latest import Latest
from .ringbuffer import AudioRing
from .show import ShowController
from .stats import LiveStats, write_json
from .watchdog import InferenceWatchdog

log = logging.getLogger("livegan.live")


def torch_threads() -> int:
    import torch  # noqa: PLC0415

    return torch.get_num_threads()
# A model load still running when the show ends gets this long to finish: Python's exit would
# stop its thread inside torch's C++ code, which aborts the process (tests/test_faults_live.py).
LOAD_QUIT_WAIT_S = 5.0


@dataclass(frozen=True)
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
    refresh_hz: float = 60.0  # headless pacing (a window follows its monitor)
    shader_dir: str | None = None
    hud: bool = True  # HUD visible at start (H toggles)
    seed: int | None = None  # latent/seed over the preset's (None: the preset's)
    stall_limit_s: float = 2.0  # watchdog: a render running longer than this restarts inference
    record: str | None = None  # --record SET: everything a replay needs
    preview_hz: float = 0.0  # thumbnails of the picture a second, for the web remote (0: none)
    # Into the rig (issue 18): clocks to sync with, video outputs.
    link: bool = False  # --link: Ableton Link leads the beat clock
    midi_clock_in: str | None = None  # a MIDI port whose clock leads (after Link)
    midi_clock_out: str | None = None  # a MIDI port to send the show's clock to
    midi_api: str | None = None  # rtmidi API for those ports (None: mido's default)
    stream: str | None = None  # --stream URL
    ndi: str | None = None  # --ndi NAME
    virtual_camera: str | None = None  # --virtual-camera [DEVICE] ("": the first loopback device)

    def output_size(self) -> tuple[int, int]:
        if self.window:
            return self.window
        return (self.size, self.size) if self.headless else (1280, 720)

    def session_spec(self, sample_rate: int) -> SessionSpec:
        return SessionSpec(model=self.model, preset=self.preset or DEFAULT_PRESET, seed=self.seed,
                           model_size=self.size, device=self.device, shader_dir=self.shader_dir,
                           sample_rate=sample_rate)


class LiveApp:
    """``run()`` plays the show until its duration, Esc, a window close or ``request_stop``."""

    def __init__(self, cfg: LiveConfig, registry: ParamRegistry | None = None, renderer: Renderer | None = None,
                 osc_activity: Callable[[], Any] | None = None,
                 on_frame: Callable[["LiveApp", int], None] | None = None) -> None:
        self.cfg = cfg
        self.registry_given = registry
        self.renderer_given = renderer  # a test double instead of the session's model
        self.osc_activity = osc_activity  # hook: the OSC server's ``stats`` (received / rate / errors)
        self.on_frame = on_frame  # called after every swap (tests, soak)
        self.stats = LiveStats()
        self.frames_drawn = 0
        self.frames_audio_lost = 0  # frames drawn while the audio input was gone
        self.capture_requested = False  # set to keep the next drawn frame in ``captured``
        self.captured = None
        self.last_hud: HudState | None = None
        self.looping = False  # the show loop is running (a stop request then ends it at the next tick)
        self.interrupted = False  # stopped by request_stop (Ctrl-C), not by the end of its duration
        self._quit = False
        self.sample_rate = cfg.sample_rate
        self._samples = None
        if cfg.file:
            self._samples, self.sample_rate = load_mono(cfg.file)
        # Video outputs are checked first (module, device, URL: nothing opens yet), then the session:
        # a preset typo fails before the window opens or a model loads.
        self.outputs = OutputFeed(build_outputs(cfg.stream, cfg.ndi, cfg.virtual_camera))
        self.session = Session(cfg.session_spec(self.sample_rate), registry=registry, load_model=renderer is None)
        self.registry = self.session.registry
        # Clocks that lead (Link, MIDI clock): a missing extra or port fails here too.
        self.sync = ShowSync(cfg.link, cfg.midi_clock_in, cfg.midi_clock_out, float(self.registry.get("tempo/bpm")),
                             cfg.midi_api)
        self.session.performance.tempo = self.sync.tempo
        self.features: Latest[FeatureFrame] = Latest()
        # The same features for the control surface (OSC out, the web remote): a slot of its own,
        # so reading it never takes an event from the inference thread, nor misses one.
        self.feedback: Latest[FeatureFrame] = Latest()
        self.previews: Latest[np.ndarray] = Latest()  # post-effects thumbnails, ``cfg.preview_hz`` a second
        self.frames: Latest[RenderedFrame] = Latest()
        self.clocks: Latest[Clock] = Latest()  # the conductor's beat clock, each tick
        self.ring = AudioRing(self.sample_rate * 4, self.sample_rate)
        self.show = ShowController(self.session, self._clock_now, self._request_model)
        self.watchdog: InferenceWatchdog | None = None
        self.swapper: ModelSwapper | None = None
        self.recorder: SetRecorder | None = None
        self.surface: Surface | None = None
        self.compositor: Compositor | None = None
        self.display: Display | None = None
        self.hud: Hud | None = None
        self.source = None
        self.analysis: AnalysisThread | None = None
        self.model_name = renderer.name if renderer is not None else self.session.model.name
        self.torch_device = "cpu" if renderer is not None else str(self.session.model.device)

    # ---- what controllers and tests reach ---------------------------------------------
    def control_actions(self) -> ControlActions:
        return self.show.actions()

    def request_preset(self, ref: str | int) -> None:
        self.show.request_preset(ref)

    def request_model(self, spec: str, crossfade_s: float = 2.0) -> None:
        self.show.request_model(spec, crossfade_s)

    @property
    def preset_name(self) -> str:
        return self.show.preset_name

    @property
    def message(self) -> str:
        return self.show.message

    @property
    def morph(self) -> MorphRunner:
        return self.show.morph

    @property
    def last_shown(self) -> RenderedFrame | None:
        return self.display.shown if self.display is not None else None

    @property
    def effects(self):
        return self.compositor.effects if self.compositor is not None else None

    def request_stop(self) -> None:
        """Ctrl-C: end the show at the next display tick (signal handlers call this).

        A flag, not an exception: a KeyboardInterrupt that lands inside a finalizer run by the
        garbage collector is printed and dropped, and the show would play on.
        """
        self.interrupted = True
        self._quit = True

    def on_key(self, key: str) -> None:
        if key == "h" and self.hud is not None:
            self.hud.visible = not self.hud.visible
        elif key == "f" and self.surface is not None:
            self.surface.toggle_fullscreen()
        elif key in ("escape", "q"):
            self._quit = True
        else:
            self.show.on_key(key)

    # ---- the clock and models -----------------------------------------------------------
    def audio_now(self) -> float:
        return self.ring.write_pos / self.ring.sample_rate

    def _clock_now(self) -> Clock | None:
        """The conductor's beat clock carried forward to the newest audio."""
        clock, _ = self.clocks.peek()
        if clock is None or clock.bpm <= 0:
            return None
        return clock.at(self.audio_now())

    def _request_model(self, spec: str, crossfade_s: float) -> None:
        if self.swapper is None:
            raise LiveganError("model/load: the show has not started")
        self.swapper.request(spec, crossfade_s)

    def _model_swapped(self, result: SwapResult) -> None:
        self.show.message = result.message  # the HUD's notice line: loaded, or why the old model stays
        if result.ok and self.swapper is not None:
            self.model_name = self.swapper.model_name

    # ---- run ------------------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        limit_malloc_arenas()  # before any worker thread: model swaps must not step RSS up
        self.surface = open_surface(cfg.headless, cfg.output_size(), cfg.monitor, cfg.fullscreen, cfg.refresh_hz)
        self.surface.key_handler = self.on_key
        threads: list = []
        completed = False
        try:
            self.compositor = self.session.compositor(self.surface.ctx)
            self.display = Display(self.surface, self.compositor,
                                   offscreen=bool(cfg.record) or cfg.preview_hz > 0 or bool(self.outputs))
            if self.outputs:
                self.outputs.open(self.surface.ctx, self.surface.size, self.surface.refresh_hz)
            self.hud = Hud(self.surface.ctx)
            self.hud.visible = cfg.hud
            self.registry.clock = self.audio_now
            if cfg.file:
                self.source = FileInput(self.ring, cfg.file, self._samples, play=cfg.play, device=cfg.output_device,
                                        block=cfg.block)
            else:
                self.source = DeviceInput(self.ring, cfg.audio_device, block=cfg.block)
            if cfg.record:
                self.recorder = self._recorder(cfg.record).start()
            from ..audio.analyzer import Analyzer  # noqa: PLC0415

            self.analysis = AnalysisThread(self.ring, Analyzer(self.sample_rate), self.features,
                                           gain=lambda: self.registry.get("audio/gain"),
                                           tap=self.recorder.write_audio if self.recorder else None,
                                           feed=self.feedback)
            frame_ids = itertools.count(1)

            def make_inference(slot) -> InferenceThread:
                return InferenceThread(self.features, self.registry, self.session.performance, slot, self.frames,
                                       self.clocks, frame_ids, max_fps=self.surface.refresh_hz,
                                       on_tick=self.recorder.mark_tick if self.recorder else None)

            # The watchdog owns the inference thread and replaces a stalled one (watchdog.py).
            renderer = self.renderer_given if self.renderer_given is not None else self.session.model
            self.watchdog = InferenceWatchdog(make_inference, renderer, cfg.stall_limit_s).start()
            # Model loads (OSC /livegan/model/load) build through the session and go live in the slot.
            self.swapper = ModelSwapper(self.watchdog.guard, self.session.load_model, on_result=self._model_swapped)
            self.swapper.model_name = self.model_name  # "keeping <this>" when a load fails
            threads = [self.watchdog, self.analysis.start(), self.source.start()]
            self.sync.start(self._clock_now)
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
            if self.recorder is not None:
                result["recording"] = str(self.recorder.stop())
            self.outputs.close()
            self.sync.close()
            if cfg.stats_json and completed:  # a failed start writes nothing
                write_json(cfg.stats_json, result)
            for part in (self.hud, self.compositor):
                if part is not None:
                    part.release()
            self.surface.close()
        return result

    def _recorder(self, folder: str) -> SetRecorder:
        spec = self.session.spec
        meta = {"session": {"model": spec.model, "preset": spec.preset, "seed": spec.seed,
                            "model_size": spec.model_size, "shader_dir": spec.shader_dir, "device": spec.device},
                "output_size": list(self.surface.size), "refresh_hz": self.surface.refresh_hz,
                "torch_threads": torch_threads()}
        # Analysis starts at ring position 0, so audio time 0 is the set's first sample.
        return SetRecorder(self.registry, folder, self.sample_rate, 1, origin=0.0, frame_stamps=True, meta=meta,
                           clock=self.sync.tempo is not None)

    def unfinished_threads(self) -> list[str]:
        """Show threads still running after ``run`` returned: a model load that overran its wait,
        renders the watchdog gave up on. Both may be inside torch's C++ code."""
        left = ["model-load"] if self.swapper is not None and self.swapper.busy else []
        stuck = self.watchdog.stuck_threads() if self.watchdog is not None else 0
        return left + ["stalled inference"] * stuck

    def _summary(self) -> dict:
        out = self.stats.summary().to_dict()
        src = self.source
        out.update({
            "model": self.model_name,
            "torch_device": self.torch_device,
            "preset": self.preset_name,
            "output_size": list(self.surface.size) if self.surface and self.surface.ctx else list(self.cfg.output_size()),
            "headless": self.cfg.headless,
            "audio_state": src.status.state if src else "none",
            "audio_message": src.status.message if src else "",
            "audio_restarts": src.status.restarts if src else 0,
            "audio_xruns": src.status.xruns if src else 0,
            "onsets": self.analysis.onset_count if self.analysis else 0,
            "shader_errors": dict(self.compositor.effects.errors) if self.compositor else {},
            "model_frames_skipped": self.frames.dropped,  # replaced unseen
            "frames_audio_lost": self.frames_audio_lost,
            "inference_restarts": self.watchdog.restarts if self.watchdog else 0,  # watchdog.py
            "clock": self._clock_summary(),
            "outputs": self.outputs.summary(),
        })
        return out

    def _clock_summary(self) -> dict:
        clock, _ = self.clocks.peek()
        lead = {"source": clock.source, "bpm": clock.bpm, "beats": clock.beats, "running": clock.running} if clock \
            else {}
        return {**lead, **self.sync.summary()}

    def _loop(self) -> None:
        cfg = self.cfg
        # The display thread must get the GIL back quickly from the inference thread's Python
        # (conductor, op dispatch); the default 5 ms switch interval shows up as frame jitter.
        sys.setswitchinterval(float(os.environ.get("LIVEGAN_SWITCH_INTERVAL", "0.001")))
        surface, display = self.surface, self.display
        start = time.perf_counter()
        self.looping = True
        soft_pace = surface.headless is False and os.environ.get("LIVEGAN_NO_SOFT_PACE") is None
        last_swap = start
        onsets_seen = 0
        next_preview = start
        while not self._quit and not surface.should_close():
            now = time.perf_counter()
            if cfg.duration is not None and now - start >= cfg.duration:
                break
            surface.poll()
            self.show.serve(now)
            self.compositor.effects.poll_reload()
            self.watchdog.check(now)
            display.take(self.frames, now)
            feat = self.features.peek()[0] or FeatureFrame.rest()
            n_on = self.analysis.onset_count
            fired, onsets_seen = n_on != onsets_seen, n_on
            snap = self.registry.peek()
            rec = display.draw(now, feat, fired, snap.values, snap.seq, self.ring.write_pos)
            keep = self.recorder is not None and self.recorder.wants_thumbnail(self.audio_now())
            preview = cfg.preview_hz > 0 and now >= next_preview
            thumb = display.thumbnail() if keep or preview else None  # GL reads stay on this thread
            if self.recorder is not None:
                self.recorder.write_display(rec, thumb if keep else None)
            if preview:
                self.previews.put(thumb)
                next_preview = now + 1.0 / cfg.preview_hz
            if self.outputs:
                self.outputs.offer(display.picture_fbo(), surface.size, int(rec["pos"][0]) / self.sample_rate,
                                   self.frames_drawn)
            if self.hud.visible:
                self.last_hud = self._hud_state(feat, snap.values)
                self.hud.draw(surface.fbo, surface.size, self.last_hud)
            if self.capture_requested:
                self.captured, self.capture_requested = surface.read(), False
            self.stats.draw_ms.append((time.perf_counter() - now) * 1000.0)
            if soft_pace:
                # A window whose swap does not block (no vsync, e.g. Xvfb) is rate-limited by hand,
                # a little short of the refresh so that with vsync the swap still meets its vblank.
                wait = last_swap + 0.9 / surface.refresh_hz - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            surface.swap()
            t_swap = last_swap = time.perf_counter()
            self.stats.on_swap(t_swap)
            d = display.state
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
        self.stats.dropped_model_frames = display.dropped_model_frames

    def _hud_state(self, feat: FeatureFrame, values) -> HudState:
        osc = None
        if self.osc_activity is not None:
            try:
                osc = self.osc_activity()
            except Exception:  # the hook is someone else's: never let it break the frame
                osc = "?"
        return hud_state(stats=self.stats.recent(), feat=feat, values=values, onset=self.display.state.onset_env,
                         preset=self.preset_name, waiting=self.show.waiting, notice=self.show.message,
                         model=f"{self.model_name} {self.torch_device}", osc=osc, audio=self.source.status,
                         shader_errors=self.compositor.effects.errors.values(),
                         model_error=self.watchdog.thread.error, watchdog=self.watchdog.message,
                         recording=self.recorder is not None,
                         rig=(self.sync.status(self.clocks.peek()[0]) if self.sync else []) + self.outputs.status())
