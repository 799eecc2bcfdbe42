"""Set recording and replay: a live show, re-rendered offline frame for frame.

``livegan live --record SET`` keeps, in the folder ``SET``:

- ``audio.wav``: the input audio exactly as analysed (float32, RF64 so long sets fit);
- ``changes.jsonl``: every parameter change and trigger, one JSON object a line;
- ``ticks.f64``: the audio time of every frame the live conductor produced (float64 LE);
- ``set.json``: sample rate, channels, the values at the start, and whether it is complete.

Times are seconds from the first recorded sample. A change's time ``t`` is the time of
the first frame whose snapshot contained it when the live loop reports its snapshots
(``mark_tick``), so applying every change with ``t <= frame time`` before that frame's
snapshot (``SetReplayer.advance``) reproduces the live snapshots exactly. Without
``mark_tick`` the registry's own audio-time stamps are used.

Nothing here blocks the caller: audio blocks and changes go through a queue to a writer
thread. If the writer falls behind by ``max_queue`` items the set is marked incomplete.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from ..errors import LiveganError
from ..params.registry import ParamChange, ParamRegistry, Snapshot

log = logging.getLogger("livegan.recording")

SET_FORMAT = "livegan-set"
SET_VERSION = 1
_STOP = object()


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
    ``mark_tick(snapshot, t)`` after taking each frame's snapshot.
    """

    def __init__(self, registry: ParamRegistry, directory: str | Path, sample_rate: int, channels: int,
                 origin: float | None = None, frame_stamps: bool = False, max_queue: int = 8192) -> None:
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
        self._changes = open(d / "changes.jsonl", "w", encoding="utf-8")
        self._ticks = open(d / "ticks.f64", "wb")
        # Subscribe first, then read the start values: a change in between is in both and is
        # dropped from the log by its sequence number.
        self._unsubscribe = self.registry.subscribe(self._on_change)
        snap = self.registry.peek()
        self._initial_seq = snap.seq
        self.origin = self.registry.clock() if self._origin_arg is None else float(self._origin_arg)
        self._meta = {"format": SET_FORMAT, "version": SET_VERSION, "sample_rate": self.sample_rate,
                      "channels": self.channels, "origin": self.origin, "created": time.time(),
                      "initial": {k: _jsonable(v) for k, v in snap.values.items()}, "complete": False}
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
            self._changes.close()
            self._ticks.close()
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

    def write_audio(self, block: np.ndarray) -> None:
        """Append an input block ``[frames, channels]`` (copied; call from the audio path)."""
        self._put(("audio", np.array(block, dtype=np.float32, copy=True).reshape(-1, self.channels)))

    def _on_change(self, change: ParamChange) -> None:
        if change.seq <= self._initial_seq:
            return
        if self._tick_mode:
            with self._lock:
                self._pending.append(change)
        else:
            self._put(("change", self._row(change, change.audio_time - self.origin)))

    def mark_tick(self, snapshot: Snapshot, t: float) -> None:
        """The live loop took ``snapshot`` for the frame at audio time ``t``: stamp what it saw."""
        rel = t - self.origin
        with self._lock:
            seen = [c for c in self._pending if c.seq <= snapshot.seq]
            self._pending = [c for c in self._pending if c.seq > snapshot.seq]
        for ch in seen:
            self._put(("change", self._row(ch, rel)))
        self._put(("tick", rel))

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
                elif kind == "change":
                    self._changes.write(json.dumps(payload) + "\n")
                else:
                    self._ticks.write(np.float64(payload).tobytes())
            except Exception:  # a full disk must not take the show down; the set is incomplete
                self.dropped += 1
                log.exception("recorder: write failed")


# ---- loading and replaying --------------------------------------------------------------

@dataclass(frozen=True)
class RecordedSet:
    path: Path
    audio: Any  # livegan.audio.io.AudioClip
    initial: dict[str, Any]
    changes: tuple[ParamChange, ...]  # audio_time: seconds from the set's first sample
    ticks: np.ndarray = field(default_factory=lambda: np.zeros(0))  # frame times of the live run (s)
    complete: bool = True


