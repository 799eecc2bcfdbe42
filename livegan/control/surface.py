"""The control surface of ``livegan live``: everything its control options ask for, in one object.

``ControlSurface.build(args, show)`` builds (and checks) the parts the options name from
the show's public parts (``ShowPorts``): OSC in (on by default at 127.0.0.1:9000), OSC out,
OSCQuery with its WebSocket and the web remote, MIDI learn, preset watching, and the
feedback pump that reads the music for all of them. ``start`` binds and starts them,
``stop`` ends them (and saves learnt MIDI bindings), ``status`` is what the HUD shows.
Everything binds 127.0.0.1 unless told otherwise; the zeroconf announcement only runs with
``--oscquery-announce``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..audio.features import Clock, FeatureFrame
from ..errors import LiveganError
from ..live.latest import Latest
from ..params.registry import ParamChange, ParamRegistry
from .announce import Announcement
from .feedback import FeatureReader, FeedbackPump
from .midi_learn import MidiInput, MidiLearn
from .osc_out import OscOut, OscTarget
from .osc_server import OscServer, PortTaken
from .osc_validate import ActivityStats, parse_allow
from .preset_watch import PresetWatcher
from .query_server import QueryServer, jpeg_bytes
from .triggers import ControlActions

log = logging.getLogger("livegan.control")

DEFAULT_OSC_PORT = 9000
QUIET_RATE_HZ = 10.0  # feedback rate with nobody listening (it still publishes clock/bpm)


@dataclass(frozen=True)
class ShowPorts:
    """The parts of a running show the control surface reads and drives (``LiveApp`` has them all)."""

    registry: ParamRegistry
    actions: ControlActions
    features: Latest[FeatureFrame]  # a feed of its own (events merged until read)
    clocks: Latest[Clock]
    audio_now: Callable[[], float]
    previews: Latest[np.ndarray] | None = None
    apply_preset: Callable[[Any], None] | None = None  # the session's (one registry update)
    preset: str | None = None  # the preset the show started with (name or file)
    presets: Callable[[], list[str]] = list


@dataclass(frozen=True)
class ControlStatus:
    """What the HUD shows: one ``(option, text)`` per running part, and OSC's activity."""

    parts: tuple[tuple[str, str], ...]
    osc: ActivityStats | None = None
    notes: tuple[str, ...] = ()  # a part that could not start, a preset that did not reload


