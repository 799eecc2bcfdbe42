"""Feedback: the music as livegan hears it, read off the show at a fixed rate.

``FeedbackPump`` is one thread. Every ``1 / rate_hz`` seconds it reads the show's feature
feed and beat clock (``FeatureReader``), publishes the effective tempo and its source as
the read-only parameters ``clock/bpm`` and ``clock/source``, and hands the
``/livegan/out/...`` messages to its sinks (OSC out, the WebSocket's listeners). Levels are
the newest values; events (onset, beat, bar, drop, section) that happened since the last
read go out once each.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Callable

from ..audio.features import BAND_NAMES, Clock, FeatureFrame
from ..live.latest import Latest
from ..params.registry import ParamRegistry
from .feature_out import OUT_PREFIX, OUTPUT_BY_ADDRESS

log = logging.getLogger("livegan.osc")

Message = tuple[str, tuple[Any, ...]]
Sink = Callable[[list[Message]], None]


def clock_source(clock: Clock, selection: str, manual_bpm: float, analysis_bpm: float) -> str:
    """What leads the clock: its own word when it says, else what the tempo settings imply."""
    if clock.bpm <= 0:
        return ""
    if clock.source:
        return clock.source
    if selection in ("tap", "manual"):
        return selection
    close = lambda a, b: b > 0 and abs(a - b) < 0.01  # noqa: E731 - the clock took this tempo as is
    if close(clock.bpm, analysis_bpm):
        return "analysis"
    return "manual" if close(clock.bpm, manual_bpm) else "tap"


class FeatureReader:
    """The show's feature feed and clock -> ``/livegan/out`` messages (one reader: it takes events)."""

    def __init__(self, registry: ParamRegistry, features: Latest[FeatureFrame], clocks: Latest[Clock],
                 audio_now: Callable[[], float]) -> None:
        self.registry = registry
        self.features = features  # a feed of its own: ``get`` takes its merged events
        self.clocks = clocks
        self.audio_now = audio_now
        self._frame = FeatureFrame.rest()
        self._version = 0
        self._beat: int | None = None
        self._bar: int | None = None

    def read(self) -> tuple[list[Message], float, str]:
        """(messages, bpm, source) as of now."""
        frame, version = self.features.get()
        new = frame is not None and version != self._version
        if frame is not None:
            self._frame, self._version = frame, version
        f = self._frame
        clock, _ = self.clocks.peek()
        if clock is not None and clock.bpm > 0:
            clock = clock.at(self.audio_now())
        else:
            clock = Clock()
        values = self.registry.peek().values
        source = clock_source(clock, str(values.get("tempo/source", "auto")), float(values.get("tempo/bpm", 0.0)),
                              float(f.tempo_bpm))
        beats = clock.beats if clock.bpm > 0 else 0.0
        out = OUT_PREFIX
        msgs: list[Message] = [
            (out + "/rms", (float(f.rms),)),
            (out + "/bands", tuple(float(b) for b in f.bands)),
            *((f"{out}/band/{n}", (float(b),)) for n, b in zip(BAND_NAMES, f.bands)),
            (out + "/flux", (float(f.flux),)),
            (out + "/centroid", (float(f.centroid),)),
            (out + "/build", (float(f.build),)),
            (out + "/beat_phase", (beats % 1.0,)),
            (out + "/bar_phase", ((beats % 4.0) / 4.0,)),
            (out + "/tempo/bpm", (float(clock.bpm),)),
            (out + "/tempo/source", (source,)),
        ]
        if new and f.onset:
            msgs.append((out + "/onset", (float(f.onset_strength) or 1.0,)))
        if new and f.drop:
            msgs.append((out + "/drop", (1,)))
        if new and f.section:
            msgs.append((out + "/section", (1,)))
        if clock.bpm > 0:
            beat, bar = math.floor(beats), math.floor(beats / 4.0)
            if self._beat is not None and beat > self._beat:
                msgs.append((out + "/beat", (beat % 4 + 1,)))
            if self._bar is not None and bar > self._bar:
                msgs.append((out + "/bar", (1,)))
            self._beat, self._bar = beat, bar
        return msgs, float(clock.bpm), source


class FeedbackPump:
    """Reads features ``rate_hz`` times a second and feeds the sinks; keeps the newest levels."""

    def __init__(self, reader: FeatureReader, rate_hz: float, sinks: list[Sink] | None = None) -> None:
        self.reader = reader
        self.rate_hz = rate_hz
        self.sinks: list[Sink] = list(sinks or [])
        self.sent = 0  # reads that reached the sinks
        self.cpu_s = 0.0  # CPU time its thread has used (benchmarks, the log at the end)
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[Any, ...]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def levels(self) -> dict[str, tuple[Any, ...]]:
        """The newest value of every level output (for OSCQuery's VALUE)."""
        with self._lock:
            return dict(self._levels)

    def tick(self) -> list[Message]:
        msgs, bpm, source = self.reader.read()
        reg = self.reader.registry
        # Rounded so a tempo that wobbles in its last digits does not stream parameter changes.
        reg.publish("clock/bpm", min(round(bpm, 2), reg.spec("clock/bpm").max or 1000.0))
        reg.publish("clock/source", source[:32])
        with self._lock:
            self._levels.update((a, args) for a, args in msgs if not OUTPUT_BY_ADDRESS[a].event)
        for sink in self.sinks:
            try:
                sink(msgs)
            except Exception:  # one broken sink must not silence the others
                log.exception("feedback sink")
        self.sent += 1
        return msgs

    def start(self) -> "FeedbackPump":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="livegan-feedback", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        period = 1.0 / self.rate_hz
        while not self._stop.wait(period):
            self.tick()
            self.cpu_s = time.thread_time()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2.0)
            self._thread = None