def load_set(path: str | Path) -> RecordedSet:
    """Read a set folder; every problem is a one-line LiveganError naming the file (and line)."""
    from ..audio.io import load_audio

    d = Path(path)
    meta_path = d / "set.json"
    if not meta_path.is_file():
        raise LiveganError(f"--replay {d}: not a recorded set (no set.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LiveganError(f"{meta_path}: cannot read ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != SET_FORMAT or not isinstance(meta.get("initial"), dict):
        raise LiveganError(f"{meta_path}: not a livegan set description")
    if meta.get("version", 0) > SET_VERSION:
        raise LiveganError(f"{meta_path}: set version {meta.get('version')} is newer than this livegan reads")
    changes: list[ParamChange] = []
    cpath = d / "changes.jsonl"
    if cpath.is_file():
        for n, line in enumerate(cpath.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                changes.append(ParamChange(str(row["name"]), row.get("value"), float(row["t"]),
                                           str(row.get("source", "")), int(row.get("seq", 0))))
            except (ValueError, KeyError, TypeError) as exc:
                raise LiveganError(f"{cpath}:{n}: bad change record ({exc.__class__.__name__})") from None
    changes.sort(key=lambda c: (c.audio_time, c.seq))
    tpath = d / "ticks.f64"
    ticks = np.fromfile(tpath, dtype="<f8") if tpath.is_file() else np.zeros(0)
    clip = load_audio(d / "audio.wav")
    if not meta.get("complete", False):
        log.warning("%s: the set is incomplete (the recorder fell behind or did not stop cleanly)", d)
    return RecordedSet(d, clip, dict(meta["initial"]), tuple(changes), ticks, bool(meta.get("complete", False)))


def apply_changes_until(registry: ParamRegistry, changes: tuple[ParamChange, ...], t: float,
                        cursor: int = 0, skipped: set[str] | None = None) -> int:
    """Apply ``changes[cursor:]`` with time ``<= t`` in order; return the new cursor."""
    n = len(changes)
    while cursor < n and changes[cursor].audio_time <= t:
        ch = changes[cursor]
        cursor += 1
        if ch.name not in registry:
            if skipped is not None and ch.name not in skipped:
                skipped.add(ch.name)
                log.warning("replay: %s is not declared here; its changes are skipped", ch.name)
            continue
        registry.set(ch.name, ch.value, source=ch.source or "replay", audio_time=ch.audio_time)
    return cursor


class SetReplayer:
    """Feeds a recorded set's parameter changes into a registry as offline time advances.

    Use ``advance`` as the offline renderer's ``on_time`` hook: it runs before each
    frame's snapshot. The first call restores the values the set started with (after
    whatever preset the renderer applied).
    """

    def __init__(self, recorded: RecordedSet, registry: ParamRegistry) -> None:
        self.recorded = recorded
        self.registry = registry
        self.cursor = 0
        self.skipped: set[str] = set()
        self._started = False

    def reset(self) -> None:
        initial = {k: v for k, v in self.recorded.initial.items()
                   if k in self.registry and self.registry.spec(k).type != "trigger"}
        self.skipped.update(k for k in self.recorded.initial if k not in self.registry)
        self.registry.update(initial, source="replay")
        self.registry.snapshot()  # drop triggers fired before the set began
        self.cursor = 0
        self._started = True

    def advance(self, t: float) -> None:
        if not self._started:
            self.reset()
        self.cursor = apply_changes_until(self.registry, self.recorded.changes, t, self.cursor, self.skipped)


def replay_setup(path: str | Path) -> tuple[Any, ParamRegistry, Callable[[float], None]]:
    """What ``livegan render --replay SET`` needs: the audio, a registry, and the on_time hook."""
    from ..params.definitions import make_registry
    from .triggers import declare_actions

    recorded = load_set(path)
    registry = make_registry()
    declare_actions(registry)
    return recorded.audio, registry, SetReplayer(recorded, registry).advance
