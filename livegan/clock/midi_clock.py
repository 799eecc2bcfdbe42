"""MIDI clock in and out (24 pulses a quarter note), through the ``midi`` extra (python-rtmidi).

In (``--midi-clock-in NAME``): the tempo of the pulses, smoothed by a least-squares line
through the last two beats of arrival times (a USB or JACK MIDI path delivers pulses in
bursts; one interval says little, forty-eight say a lot); Start / Stop / Continue and the
Song Position Pointer give the position, so the bar phase follows the sender. Clock
without a Start gives the tempo only. When pulses stop arriving for ``LOST_S``, MIDI clock
no longer leads and the beat clock's own sources take over from where the count is.

Out (``--midi-clock-out NAME``): pulses on the show's beat clock (whatever leads it: Link,
MIDI clock in, taps, the detector), a Start on the first bar line, a Stop at the end or
when a leading transport stops (pulses go on at the tempo, as most gear does).

A port NAME names an existing port (a substring of its name); when none matches, livegan
creates a virtual port of that name that other software connects to.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Any, Callable

import numpy as np

from ..audio.features import Clock
from ..errors import LiveganError
from ..extras import require
from ..params.registry import Snapshot
from .external import BEATS_PER_BAR, ExternalTempo
from .tempo_map import MAX_BPM, MIN_BPM

log = logging.getLogger("livegan.midi_clock")

PPQN = 24
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
WINDOW = 4 * PPQN  # pulses the tempo line is fitted through ...
RECENT = PPQN  # ... unless the last beat's pulses disagree with it by more than CHANGE: a new tempo
CHANGE = 0.05
MIN_PULSES = 12  # fewer (or a shorter span than MIN_SPAN_S: one burst) give no tempo yet
MIN_SPAN_S = 0.2
LOST_S = 1.0  # no pulse for this long: MIDI clock no longer leads
GAP_S = 0.25  # a longer pause between pulses (two periods at 20 BPM) starts a new run
PULSES_PER_SPP = 6  # a song position unit is a sixteenth note


class MidiClockFollower:
    """MIDI clock bytes and their arrival times in, a tempo source reading out (no I/O: the port feeds it).

    Thread-safe: the port's callback feeds, the conductor reads.
    """

    source = "midi"

    def __init__(self, window: int = WINDOW, lost_s: float = LOST_S) -> None:
        self.window = window
        self.lost_s = lost_s
        self._lock = threading.Lock()
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=window)  # (pulse number, arrival time)
        self._n = 0  # pulses heard
        self.transport: str = "free"  # free (clock, never started), playing, stopped
        self._base = (0, 0)  # (pulse number, position in pulses) where the transport last started
        self._held = 0  # position (pulses) while stopped, moved by a song position
        self._slope: float | None = None  # seconds per pulse, the last line's
        self.pulses = 0
        self.starts = 0

    def feed(self, data: bytes | tuple[int, ...] | list[int], t: float) -> None:
        """One MIDI message (its bytes) that arrived at host time ``t`` (s, monotonic)."""
        if not data:
            return
        status = data[0]
        with self._lock:
            if status == CLOCK:
                if self._arrivals and t - self._arrivals[-1][1] > GAP_S:
                    self._arrivals.clear()  # a new run of pulses: the old line says nothing about its times
                self._arrivals.append((self._n, t))
                self._n += 1
                self.pulses += 1
            elif status == START:
                self._base, self.transport = (self._n, 0), "playing"
                self.starts += 1
            elif status == CONTINUE:
                self._base, self.transport = (self._n, self._held), "playing"
            elif status == STOP and self.transport == "playing":
                self._held = self._position(self._n)
                self.transport = "stopped"
            elif status == SONG_POSITION and len(data) >= 3:
                self._held = ((data[2] & 0x7F) << 7 | (data[1] & 0x7F)) * PULSES_PER_SPP
                if self.transport == "playing":  # a jump while playing: counts from the next pulse
                    self._base = (self._n, self._held)

    def _trim(self, keep: int) -> None:
        with self._lock:
            while len(self._arrivals) > keep:
                self._arrivals.popleft()

    def _position(self, n: float) -> float:
        """Transport position (pulses) of pulse number ``n`` while playing."""
        return self._base[1] + (n - self._base[0])

    def reading(self, now: float) -> ExternalTempo | None:
        """Where the sender is at host time ``now``; None while it does not lead."""
        with self._lock:
            if not self._arrivals or now - self._arrivals[-1][1] > self.lost_s:
                return None
            n = np.array([a[0] for a in self._arrivals], float)
            times = np.array([a[1] for a in self._arrivals])
            transport, held, last, base = self.transport, self._held, self._n - 1, self._base
        n_now = None
        if len(n) >= MIN_PULSES and times[-1] - times[0] >= MIN_SPAN_S:
            # Time of each pulse number on a straight line: the slope is the smoothed pulse period.
            slope, intercept = robust_line(n - n[0], times - times[0])
            if len(n) > RECENT:
                recent = robust_line(n[-RECENT:] - n[-RECENT], times[-RECENT:] - times[-RECENT])
                if slope > 0 and abs(recent[0] / slope - 1.0) > CHANGE:  # the tempo moved: forget the old line
                    self._trim(RECENT)
                    n, times, (slope, intercept) = n[-RECENT:], times[-RECENT:], recent
            if 60.0 / (MAX_BPM * PPQN) <= slope <= 60.0 / (MIN_BPM * PPQN):
                self._slope = float(slope)
                n_now = n[0] + (now - times[0] - intercept) / slope
        if self._slope is None:
            return None
        if n_now is None:  # a new run of pulses, too short for a line yet: the last tempo from its newest pulse
            n_now = n[-1] + (now - times[-1]) / self._slope
        bpm = 60.0 / (self._slope * PPQN)
        if transport == "free":
            return ExternalTempo(bpm, None, True, self.source, now)
        if transport == "stopped":
            return ExternalTempo(bpm, held / PPQN, False, self.source, now)
        n_now = min(n_now, last + 1.0)  # never more than a pulse past the last one heard
        return ExternalTempo(bpm, (base[1] + n_now - base[0]) / PPQN, True, self.source, now)


def robust_line(n: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """``t ~ intercept + slope * n`` through pulses by least squares, refitted without the
    pulses far off the first line (a sender's or a system's hiccup: many times the spread
    that a MIDI system's periodic bursts give every pulse)."""
    slope, intercept = np.polyfit(n, t, 1)
    res = t - (intercept + slope * n)
    keep = np.abs(res) <= 3.0 * 1.4826 * float(np.median(np.abs(res))) + 1e-3
    if keep.sum() >= max(MIN_PULSES // 2, 2) and not keep.all():
        slope, intercept = np.polyfit(n[keep], t[keep], 1)
    return float(slope), float(intercept)


def open_port(direction: str, name: str, api: str | None = None) -> tuple[Any, str]:
    """An existing MIDI port whose name contains ``name``, else a new virtual port ``name``.

    ``direction`` is "input" or "output"; returns the rtmidi object and what it opened, for
    the log. python-rtmidi directly, without a callback: a callback runs Python on the MIDI
    system's own thread, which may still be inside it while the port closes (a crash when
    pulses keep coming at the end of a show); the clock input polls instead."""
    rtmidi = require("rtmidi", "MIDI clock", "pip install 'livegan[midi]' (python-rtmidi)")
    api_id = getattr(rtmidi, f"API_{api}") if api else rtmidi.API_UNSPECIFIED
    try:
        port = rtmidi.MidiIn(api_id, name="livegan") if direction == "input" else rtmidi.MidiOut(api_id, name="livegan")
        names = port.get_ports()
    except Exception as exc:  # rtmidi's own error types when no MIDI system is there
        raise LiveganError(f"no MIDI system available ({exc})") from None
    match = [i for i, n in enumerate(names) if name in n]
    try:
        if match:
            port.open_port(match[0], name)
            return port, names[match[0]]
        port.open_virtual_port(name)
        return port, f"{name} (virtual)"
    except Exception as exc:
        raise LiveganError(f"cannot open the MIDI {direction} {name!r} ({exc})") from None


class MidiClockIn:
    """``--midi-clock-in NAME``: a port feeding a ``MidiClockFollower``; a tempo source.

    A thread polls the port every millisecond. Arrival times come from the MIDI system's
    own time stamps (rtmidi's deltas, taken on its thread without Python), anchored to the
    monotonic clock at the earliest consistent poll, so a busy interpreter that polls late
    does not bend the tempo."""

    source = "midi"
    poll_s = 0.001

    def __init__(self, name: str, api: str | None = None) -> None:
        self.follower = MidiClockFollower()
        self._port, self.name = open_port("input", name, api)
        self._port.ignore_types(sysex=True, timing=False, active_sense=True)  # rtmidi drops clock by default
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="livegan-midi-clock-in", daemon=True)
        self._thread.start()
        log.info("MIDI clock in: %s", self.name)

    def _poll(self) -> None:
        port, feed = self._port, self.follower.feed
        arrived: float | None = None
        while not self._stop.wait(self.poll_s):
            now = time.monotonic()
            while (msg := port.get_message()) is not None:
                data, delta = msg
                # Never later than seen: a stamp chain that drifted behind the poll is pulled back to it.
                arrived = now if arrived is None else min(arrived + delta, now)
                feed(data, arrived)

    def __call__(self, t: float, snap: Snapshot) -> ExternalTempo | None:
        return self.follower.reading(time.monotonic())

    def status(self) -> str:
        r = self.follower.reading(time.monotonic())
        if r is None:
            return "MIDI IN -"
        return f"MIDI IN {r.bpm:.1f} BPM" + ("" if r.playing else " STOPPED")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._port.close_port()


class MidiClockOut:
    """``--midi-clock-out NAME``: 24 pulses a beat on the show's clock, from a thread of its own.

    The port opens at once (a wrong name fails before the show); ``start(clock)`` begins
    sending, ``clock()`` being the show's beat clock carried to now (None without a tempo)."""

    def __init__(self, name: str, api: str | None = None) -> None:
        self._port, self.name = open_port("output", name, api)
        self.clock: Callable[[], Clock | None] = lambda: None
        self.sent = {CLOCK: 0, START: 0, STOP: 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livegan-midi-clock-out", daemon=True)
        log.info("MIDI clock out: %s", self.name)

    def start(self, clock: Callable[[], Clock | None]) -> "MidiClockOut":
        self.clock = clock
        self._thread.start()
        return self

    def _send(self, status: int) -> None:
        self._port.send_message([status])
        self.sent[status] += 1

    def _run(self) -> None:
        last: int | None = None  # the last pulse sent, as a count of 1/24 beats on the show's clock
        playing = False
        free_next = 0.0  # while the show's transport is stopped: the next free-running pulse
        while not self._stop.is_set():
            c = self.clock()
            if c is None or c.bpm <= 0:
                self._stop.wait(0.01)
                continue
            period = 60.0 / (c.bpm * PPQN)
            if not c.running:
                if playing:
                    self._send(STOP)
                    playing, last = False, None
                now = time.monotonic()
                if now >= free_next:
                    self._send(CLOCK)
                    free_next = max(free_next + period, now - period)
                self._stop.wait(min(period, max(0.0, free_next - time.monotonic())))
                continue
            pulse = math.floor(c.beats * PPQN)
            if last is None or abs(pulse - last) > PPQN:
                last = pulse - 1  # a first pulse or a jump of over a beat: go on from here, no burst
            # Late by a few pulses (a busy machine): they go out at once, so the receiver's count stays right.
            for k in range(last + 1, pulse + 1):
                if not playing and k % (BEATS_PER_BAR * PPQN) == 0:
                    self._send(START)  # the next pulse is the one of a bar
                    playing = True
                self._send(CLOCK)
            last = max(last, pulse)
            wait = ((pulse + 1) / PPQN - c.beats) * 60.0 / c.bpm
            self._stop.wait(min(max(wait, 0.0005), period))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        try:
            self._send(STOP)
        finally:
            self._port.close()
