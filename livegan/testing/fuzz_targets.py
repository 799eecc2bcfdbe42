"""Fuzz targets shared by the test suite (hypothesis, bounded) and ``tools/fuzz.py`` (long runs).

Each target takes bytes and either returns ("accepted" or "refused") or raises
``Unexpected``: anything other than the intended clear refusal (a ``LiveganError``, an
OSC message counted as refused) is a bug. The inputs are mutations of real seeds (valid
OSC packets, the shipped presets, a real network pickle, real audio files), so most
runs get past the first header check and into the parsers' depths.
"""

from __future__ import annotations

import io
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import LiveganError


class Unexpected(AssertionError):
    """A target did something other than accept or refuse clearly."""


def mutate(seed: bytes, edits: list[tuple[int, int]], cut: int | None = None,
           inserts: list[tuple[int, bytes]] = ()) -> bytes:
    """``seed`` with bytes overwritten at ``edits`` (pos mod len, value), pieces inserted, then cut."""
    data = bytearray(seed)
    for pos, piece in inserts:
        p = pos % (len(data) + 1)
        data[p:p] = piece
    for pos, value in edits:
        if data:
            data[pos % len(data)] = value & 0xFF
    if cut is not None and data:
        del data[cut % (len(data) + 1):]
    return bytes(data)


def random_mutation(rng: random.Random, seed: bytes) -> bytes:
    """The tool's mutator: the same shape as the hypothesis strategy in the tests."""
    edits = [(rng.randrange(1 << 20), rng.randrange(256)) for _ in range(rng.randrange(0, 9))]
    inserts = [(rng.randrange(1 << 20), bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9))))
               for _ in range(rng.randrange(0, 3))]
    cut = rng.randrange(1 << 20) if rng.random() < 0.3 else None
    return mutate(seed, edits, cut, inserts)


def outcome(what: str, call: Callable[[], object]) -> tuple[str, object]:
    """Run ``call``: ("accepted", result), ("refused", None) for a one-line LiveganError, else Unexpected."""
    try:
        result = call()
    except LiveganError as exc:
        if "\n" in str(exc):
            raise Unexpected(f"a {what} error took several lines: {exc!r}") from exc
        return "refused", None
    except Exception as exc:
        raise Unexpected(f"{what} raised {type(exc).__name__}: {exc}") from exc
    return "accepted", result


# ---- OSC ------------------------------------------------------------------------------
class OscTarget:
    """The real server's datagram path (parse, validate, apply, reply), started on loopback."""

    SENDER = ("127.0.0.1", 9)  # the discard port: replies go nowhere

    def __init__(self) -> None:
        from ..control.osc_server import OscServer  # noqa: PLC0415
        from ..params.definitions import declare_actions  # noqa: PLC0415
        from ..params.definitions import make_registry  # noqa: PLC0415

        self.registry = make_registry()
        declare_actions(self.registry)
        self.server = OscServer(self.registry, port=0, max_ahead_s=0.5).start()
        self.specs = {s.name: s for s in self.registry.specs()}

    def close(self) -> None:
        self.server.stop()

    def seeds(self) -> list[bytes]:
        from ..control.osc_packet import encode_bundle, encode_message  # noqa: PLC0415

        out = []
        for name, spec in self.specs.items():
            addr = "/livegan/" + name
            arg = {"float": 0.5, "int": 1, "bool": True, "enum": (spec.choices or ["x"])[0]}.get(spec.type)
            out.append(encode_message(addr, [] if arg is None else [arg]))
        out.append(encode_message("/livegan/model/load", ["/no/such/model.pkl", 1.0]))
        out.append(encode_message("/livegan/preset/load", ["drift"]))
        out.append(encode_bundle([out[0], out[1]]))
        return out

    def __call__(self, data: bytes) -> str:
        from ..control.osc_packet import OscParseError, parse_packet  # noqa: PLC0415

        try:
            parse_packet(data)
        except OscParseError:
            pass
        except Exception as exc:
            raise Unexpected(f"parse_packet raised {type(exc).__name__}: {exc}") from exc
        before = self.server.stats()
        self.server.handle_datagram(data, self.SENDER)
        after = self.server.stats()
        if after.errors.get("internal", 0) > before.errors.get("internal", 0):
            raise Unexpected(f"OSC server internal error: {after.last_error}")
        for name, spec in self.specs.items():  # whatever arrived, every value stays legal
            if spec.type in ("float", "int") and spec.min is not None:
                v = self.registry.get(name)
                if not (spec.min <= v <= spec.max):
                    raise Unexpected(f"{name} = {v!r} is outside {spec.min}..{spec.max}")
        return "refused" if after.error_total > before.error_total else "accepted"


# ---- presets ------------------------------------------------------------------------------
class PresetTarget:
    def __init__(self) -> None:
        from ..conductor.preset import PRESET_DIR  # noqa: PLC0415
        from ..params.definitions import make_registry  # noqa: PLC0415

        self.registry = make_registry()
        self.dir = Path(PRESET_DIR)

    def seeds(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.dir.glob("*.toml"))]

    def __call__(self, data: bytes) -> str:
        from ..conductor.preset import apply_preset, parse_preset  # noqa: PLC0415

        text = data.decode("utf-8", errors="replace")
        return outcome("preset", lambda: apply_preset(self.registry, parse_preset(text, "fuzz.toml", self.registry)))[0]


# ---- model files ----------------------------------------------------------------------------
class ModelFileTarget:
    """``read_network`` (the safe pickle loader and the native format) on a file."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.tmp = Path(workdir or tempfile.mkdtemp(prefix="livegan-fuzz-"))
        self.path = self.tmp / "fuzz.pkl"

    def seeds(self) -> list[bytes]:
        from .nvpkl_writer import fixtures_dir, write_nvpkl  # noqa: PLC0415

        if not (fixtures_dir() / "sg2_tiny.json").exists():
            return []
        return [write_nvpkl(self.tmp / "seed.pkl", "sg2_tiny").read_bytes()]

    def __call__(self, data: bytes) -> str:
        from ..models.load import read_network  # noqa: PLC0415

        self.path.write_bytes(data)
        return outcome("model loader", lambda: read_network(self.path))[0]


# ---- audio files ----------------------------------------------------------------------------
class AudioTarget:
    """``load_audio`` (the decoder front end of render and live --file)."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.tmp = Path(workdir or tempfile.mkdtemp(prefix="livegan-fuzz-"))

    def seeds(self) -> list[bytes]:
        import soundfile as sf  # noqa: PLC0415

        t = np.arange(2205) / 22050.0
        x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        out = []
        for fmt, sub in (("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")):
            buf = io.BytesIO()
            sf.write(buf, np.stack([x, x], 1), 22050, format=fmt, subtype=sub)
            out.append(buf.getvalue())
        return out

    def __call__(self, data: bytes, suffix: str = ".wav") -> str:
        from ..audio.io import load_audio  # noqa: PLC0415

        path = self.tmp / f"fuzz{suffix}"
        path.write_bytes(data)
        result, clip = outcome("load_audio", lambda: load_audio(path))
        if clip is not None and not np.all(np.isfinite(clip.samples)):
            raise Unexpected("load_audio returned non-finite samples")
        return result


@dataclass
class Tally:
    """Counts of one target's run (for the tool's report)."""

    runs: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0


TARGETS: dict[str, Callable[[], object]] = {
    "osc": OscTarget,
    "preset": PresetTarget,
    "model_file": ModelFileTarget,
    "audio": AudioTarget,
}
