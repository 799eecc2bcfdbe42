"""Keep Python's cyclic garbage collector from pausing the show."""

from __future__ import annotations

import gc
import threading
import time


def freeze_startup_objects() -> int:
    """Collect once, then hide every object alive now from later collections.

    A full collection walks every tracked object. With torch, numpy and moderngl loaded that
    is ~170k objects and ~50 ms on a 2-core CPU, so one landing mid-set drops frames. What
    exists at start-up (modules, the model, shaders) lives for the whole show anyway; after
    ``gc.freeze`` a full collection only walks what the show made since (measured < 1 ms).
    Objects frozen here are still freed by reference counting, only cycles among them stay.
    Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class GcPauses:
    """Times every collection through ``gc.callbacks`` (for the soak and benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start: float | None = None
        self.count = [0, 0, 0]
        self.max_ms = [0.0, 0.0, 0.0]
        self.total_ms = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        if self._start is None:
            return
        ms = (time.perf_counter() - self._start) * 1000.0
        self._start = None
        gen = int(info.get("generation", 0))
        with self._lock:
            self.count[gen] += 1
            self.max_ms[gen] = max(self.max_ms[gen], ms)
            self.total_ms += ms

    def install(self) -> "GcPauses":
        gc.callbacks.append(self._callback)
        return self

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def to_dict(self) -> dict:
        with self._lock:
            return {"collections": list(self.count), "max_ms": [round(m, 2) for m in self.max_ms],
                    "total_ms": round(self.total_ms, 1)}
