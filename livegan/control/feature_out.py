"""What livegan says about the music: the ``/livegan/out/...`` addresses, declared once.

OSC out (``--osc-out``), the OSCQuery tree (read-only nodes a WebSocket client can
LISTEN to), the web remote's meters and docs/osc.md all take this list. Levels carry the
newest value; events are sent once per occurrence (between two sends none is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audio.features import BAND_NAMES

OUT_PREFIX = "/livegan/out"


@dataclass(frozen=True)
class OutSpec:
    name: str  # below OUT_PREFIX, e.g. "tempo/bpm"
    tags: str  # OSC type tags of its arguments
    description: str
    event: bool = False  # sent once when it happens (no standing value)
    unit: str = ""

    @property
    def address(self) -> str:
        return f"{OUT_PREFIX}/{self.name}"


FEATURE_OUTPUTS: tuple[OutSpec, ...] = (
    OutSpec("rms", "f", "loudness 0..1"),
    OutSpec("bands", "f" * len(BAND_NAMES), f"band energies {', '.join(BAND_NAMES)}, 0..1"),
    *(OutSpec(f"band/{n}", "f", f"the {n} band's energy 0..1") for n in BAND_NAMES),
    OutSpec("flux", "f", "spectral flux (the onset strength curve)"),
    OutSpec("centroid", "f", "brightness 0..1"),
    OutSpec("build", "f", "build-up amount 0..1"),
    OutSpec("beat_phase", "f", "0..1 within the beat (the beat clock)"),
    OutSpec("bar_phase", "f", "0..1 within the 4-beat bar (the beat clock)"),
    OutSpec("tempo/bpm", "f", "the beat clock's tempo now (0 until there is one)", unit="BPM"),
    OutSpec("tempo/source", "s", "what leads the beat clock: tap, analysis or manual (empty: no tempo)"),
    OutSpec("onset", "f", "an onset, with its strength", event=True),
    OutSpec("beat", "i", "a beat line passed: its place in the bar, 1..4", event=True),
    OutSpec("bar", "i", "a bar line passed: 1", event=True),
    OutSpec("drop", "i", "a drop: 1", event=True),
    OutSpec("section", "i", "a new section (timbre change or drop): 1", event=True),
)

OUTPUT_BY_ADDRESS = {o.address: o for o in FEATURE_OUTPUTS}
