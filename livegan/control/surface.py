"""The control surface as one object the live app starts and stops.

``add_arguments(parser)`` adds the OSC, OSCQuery, MIDI and preset-watch options to a
command; ``ControlSurface.from_args(args, registry, actions)`` builds what they ask for.
Everything binds 127.0.0.1 unless told otherwise; the OSCQuery zeroconf announcement
only runs with ``--oscquery-announce``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio.features import FeatureFrame
from ..params.registry import ParamRegistry
from .midi_learn import MidiInput, MidiLearn
from .osc_out import OscOut, OscTarget
from .osc_server import OscServer
from .osc_validate import ActivityStats
from .oscquery import OscQueryServer
from .preset_watch import PresetWatcher
from ..params.definitions import declare_actions
from .triggers import ControlActions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("control (OSC, OSCQuery, MIDI)")
    g.add_argument("--osc-host", default="127.0.0.1", help="address to receive OSC on (default 127.0.0.1; "
                   "0.0.0.0 accepts controllers on the network)")
    g.add_argument("--osc-port", type=int, default=9000, help="UDP port to receive OSC on (default 9000; 0 = off)")
    g.add_argument("--osc-reply-port", type=int, default=None,
                   help="send query replies to this port on the sender's host (default: the sender's port)")
    g.add_argument("--osc-out", action="append", default=[], metavar="HOST:PORT",
                   help="send features and parameter changes here (repeatable)")
    g.add_argument("--osc-out-rate", type=float, default=30.0, help="OSC out sends per second (default 30)")
    g.add_argument("--oscquery-port", type=int, default=None,
                   help="serve the OSCQuery JSON namespace on this HTTP port (default off; 0 = any free port)")
    g.add_argument("--oscquery-announce", action="store_true",
                   help="announce OSCQuery over zeroconf (multicast on every interface; needs 'zeroconf')")
    g.add_argument("--midi-in", default=None, metavar="NAME", help="MIDI input port (name substring)")
    g.add_argument("--midi-virtual", action="store_true",
                   help="create the --midi-in port (controllers connect to it) instead of opening an existing one")
    g.add_argument("--midi-api", default=None, help="rtmidi API: UNIX_JACK, LINUX_ALSA, MACOSX_CORE, WINDOWS_MM")
    g.add_argument("--midi-map", default=None, metavar="TOML", help="MIDI mappings to load (and save learnt ones to)")
    g.add_argument("--watch-preset", action="store_true", help="re-apply the preset when its file changes")


@dataclass
class ControlSurface:
    registry: ParamRegistry
    osc: OscServer | None = None
    out: OscOut | None = None
    query: OscQueryServer | None = None
    midi: MidiLearn | None = None
    midi_input: MidiInput | None = None
    watcher: PresetWatcher | None = None
    midi_map: Path | None = None
    args: argparse.Namespace | None = None
    _started: list[Any] = field(default_factory=list)

    @staticmethod
    def from_args(args: argparse.Namespace, registry: ParamRegistry, actions: ControlActions | None = None,
                  preset: str | None = None) -> "ControlSurface":
        """Build (not start) what the arguments ask for. Raises LiveganError on bad values."""
        declare_actions(registry)
        s = ControlSurface(registry, args=args)
        if args.osc_port:
            # Isolated: parsing runs in a receiver process, so a flood cannot take the show's GIL.
            s.osc = OscServer(registry, args.osc_host, args.osc_port, actions, args.osc_reply_port, isolate=True)
        if args.osc_out:
            s.out = OscOut(registry, [OscTarget.parse(t) for t in args.osc_out], args.osc_out_rate)
        if args.midi_in or args.midi_map:
            s.midi = MidiLearn(registry, actions)
            if args.midi_map:
                s.midi_map = Path(args.midi_map)
                if s.midi_map.exists():
                    s.midi.load(s.midi_map)
        if args.watch_preset and preset:
            s.watcher = PresetWatcher(registry, preset)
        return s

    def start(self) -> "ControlSurface":
        args = self.args
        try:
            if self.osc:
                self._started.append(self.osc.start())
            if self.out:
                self._started.append(self.out.start())
            if args is not None and args.oscquery_port is not None:
                osc_port = self.osc.port if self.osc else 0
                self.query = OscQueryServer(self.registry, osc_port, port=args.oscquery_port).start()
                self._started.append(self.query)
                if args.oscquery_announce:
                    self.query.announce()
            if self.midi and args is not None and args.midi_in:
                self.midi_input = MidiInput(self.midi, args.midi_in, args.midi_api, virtual=args.midi_virtual)
            if self.watcher:
                self._started.append(self.watcher.start())
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.midi_input:
            self.midi_input.close()
            self.midi_input = None
        if self.midi and self.midi_map and self.midi.bindings:
            self.midi.save(self.midi_map)
        while self._started:
            self._started.pop().stop()

    def push_features(self, frame: FeatureFrame) -> None:
        if self.out:
            self.out.push_features(frame)

    def stats(self) -> ActivityStats | None:
        """For the HUD: OSC messages/s, errors, the last error."""
        return self.osc.stats() if self.osc else None
