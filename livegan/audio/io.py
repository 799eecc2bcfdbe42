"""Reading and writing audio files (WAV, FLAC, OGG, MP3 through soundfile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from livegan.errors import LiveganError


@dataclass(frozen=True)
class AudioClip:
    """A whole clip in memory: ``samples`` is float32 ``[n, channels]``."""

    samples: np.ndarray
    sample_rate: int
    path: str = ""

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def mono(self) -> np.ndarray:
        """The mean of the channels, float32 ``[n]``."""
        return self.samples.mean(axis=1, dtype=np.float32)


def load_audio(path: str | Path) -> AudioClip:
    """Read a whole audio file; any problem becomes a one-line LiveganError naming it."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise LiveganError(f"audio file not found: {name}")
    if not p.is_file():
        raise LiveganError(f"audio path is not a file: {name}")
    if p.stat().st_size == 0:
        raise LiveganError(f"audio file is empty (0 bytes): {name}")
    try:
        data, sr = sf.read(name, dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        # LibsndfileError.error_string is the reason alone (str(exc) repeats the path).
        reason = getattr(exc, "error_string", "") or str(exc)
        raise LiveganError(f"cannot read audio file {name}: {reason}") from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise LiveganError(f"audio file is empty (no samples): {name}")
    if sr <= 0:
        raise LiveganError(f"audio file has an invalid sample rate {sr}: {name}")
    if not np.all(np.isfinite(data)) or np.abs(data).max() > 100.0:
        # A damaged float file can hold NaN/Inf or absurd values: they would poison the analysis.
        data = np.clip(np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0), -100.0, 100.0)
    return AudioClip(samples=np.ascontiguousarray(data), sample_rate=int(sr), path=name)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples (``[n]`` or ``[n, channels]``, -1..1) as 16-bit PCM WAV."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise ValueError(f"samples must be [n] or [n, channels], got shape {data.shape}")
    sf.write(str(path), np.clip(data, -1.0, 1.0), int(sample_rate), subtype="PCM_16", format="WAV")
