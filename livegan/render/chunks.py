"""The pieces of an offline render that survive a crash, a kill or a full disk.

A render writes its video in chunks of a few seconds, each a complete MP4 of its own, in
a hidden folder next to the output (``.OUT.mp4.chunks/``) with the render's settings in
``render.json``. Only when every chunk is there are they joined (with the audio) into
OUT, and the folder is removed. ``--resume`` keeps every chunk that decodes to the right
number of frames and renders the rest; settings that differ from the interrupted render
are refused, so a resumed file is never a mix of two looks.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import av
import numpy as np

from ..errors import LiveganError
from .encoder import write_error

META_NAME = "render.json"


def work_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.chunks")


def chunk_ranges(n_frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges of the chunks, in order."""
    return [(a, min(a + chunk_frames, n_frames)) for a in range(0, n_frames, chunk_frames)]


def decoded_frames(path: Path) -> int | None:
    """How many frames ``path`` decodes to; None when it does not decode."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            return sum(1 for _ in c.decode(video=0))
    except (OSError, av.FFmpegError, ValueError, IndexError):
        return None


def _normal(meta: dict) -> dict:
    return json.loads(json.dumps(meta, sort_keys=True))


class ChunkStore:
    """The work folder of one render: ``prepare`` says where to start, ``clear`` removes it."""

    def __init__(self, out: str | Path, meta: dict, ranges: list[tuple[int, int]], resume: bool,
                 stateful: bool = False) -> None:
        self.out = Path(out)
        # Effects with memory (feedback trails) save their state after each chunk; a chunk
        # without its state cannot be resumed after, so it is rendered again.
        self.stateful = stateful
        self.dir = work_dir(self.out)
        self.meta = _normal(meta)
        self.ranges = ranges
        self.resume = resume

    def path(self, k: int) -> Path:
        return self.dir / f"chunk-{k:05d}.mp4"

    def paths(self) -> list[Path]:
        return [self.path(k) for k in range(len(self.ranges))]

    def prepare(self) -> int:
        """Create or check the folder; the index of the first chunk still to render."""
        if not self._open():
            return 0
        first = 0
        for k, (a, b) in enumerate(self.ranges):
            if decoded_frames(self.path(k)) != b - a or (self.stateful and not self.state_path(k).is_file()):
                break
            first = k + 1
        self._keep(range(first))
        return first

    def prepare_any(self) -> set[int]:
        """Like ``prepare`` for a render whose chunks finish in any order (a cluster): every
        chunk that decodes to its frames is kept, gaps or not. Whether a kept chunk also needs
        its effect state is the caller's to judge (``state_path``)."""
        if not self._open():
            return set()
        done = {k for k, (a, b) in enumerate(self.ranges) if decoded_frames(self.path(k)) == b - a}
        self._keep(done)
        return done

    def _open(self) -> bool:
        """Create the folder (False: a new render) or check an interrupted one's settings (True)."""
        if self.dir.exists() and not any(self.dir.glob("chunk-*.mp4")):
            self.clear()  # an attempt that failed before finishing any chunk: nothing to keep
        if not self.dir.exists():
            self._write_meta()
            return False
        changed = self._changed(self._read_meta())
        if not self.resume and changed:
            raise LiveganError(f"{self.out}: {self.dir} holds a stale partial render made with other settings "
                               f"({changed}); delete that folder to render with these settings")
        if not self.resume:
            raise LiveganError(f"{self.out}: an interrupted render left its finished chunks in {self.dir}; "
                               f"add --resume to continue it, or delete that folder to start over")
        if changed:
            raise LiveganError(f"--resume: the interrupted render of {self.out} used other settings "
                               f"({changed}); delete {self.dir} to start over")
        return True

    def _keep(self, chunks) -> None:
        """Remove everything but these chunks, their states and the settings (partial files of
        the killed run, chunks after a gap)."""
        keep = {self.path(k).name for k in chunks} | {self.state_path(k).name for k in chunks} | {META_NAME}
        for p in self.dir.iterdir():
            if p.name not in keep:
                p.unlink(missing_ok=True)

    def write_chunk(self, k: int, data: bytes) -> None:
        """Chunk ``k``'s finished MP4, encoded elsewhere (written atomically)."""
        tmp = self.dir / f".chunk-{k:05d}.tmp.mp4"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path(k))
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise write_error(self.dir, exc) from None

    def state_path(self, k: int) -> Path:
        return self.dir / f"state-{k:05d}.npz"

    def save_state(self, k: int, state: dict[str, np.ndarray]) -> None:
        """The effects' state after chunk ``k`` (written atomically)."""
        tmp = self.dir / f".state-{k:05d}.tmp.npz"
        try:
            np.savez(tmp, **state)
            os.replace(tmp, self.state_path(k))
        except OSError as exc:
            raise write_error(self.dir, exc) from None

    def load_state(self, k: int) -> dict[str, np.ndarray]:
        with np.load(self.state_path(k)) as data:
            return {name: data[name] for name in data.files}

    def _changed(self, old: dict | None) -> str:
        """The settings that differ from the interrupted render's (empty when none do)."""
        if old is None:
            return f"unreadable {META_NAME}"
        return ", ".join(sorted(k for k in set(self.meta) | set(old) if old.get(k) != self.meta.get(k)))

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _write_meta(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / (META_NAME + ".tmp")
            tmp.write_text(json.dumps(self.meta, indent=1, sort_keys=True))
            os.replace(tmp, self.dir / META_NAME)
        except OSError as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise write_error(self.dir, exc) from None

    def _read_meta(self) -> dict | None:
        try:
            return _normal(json.loads((self.dir / META_NAME).read_text()))
        except (OSError, ValueError):
            return None
