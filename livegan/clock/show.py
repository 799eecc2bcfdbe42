"""The clocks a live show syncs with, from its options: Ableton Link, MIDI clock in and out.

Built before the window opens (a missing extra or port fails with one line); the show's
performance follows ``tempo`` (Link first, then MIDI clock in); MIDI clock out starts with
the show's threads and sends the clock that results, whatever leads it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..audio.features import Clock
from .external import Precedence, TempoSource

log = logging.getLogger("livegan.clock")


class ShowSync:
    def __init__(self, link: bool = False, midi_in: str | None = None, midi_out: str | None = None,
                 initial_bpm: float = 0.0, midi_api: str | None = None) -> None:
        self.link = self.midi_in = self.midi_out = None
        try:
            if link:
                from .link import LinkClock  # noqa: PLC0415 - GPL: only with --link

                self.link = LinkClock(initial_bpm if initial_bpm > 0 else 120.0)
            if midi_in:
                from .midi_clock import MidiClockIn  # noqa: PLC0415

                self.midi_in = MidiClockIn(midi_in, midi_api)
            if midi_out:
                from .midi_clock import MidiClockOut  # noqa: PLC0415

                self.midi_out = MidiClockOut(midi_out, midi_api)
        except Exception:
            self.close()
            raise
        sources: list[Any] = [s for s in (self.link, self.midi_in) if s is not None]
        self.tempo: TempoSource | None = Precedence(sources) if sources else None

    def __bool__(self) -> bool:
        return any(p is not None for p in (self.link, self.midi_in, self.midi_out))

    def start(self, clock: Callable[[], Clock | None]) -> None:
        """Begin MIDI clock out on the show's beat clock (carried to now)."""
        if self.midi_out is not None:
            self.midi_out.start(clock)

    def status(self, clock: Clock | None) -> list[str]:
        """The HUD's lines: which clock leads, and each sync part's state."""
        lead = f"CLOCK {clock.source.upper() or 'NONE'} {clock.bpm:.1f} BPM" if clock is not None else "CLOCK NONE"
        parts = [p.status() for p in (self.link, self.midi_in) if p is not None]
        if self.midi_out is not None:
            parts.append(f"MIDI OUT {self.midi_out.sent[0xF8]} PULSES")
        return ["  ".join([lead] + parts)]

    def summary(self) -> dict:
        out: dict[str, Any] = {}
        if self.link is not None:
            out["link"] = {"peers": self.link.peers, "bpm": float(self.link.link.tempo), "proposed": self.link.proposed}
        if self.midi_in is not None:
            f = self.midi_in.follower
            out["midi_clock_in"] = {"port": self.midi_in.name, "pulses": f.pulses, "starts": f.starts}
        if self.midi_out is not None:
            out["midi_clock_out"] = {"port": self.midi_out.name, "pulses": self.midi_out.sent[0xF8],
                                     "starts": self.midi_out.sent[0xFA]}
        return out

    def close(self) -> None:
        for part in (self.midi_out, self.midi_in, self.link):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:  # closing one must not keep the others open
                    log.warning("closing %s: %s", type(part).__name__, exc)
