"""Set recording: a live show kept so that ``livegan render --replay`` re-renders it frame for frame.

``SetRecorder`` writes the folder described in ``setfile.py``. Times are the live audio
clock (seconds from the first sample the analyzer heard). A change's time is the time of
the first conductor tick whose snapshot contained it, when the live loop reports its
snapshots (``mark_tick``), so applying every change with ``t <= tick time`` before that
tick's snapshot (``SetReplayer``) reproduces the live snapshots exactly. Without
``mark_tick`` the registry's own audio-time stamps are used.

Nothing here blocks the caller: audio, changes, ticks and display records go through a
queue to a writer thread. If the writer falls behind by ``max_queue`` items the set is
marked incomplete.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from ..errors import LiveganError
from ..params.registry import ParamChange, ParamRegistry, Snapshot
from .setfile import CLOCK_DTYPE, DISPLAY_DTYPE, SET_FORMAT, SET_VERSION, TICK_DTYPE

log = logging.getLogger("livegan.recording")

_STOP = object()
THUMB_DENSE_S = 60.0  # every displayed frame's thumbnail for the first minute,
THUMB_RATE_HZ = 2.0  # then this many a second,
THUMB_MAX_BYTES = 512 * 2**20  # and none past this size: a long set stays bounded


def _jsonable(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return str(v)


class SetRecorder:
    """Records audio blocks and registry changes into a set folder.

    ``origin`` is the audio time of the first sample passed to ``write_audio`` (default:
    the registry's clock at ``start``). With ``frame_stamps`` the live loop must call
    ``mark_tick(snapshot, t)`` after taking each frame's snapshot; with ``clock`` too, each
    tick's external clock reading goes to ``clock.bin``.
    """

    def __init__(self, registry: ParamRegistry, directory: str | Path, sample_rate: int, channels: int,
                 origin: float | None = None, frame_stamps: bool = False, max_queue: int = 8192,
                 meta: dict[str, Any] | None = None, clock: bool = False) -> None:
        self.registry = registry
        self.directory = Path(directory)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._origin_arg = origin
        self.origin = 0.0
        self.frames_written = 0
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._pending: list[ParamChange] = []  # seen by the registry, not yet by a frame
        self._tick_mode = frame_stamps  # the live loop will call mark_tick for every frame
        self._initial_seq = 0
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._meta: dict[str, Any] = {}
        self._extra_meta = dict(meta or {})  # the session spec, output size, refresh (set.json)
        self._clock = clock
        self._segment: tuple[float, int] | None = None  # (gain, offset) of the last audio block
        self._fed = 0  # analyzer samples written so far
        self._thumb_bytes = 0
        self._next_thumb = 0.0
        self.ticks = 0

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> "SetRecorder":
        d = self.directory
        if d.exists() and any(d.iterdir()):
            raise LiveganError(f"--record {d}: the folder exists and is not empty (choose a new name)")
        try:
            d.mkdir(parents=True, exist_ok=True)
            self._audio = sf.SoundFile(str(d / "audio.wav"), "w", self.sample_rate, self.channels,
                                       subtype="FLOAT", format="RF64")
        except (OSError, RuntimeError) as exc:
            raise LiveganError(f"--record {d}: cannot write the set ({exc})") from None
        self._files = {name: open(d / name, mode, **({"encoding": "utf-8"} if mode == "w" else {}))
                       for name, mode in (("changes.jsonl", "w"), ("analysis.jsonl", "w"), ("models.jsonl", "w"),
                                          ("ticks.bin", "wb"), ("display.bin", "wb"), ("thumbs.u8", "wb"),
                                          ("clock.bin", "wb"))}
        # Subscribe first, then read the start values: a change in between is in both and is
        # dropped from the log by its sequence number.
        self._unsubscribe = self.registry.subscribe(self._on_change)
        snap = self.registry.peek()
        self._initial_seq = snap.seq
        self.origin = self.registry.clock() if self._origin_arg is None else float(self._origin_arg)
        self._meta = {"format": SET_FORMAT, "version": SET_VERSION if self._clock else 2, "clock": self._clock,
                      "sample_rate": self.sample_rate,
                      "channels": self.channels, "origin": self.origin, "created": time.time(),
                      "initial": {k: _jsonable(v) for k, v in snap.values.items() if not self._readonly(k)},
                      "complete": False,
                      **self._extra_meta}
        self._write_meta()
        self._thread = threading.Thread(target=self._writer, name="livegan-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Path:
        """Flush everything, close the files and mark the set complete (unless blocks were dropped)."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            rest, self._pending = self._pending, []
        for ch in rest:  # changes no frame saw: keep them at their own audio time
            self._put(("change", self._row(ch, ch.audio_time - self.origin)), block=True)
        if self._thread:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._audio.close()
            for f in self._files.values():
                f.close()
            self._meta.update(complete=self.dropped == 0, dropped=self.dropped, frames=self.frames_written)
            self._write_meta()
        return self.directory

    def __enter__(self) -> "SetRecorder":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _write_meta(self) -> None:
        tmp = self.directory / "set.json.tmp"
        tmp.write_text(json.dumps(self._meta, indent=1))
        tmp.replace(self.directory / "set.json")

    # ---- inputs (any thread, never blocking) -----------------------------------------
    def _put(self, item: Any, block: bool = False) -> None:
        try:
            self._queue.put(item, block=block)
        except queue.Full:
            self.dropped += 1

    def write_audio(self, block: np.ndarray, gain: float = 1.0, offset: int = 0) -> None:
        """Append a block ``[frames, channels]`` as the analyzer got it before the input gain
        (copied; the analysis thread calls this), with the gain it was scaled by and the
        live clock offset its features were stamped with."""
        data = np.array(block, dtype=np.float32, copy=True).reshape(-1, self.channels)
        if self._segment != (gain, offset):
            self._segment = (gain, offset)
            self._put(("analysis", {"pos": self._fed, "gain": float(gain), "offset": int(offset)}))
        self._fed += len(data)
        self._put(("audio", data))

    def _readonly(self, name: str) -> bool:
        """What the show writes itself (the beat clock's reading): a replay makes it anew."""
        return name in self.registry and self.registry.spec(name).readonly

    def _on_change(self, change: ParamChange) -> None:
        if change.seq <= self._initial_seq or self._readonly(change.name):
            return
        if self._tick_mode:
            with self._lock:
                self._pending.append(change)
        else:
            self._put(("change", self._row(change, change.audio_time - self.origin)))

    def mark_tick(self, snapshot: Snapshot, t: float, pos: int | None = None, frame: int = -1,
                  model: str | None = None, external: Any = None) -> None:
        """The conductor took ``snapshot`` for the tick at audio time ``t`` (newest sample ``pos``),
        which rendered model frame ``frame`` (-1: none), with ``model`` when it changed, led by
        the ``external`` clock reading (``livegan.clock.ExternalTempo``, None: none led)."""
        rel = t - self.origin
        with self._lock:
            seen = [c for c in self._pending if c.seq <= snapshot.seq]
            self._pending = [c for c in self._pending if c.seq > snapshot.seq]
        for ch in seen:
            self._put(("change", self._row(ch, rel)))
        if model is not None:
            self._put(("model", {"tick": self.ticks, "spec": model}))
        rec = np.zeros(1, TICK_DTYPE)
        rec["t"], rec["pos"], rec["frame"] = rel, round(t * self.sample_rate) if pos is None else pos, frame
        self._put(("tick", rec))
        if self._clock:
            row = np.zeros(1, CLOCK_DTYPE)
            if external is not None:
                row["lead"], row["bpm"], row["playing"] = 1, external.bpm, external.playing
                row["beats"] = np.nan if external.beats is None else external.beats
                row["source"], row["host"] = external.source.encode("ascii", "replace")[:8], external.host
            self._put(("clock", row))
        self.ticks += 1

    # ---- the display thread --------------------------------------------------------------
    def wants_thumbnail(self, t: float) -> bool:
        """Whether the frame displayed at audio time ``t`` should keep a thumbnail."""
        rel = t - self.origin
        if self._thumb_bytes >= THUMB_MAX_BYTES:
            return False
        if rel < THUMB_DENSE_S or rel >= self._next_thumb:
            self._next_thumb = max(rel, THUMB_DENSE_S) + 1.0 / THUMB_RATE_HZ
            return True
        return False

    def write_display(self, record: np.ndarray, thumb: np.ndarray | None) -> None:
        """One displayed frame (a ``DISPLAY_DTYPE`` record) and its thumbnail, if kept."""
        rec = np.array(record, dtype=DISPLAY_DTYPE).reshape(1)
        rec["thumb"] = -1
        if thumb is not None:
            rec["thumb"] = self._thumb_bytes
            self._thumb_bytes += thumb.size
            self._put(("thumb", np.ascontiguousarray(thumb, np.uint8)))
        self._put(("display", rec))

    @staticmethod
    def _row(ch: ParamChange, t: float) -> dict[str, Any]:
        return {"t": t, "name": ch.name, "value": _jsonable(ch.value), "source": ch.source, "seq": ch.seq}

    # ---- the writer thread -----------------------------------------------------------
    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            kind, payload = item
            try:
                if kind == "audio":
                    self._audio.write(payload)
                    self.frames_written += len(payload)
                elif kind in ("change", "analysis", "model"):
                    self._files[{"change": "changes.jsonl", "analysis": "analysis.jsonl",
                                 "model": "models.jsonl"}[kind]].write(json.dumps(payload) + "\n")
                else:
                    self._files[{"tick": "ticks.bin", "display": "display.bin", "thumb": "thumbs.u8",
                                 "clock": "clock.bin"}[kind]].write(
                        payload.tobytes())
            except Exception:  # a full disk must not take the show down; the set is incomplete
                self.dropped += 1
                log.exception("recorder: write failed")