@dataclass
class ControlSurface:
    ports: ShowPorts
    args: argparse.Namespace
    osc: OscServer | None = None
    out: OscOut | None = None
    query: QueryServer | None = None
    pump: FeedbackPump | None = None
    midi: MidiLearn | None = None
    midi_input: MidiInput | None = None
    watcher: PresetWatcher | None = None
    announcement: Announcement | None = None
    token: str | None = None
    notes: list[str] = field(default_factory=list)
    _started: list[Any] = field(default_factory=list)
    _unsubscribe: Callable[[], None] | None = None
    _preview_cache: tuple[int, bytes | None] = (-1, None)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- building ------------------------------------------------------------------
    @staticmethod
    def build(args: argparse.Namespace, ports: ShowPorts) -> "ControlSurface":
        """Every part the options ask for, built and checked, none started (LiveganError if bad)."""
        s = ControlSurface(ports, args)
        reg = ports.registry
        actions = ports.actions
        if args.midi_in or args.midi_map:
            s.midi = MidiLearn(reg, actions)
            s.midi.on_learn = lambda b: log.info("MIDI learnt %s %d/%d -> %s", b.kind, b.channel + 1, b.number, b.param)
            if args.midi_map and Path(args.midi_map).exists():
                s.midi.load(args.midi_map)
            actions = dataclasses.replace(actions, midi_learn=s._learn)
        if not args.no_osc:
            port = DEFAULT_OSC_PORT if args.osc_port is None else args.osc_port
            # Isolated: parsing runs in a receiver process, so a flood cannot take the show's GIL.
            s.osc = OscServer(reg, args.osc_host, port, actions, args.osc_reply_port, isolate=True,
                              allow=parse_allow(args.osc_allow))
        if args.osc_out:
            s.out = OscOut(reg, [OscTarget.parse(t) for t in args.osc_out])
        if args.oscquery_port is not None:
            if args.http_host != "127.0.0.1":
                s.token = secrets.token_urlsafe(8)
            s.query = QueryServer(reg, actions, args.http_host, args.oscquery_port, osc=s._osc_address,
                                  token=s.token, preview=s._preview_jpeg, presets=ports.presets)
        listening = s.out is not None or s.query is not None
        s.pump = FeedbackPump(FeatureReader(reg, ports.features, ports.clocks, ports.audio_now),
                              args.osc_out_rate if listening else QUIET_RATE_HZ)
        if s.out is not None:
            s.pump.sinks.append(s.out.send)
        if s.query is not None:
            s.pump.sinks.append(s.query.feature_sink)
            s.query.levels = s.pump.levels
        if args.watch_preset:
            if not ports.preset:
                raise LiveganError("--watch-preset needs --preset (the file to watch)")
            s.watcher = PresetWatcher(reg, ports.preset, on_error=s._preset_error, on_apply=s._preset_applied,
                                      apply=ports.apply_preset)
        return s

    def _learn(self, target: str) -> None:
        assert self.midi is not None
        if target:
            self.midi.arm(target)
        else:
            self.midi.cancel()

    def _osc_address(self) -> tuple[str | None, int | None]:
        if self.osc is None or not self.osc.alive:
            return None, None
        return self.osc.host, self.osc.port

    def _preview_jpeg(self) -> bytes | None:
        if self.ports.previews is None:
            return None
        thumb, version = self.ports.previews.peek()
        with self._lock:
            if version != self._preview_cache[0]:
                self._preview_cache = (version, jpeg_bytes(thumb) if thumb is not None else None)
            return self._preview_cache[1]

    def _preset_error(self, message: str) -> None:
        log.warning("preset not reloaded: %s", message)
        self.notes[:] = [n for n in self.notes if not n.startswith("PRESET ")] + [f"PRESET {message}"]

    def _preset_applied(self, preset: Any) -> None:
        log.info("preset %s reloaded from %s", preset.name, self.watcher.path if self.watcher else "?")
        self.notes[:] = [n for n in self.notes if not n.startswith("PRESET ")]

    def _follow_preset(self, change: ParamChange) -> None:
        """--watch-preset follows the preset on screen when another one is loaded."""
        w = self.watcher
        if w is None or change.name != "preset/name" or change.source == "preset-reload" or not change.value:
            return
        if w.current is not None and w.current.name == change.value:
            return
        try:
            w.watch(str(change.value))
        except LiveganError:
            pass  # a preset saved live or from elsewhere: keep watching the file we have

    # ---- running -------------------------------------------------------------------
    def start(self) -> "ControlSurface":
        args = self.args
        try:
            if self.osc is not None:
                try:
                    self._started.append(self.osc.start())
                except PortTaken as exc:
                    if args.osc_port is not None:
                        raise  # asked for by name: the user must know now
                    self.notes.append(f"OSC OFF: {self.osc.host}:{DEFAULT_OSC_PORT} IS TAKEN")
                    log.warning("%s; the show runs without OSC input (choose another with --osc-port)", exc)
                    self.osc = None
            if self.out is not None:
                self._started.append(self.out.start())
            if self.query is not None:
                self._started.append(self.query.start())
                where = self.query.url + (f"?token={self.token}" if self.token else "")
                log.info("OSCQuery and the web remote: %s", where)
                if args.oscquery_announce:
                    self.announcement = Announcement("livegan", args.http_host, self.query.port).start()
                    self._started.append(self.announcement)
            if self.midi is not None and args.midi_in:
                self.midi_input = MidiInput(self.midi, args.midi_in, args.midi_api, virtual=args.midi_virtual)
            if self.watcher is not None:
                self._started.append(self.watcher.start())
                self._unsubscribe = self.ports.registry.subscribe(self._follow_preset)
            if self.pump is not None:
                self._started.append(self.pump.start())
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, report: bool = True) -> None:
        """Stop every part; ``report`` logs what the surface cost (not after a failed start,
        whose error must stay the one line printed)."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self.midi_input:
            self.midi_input.close()
            self.midi_input = None
        if self.midi and self.args.midi_map and self.midi.bindings:
            self.midi.save(self.args.midi_map)
        while self._started:
            part = self._started.pop()
            try:
                part.stop()
            except Exception:  # stopping one part must not leave the others running
                log.exception("control: stopping %s", type(part).__name__)
        cpu = {name: part.cpu_s for name, part in (("feedback", self.pump), ("oscquery", self.query), ("osc", self.osc))
               if part is not None}
        if cpu and report:  # what the surface cost the show (tools/bench_osc.py --surface reads this line)
            receiver = getattr(self.osc, "receiver_cpu_s", 0.0) if self.osc is not None else 0.0
            log.info("control surface CPU: %s s; OSC receiver process %.2f s",
                     ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()), receiver)

    def status(self) -> ControlStatus:
        """For the HUD: what listens where, who is connected, what failed."""
        parts: list[tuple[str, str]] = []
        if self.osc is not None:
            parts.append(("osc_port", f"{self.osc.host}:{self.osc.port}"))
        if self.out is not None:
            parts.append(("osc_out", f"{len(self.out.targets)}X{self.pump.rate_hz:g}/S" if self.pump else ""))
        if self.query is not None:
            st = self.query.status()
            parts.append(("oscquery_port", f":{self.query.port} {st['clients']} WS"))
            if self.token:
                parts.append(("http_host", f"{self.args.http_host} TOKEN {self.token}"))
        if self.midi_input is not None:
            armed = self.midi.armed if self.midi else None
            parts.append(("midi_in", self.midi_input.name[:24] + (f" LEARN {armed}" if armed else "")))
        if self.watcher is not None:
            parts.append(("watch_preset", self.watcher.path.name))
        return ControlStatus(tuple(parts), self.osc.stats() if self.osc is not None else None, tuple(self.notes))
