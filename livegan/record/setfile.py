"""The recorded-set format: what ``livegan live --record SET`` writes and ``render --replay`` reads.

A set is a folder:

- ``set.json``: format and version, the session spec (model, preset, seed, sizes, shader
  folder), sample rate, the display's output size and refresh, the values at the start,
  and whether the recording completed;
- ``audio.wav``: the audio exactly as the analyzer received it, before the input gain
  (float32, RF64 so long sets fit);
- ``analysis.jsonl``: where the input gain changed and where the analysis skipped stale
  audio (``{"pos", "gain", "offset"}`` rows: from analyzer sample ``pos`` on, blocks were
  scaled by ``gain`` and their features stamped ``offset`` samples later on the live clock);
- ``changes.jsonl``: every parameter change and trigger with the time of the first
  conductor tick that saw it, and its registry sequence number;
- ``ticks.bin``: every conductor tick: audio time, newest sample heard, the model frame
  it rendered (-1 when none, e.g. frozen) (``TICK_DTYPE``);
- ``models.jsonl``: hot model swaps (``{"tick", "spec"}``: the model that rendered from
  that tick on);
- ``display.bin``: every displayed frame: the audio position, the model frames it showed,
  its effect uniforms, the registry sequence its values were read at, its size and where
  its thumbnail is (``DISPLAY_DTYPE``);
- ``thumbs.u8``: thumbnails of what the audience saw (RGB, ``THUMB_WIDTH`` wide), read
  back from the live post-effects framebuffer;
- ``clock.bin`` (version 3, a show led by Link or MIDI clock): for every tick, what the
  external clock said (``CLOCK_DTYPE``; ``lead`` 0 when none led), so a replay follows the
  same tempo and phase without the network.

Times are seconds on the live audio clock, from the first sample the analyzer heard.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LiveganError
from ..params.registry import ParamChange

log = logging.getLogger("livegan.record")

SET_FORMAT = "livegan-set"
SET_VERSION = 3  # 3: clock.bin (only sets with an external clock are written as 3)

TICK_DTYPE = np.dtype([("t", "<f8"), ("pos", "<i8"), ("frame", "<i8")])
DISPLAY_DTYPE = np.dtype([
    ("pos", "<i8"),  # live audio position (ring samples) when the frame was drawn
    ("cur", "<i8"), ("prev", "<i8"),  # model frames in the newest / previous texture (-1: none)
    ("mix", "<f8"),  # the crossfade position (u_frame_mix)
    ("time", "<f8"), ("onset", "<f8"), ("rms", "<f8"), ("flux", "<f8"), ("bands", "<f8", (4,)),
    ("beat_phase", "<f8"),  # the rest of FrameUniforms
    ("seq", "<i8"),  # registry sequence number of the values it was drawn with
    ("w", "<i4"), ("h", "<i4"),  # output size
    ("thumb", "<i8"),  # byte offset of its thumbnail in thumbs.u8, -1 when none was kept
])

CLOCK_DTYPE = np.dtype([
    ("lead", "u1"),  # 1 when an external clock led this tick, 0 when the beat clock's own sources did
    ("bpm", "<f8"), ("beats", "<f8"),  # its reading (beats NaN: a tempo without a position)
    ("playing", "u1"), ("source", "S8"),  # link, midi
    ("host", "<f8"),  # when it was read, on the leader's clock (Link's host clock, s): for checks and benchmarks
])


@dataclass(frozen=True)
class AnalysisSegment:
    pos: int  # analyzer sample position where it begins
    gain: float
    offset: int  # live clock position minus analyzer position


@dataclass(frozen=True)
class RecordedSet:
    path: Path
    audio: Any  # livegan.audio.io.AudioClip
    initial: dict[str, Any]
    changes: tuple[ParamChange, ...]  # audio_time: the tick that first saw it
    meta: dict[str, Any] = field(default_factory=dict)
    ticks: np.ndarray = field(default_factory=lambda: np.zeros(0, TICK_DTYPE))
    display: np.ndarray = field(default_factory=lambda: np.zeros(0, DISPLAY_DTYPE))
    segments: tuple[AnalysisSegment, ...] = ()
    models: tuple[tuple[int, str], ...] = ()  # (tick index, model spec)
    complete: bool = True
    clock: np.ndarray | None = None  # CLOCK_DTYPE, one row per tick (None: no external clock was recorded)

    @property
    def sample_rate(self) -> int:
        return int(self.audio.sample_rate)

    def thumbnail(self, row) -> np.ndarray | None:
        """The stored thumbnail of one display record, [h, w, 3] uint8 (None when none was kept)."""
        off = int(row["thumb"])
        if off < 0:
            return None
        from ..gl.compositor import thumb_size  # noqa: PLC0415

        tw, th = thumb_size((int(row["w"]), int(row["h"])))
        data = np.fromfile(self.path / "thumbs.u8", dtype=np.uint8, count=tw * th * 3, offset=off)
        return data.reshape(th, tw, 3) if data.size == tw * th * 3 else None


def _jsonl(path: Path, kind: str) -> list[tuple[int, dict]]:
    rows = []
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise LiveganError(f"{path}:{n}: bad {kind} record (not JSON)") from None
            if not isinstance(row, dict):
                raise LiveganError(f"{path}:{n}: bad {kind} record (not a JSON object)")
            rows.append((n, row))
    return rows


def _records(path: Path, dtype: np.dtype) -> np.ndarray:
    if not path.is_file():
        return np.zeros(0, dtype)
    raw = np.fromfile(path, dtype=np.uint8)
    n = len(raw) // dtype.itemsize  # a record cut short by a crash is dropped
    return raw[:n * dtype.itemsize].view(dtype).copy()


def load_set(path: str | Path) -> RecordedSet:
    """Read a set folder; every problem is a one-line LiveganError naming the file (and line)."""
    from ..audio.io import load_audio  # noqa: PLC0415

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
    for n, row in _jsonl(cpath, "change"):
        try:
            changes.append(ParamChange(str(row["name"]), row.get("value"), float(row["t"]),
                                       str(row.get("source", "")), int(row.get("seq", 0))))
        except (ValueError, KeyError, TypeError) as exc:
            raise LiveganError(f"{cpath}:{n}: bad change record ({exc.__class__.__name__})") from None
    changes.sort(key=lambda c: (c.audio_time, c.seq))
    segments = []
    apath = d / "analysis.jsonl"
    for n, row in _jsonl(apath, "analysis"):
        try:
            segments.append(AnalysisSegment(int(row["pos"]), float(row["gain"]), int(row["offset"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise LiveganError(f"{apath}:{n}: bad analysis record ({exc.__class__.__name__})") from None
    models = []
    mpath = d / "models.jsonl"
    for n, row in _jsonl(mpath, "model"):
        try:
            models.append((int(row["tick"]), str(row["spec"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise LiveganError(f"{mpath}:{n}: bad model record ({exc.__class__.__name__})") from None
    ticks = _records(d / "ticks.bin", TICK_DTYPE)
    if not len(ticks) and (d / "ticks.f64").is_file():  # version 1: tick times only
        times = np.fromfile(d / "ticks.f64", dtype="<f8")
        ticks = np.zeros(len(times), TICK_DTYPE)
        ticks["t"] = times
        ticks["pos"] = np.round(times * float(meta.get("sample_rate", 48000))).astype(np.int64)
        ticks["frame"] = -1
    clip = load_audio(d / "audio.wav")
    if not meta.get("complete", False):
        log.warning("%s: the set is incomplete (the recorder fell behind or did not stop cleanly)", d)
    clock = _records(d / "clock.bin", CLOCK_DTYPE)[:len(ticks)] if meta.get("clock") else None
    if clock is not None and len(clock) < len(ticks):
        raise LiveganError(f"{d / 'clock.bin'}: {len(clock)} clock rows for {len(ticks)} ticks")
    return RecordedSet(d, clip, dict(meta["initial"]), tuple(changes), meta, ticks,
                       _records(d / "display.bin", DISPLAY_DTYPE), tuple(segments), tuple(models),
                       bool(meta.get("complete", False)), clock)
