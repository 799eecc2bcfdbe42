"""Inference watchdog: a stalled model never takes the picture down.

The display thread never waits on inference, so during a stall it keeps drawing the
last model frame through the effect chain by itself. What it needs from the watchdog is
a HUD line saying so, and a fresh inference thread once the stall passes a limit. A
Python thread cannot be killed: the stuck one is told to stop and cut loose (its late
picture, if it ever returns, is thrown away), and a new thread takes over the same
renderer slot. ``check`` runs on the display thread once per tick and is cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger("livegan.live.watchdog")


class Abandoned(Exception):
    """Raised in a render call that the watchdog gave up on, so its picture is dropped."""


class StallGuard:
    """Wraps the renderer: knows whether a render is running and since when.

    Its ``renderer`` attribute is the slot a model hot swap assigns to.
    """

    def __init__(self, renderer) -> None:
        self.renderer = renderer
        self.busy_since: float | None = None
        self.completed = 0  # renders finished (by threads the watchdog still trusts)
        self.typical_s = 0.0  # running mean of render times: a slow model is not a stalled one
        self._epoch = 0
        self._lock = threading.Lock()

    def render(self, renderer, groove):
        """Run ``renderer`` (the slot's, as the caller read it) on one groove."""
        with self._lock:
            epoch = self._epoch
            start = self.busy_since = time.perf_counter()
        try:
            out = renderer.render(groove)
        finally:
            with self._lock:
                if epoch == self._epoch:
                    self.busy_since = None
        with self._lock:
            if epoch != self._epoch:
                raise Abandoned("render finished after the watchdog restarted inference")
            took = time.perf_counter() - start
            self.typical_s = took if self.completed == 0 else 0.9 * self.typical_s + 0.1 * took
            self.completed += 1
        return out

    def abandon(self) -> None:
        """Cut loose whatever render is running now."""
        with self._lock:
            self._epoch += 1
            self.busy_since = None


class InferenceWatchdog:
    """Starts the inference thread and restarts it when one render runs past ``limit_s``.

    ``make_thread(renderer)`` builds an unstarted worker (``InferenceThread``) around the
    renderer it is given. ``max_stuck`` bounds how many abandoned threads may still be
    hanging before the watchdog stops adding more (the HUD then says inference is hung).
    """

    def __init__(self, make_thread: Callable[[object], object], renderer, limit_s: float = 2.0,
                 max_stuck: int = 3, clock: Callable[[], float] = time.perf_counter,
                 first_limit_s: float = 120.0) -> None:
        if limit_s <= 0:
            raise ValueError("limit_s must be positive")
        self.make_thread = make_thread
        self.guard = StallGuard(renderer)
        self.limit_s = limit_s
        # The first frame may compile kernels or capture CUDA graphs for a minute: not a stall.
        self.first_limit_s = first_limit_s
        self.max_stuck = max_stuck
        self.clock = clock
        self.thread = None
        self.restarts = 0
        self.stalls = 0
        self.message = ""  # for the HUD; empty while inference is healthy
        self._abandoned: list = []
        self._completed_at_restart = 0

    def start(self) -> "InferenceWatchdog":
        self.thread = self.make_thread(self.guard).start()
        return self

    def stop(self) -> None:
        for th in self._abandoned:
            th._stop.set()  # they exit when (if) their render returns; daemons, never joined
        if self.thread is not None:
            self.thread.stop()

    def stuck_threads(self) -> int:
        self._abandoned = [t for t in self._abandoned if t._thread.is_alive()]
        return len(self._abandoned)

    def check(self, now: float | None = None) -> bool:
        """Call once per display tick. True when the inference thread was replaced."""
        busy = self.guard.busy_since
        now = self.clock() if now is None else now
        limit = self.limit_s if self.guard.completed else self.first_limit_s
        limit = max(limit, 4.0 * self.guard.typical_s)  # a model slower than the limit is still running
        if busy is None or now - busy <= limit:
            if self.message and self.guard.completed > self._completed_at_restart:
                log.info("inference resumed after a stall")
                self.message = ""
            return False
        stalled = now - busy
        if self.stuck_threads() >= self.max_stuck:
            self.message = f"INFERENCE HUNG {stalled:.0f} S: SHOWING THE LAST FRAME"
            return False
        self.stalls += 1
        old = self.thread
        old._stop.set()
        self.guard.abandon()
        self._abandoned.append(old)
        self.thread = self.make_thread(self.guard).start()
        self.restarts += 1
        self._completed_at_restart = self.guard.completed
        self.message = f"INFERENCE STALLED {stalled:.1f} S: SHOWING THE LAST FRAME, RESTARTED"
        log.error("inference stalled %.1f s (limit %.1f s): showing the last frame, inference restarted",
                  stalled, limit)
        return True
