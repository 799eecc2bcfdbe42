"""The analysis thread: ring buffer -> Analyzer (the same one ``render`` uses) -> latest features.

Only the newest FeatureFrame is published (latest wins); events (onsets, beats, drops,
per-band flux peaks) inside a batch of hops, or in a frame the reader never took, are
carried onto the published frame so a slow reader never misses a hit. Frame
positions are ring positions, so a frame always names the samples it heard even when
the thread had to skip stale audio.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from ..audio.features import FeatureFrame, merge_frames
from .latest import Latest
from .ringbuffer import AudioRing
from .worker import Worker


class AnalysisThread(Worker):
    def __init__(self, ring: AudioRing, analyzer, out: Latest[FeatureFrame],
                 gain=lambda: 1.0, max_lag_s: float = 0.25, tap=None,
                 feed: Latest[FeatureFrame] | None = None) -> None:
        self.ring = ring
        self.feed = feed  # a second slot, merged the same way, for a second reader (the control surface)
        self.tap = tap  # (block, gain, offset) for every block the analyzer hears (set recording)
        self.analyzer = analyzer
        self.out = out
        self.gain = gain
        self.max_lag = int(max_lag_s * ring.sample_rate)
        self.onsets: deque[int] = deque(maxlen=4096)  # ring positions of recent onset frames
        self.onset_count = 0  # all onsets so far
        self.skipped_samples = 0
        self.frames = 0
        super().__init__("analysis")

    def _run(self) -> None:
        pos = self.ring.write_pos
        fed = 0  # samples given to the analyzer so far (its own clock)
        rate = self.ring.sample_rate
        while not self._stop.is_set():
            if not self.ring.wait_for(pos, 0.05):
                continue
            block, start = self.ring.read_from(pos, self.max_lag)
            if start > pos:
                self.skipped_samples += start - pos
            pos = start + len(block)
            offset = start - fed  # ring position = analyzer position + offset
            fed += len(block)
            g = float(self.gain())
            if self.tap is not None:
                self.tap(block, g, offset)
            frames = self.analyzer.process(block * g if g != 1.0 else block)
            if not frames:
                continue
            self.frames += len(frames)
            onset_frames = [f for f in frames if f.onset]
            for f in onset_frames:
                self.onsets.append(f.sample_pos + offset)
            self.onset_count += len(onset_frames)
            # Several hops (and any frame the reader has not taken yet) become one frame:
            # levels from the newest, events from all, so a slow reader never misses a hit.
            last = merge_frames(frames)
            moved = dataclasses.replace(last, sample_pos=last.sample_pos + offset,
                                        time=(last.sample_pos + offset) / rate)
            self.out.put_merged(moved, _merge)
            if self.feed is not None:
                self.feed.put_merged(moved, _merge)


def _merge(old: FeatureFrame, new: FeatureFrame) -> FeatureFrame:
    return merge_frames([old, new])
