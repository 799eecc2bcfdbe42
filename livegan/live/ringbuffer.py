"""A fixed-size audio ring: the audio callback writes, the analysis thread reads.

Positions are absolute sample counts since the source started, so a reader that falls
behind by more than the capacity simply skips to the oldest sample still held (stale
audio is dropped, never queued). Every write also stamps when its block arrived, which
is what audio-to-photon latency is measured from.
"""

from __future__ import annotations

import bisect
import threading
import time

import numpy as np


class AudioRing:
    """Single-writer, single-reader ring of mono float32 samples with arrival stamps."""

    def __init__(self, capacity: int, sample_rate: int, max_stamps: int = 4096) -> None:
        if capacity <= 0:
            raise ValueError("ring capacity must be positive")
        self.capacity = int(capacity)
        self.sample_rate = int(sample_rate)
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._write_pos = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        # (end sample position, arrival time) of recent blocks, ascending.
        self._stamp_pos: list[int] = []
        self._stamp_time: list[float] = []
        self._max_stamps = max_stamps

    @property
    def write_pos(self) -> int:
        return self._write_pos

    def write(self, block: np.ndarray, arrival: float | None = None) -> None:
        """Append a block ([n] or [n, ch]; channels are averaged). Cheap: one copy, no allocation."""
        if block.ndim == 2:
            mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
        else:
            mono = block
        n = len(mono)
        if n == 0:
            return
        t = time.perf_counter() if arrival is None else arrival
        with self._lock:
            if n > self.capacity:
                mono = mono[-self.capacity:]
                skipped = n - self.capacity
                self._write_pos += skipped
                n = self.capacity
            start = self._write_pos % self.capacity
            first = min(n, self.capacity - start)
            self._buf[start:start + first] = mono[:first]
            if first < n:
                self._buf[: n - first] = mono[first:]
            self._write_pos += n
            self._stamp_pos.append(self._write_pos)
            self._stamp_time.append(t)
            if len(self._stamp_pos) > self._max_stamps:
                drop = len(self._stamp_pos) - self._max_stamps // 2
                del self._stamp_pos[:drop], self._stamp_time[:drop]
            self._ready.notify_all()

    def read_from(self, pos: int, max_samples: int | None = None) -> tuple[np.ndarray, int]:
        """Samples from ``pos`` up to the newest; returns (samples, start position).

        If ``pos`` is older than what the ring holds, reading starts at the oldest held
        sample. ``max_samples`` keeps only the newest samples (a reader that lags drops audio).
        """
        with self._lock:
            end = self._write_pos
            start = max(pos, end - self.capacity, 0)
            if max_samples is not None:
                start = max(start, end - max_samples)
            n = end - start
            if n <= 0:
                return np.zeros(0, dtype=np.float32), end
            i = start % self.capacity
            if i + n <= self.capacity:
                out = self._buf[i:i + n].copy()
            else:
                k = self.capacity - i
                out = np.concatenate([self._buf[i:], self._buf[: n - k]])
            return out, start

    def wait_for(self, pos: int, timeout: float) -> bool:
        """Block until samples past ``pos`` exist (or the timeout ends); True if there are some."""
        with self._lock:
            return self._ready.wait_for(lambda: self._write_pos > pos, timeout)

    def arrival_time(self, sample_pos: int) -> float | None:
        """When the block holding the sample just before ``sample_pos`` arrived (None if forgotten)."""
        with self._lock:
            i = bisect.bisect_left(self._stamp_pos, sample_pos)
            if i >= len(self._stamp_pos) or (i == 0 and sample_pos <= 0):
                return None
            return self._stamp_time[i]
