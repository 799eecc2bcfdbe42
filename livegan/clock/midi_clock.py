"""MIDI clock in and out (24 pulses a quarter note), through the ``midi`` extra (mido + python-rtmidi).

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
from ..params.registry import Snapshot
from .external import BEATS_PER_BAR, ExternalTempo

log = logging.getLogger("livegan.midi_clock")

PPQN = 24
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
WINDOW = 2 * PPQN  # pulses the tempo line is fitted through
MIN_PULSES = 6  # fewer give no tempo yet
LOST_S = 1.0  # no pulse for this long: MIDI clock no longer leads
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
        self.pulses = 0
        self.starts = 0

    def feed(self, data: bytes | tuple[int, ...] | list[int], t: float) -> None:
        """One MIDI message (its bytes) that arrived at host time ``t`` (s, monotonic)."""
        if not data:
            return
        status = data[0]
        with self._lock:
            if status == CLOCK:
                if self._arrivals and t - self._arrivals[-1][1] > self.lost_s:
                    self._arrivals.clear()  # a new run of pulses: the old line says nothing about it
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

    def _position(self, n: float) -> float:
        """Transport position (pulses) of pulse number ``n`` while playing."""
        return self._base[1] + (n - self._base[0])

    def reading(self, now: float) -> ExternalTempo | None:
        """Where the sender is at host time ``now``; None while it does not lead."""
        with self._lock:
            if len(self._arrivals) < MIN_PULSES or now - self._arrivals[-1][1] > self.lost_s:
                return None
            n, times = np.array([a[0] for a in self._arrivals], float), np.array([a[1] for a in self._arrivals])
            transport, held = self.transport, self._held
            last = self._n - 1
            base = self._base
        # Time of each pulse number on a straight line: the slope is the smoothed pulse period.
        slope, intercept = np.polyfit(n - n[0], times - times[0], 1)
        if not slope > 0:
            return None
        bpm = 60.0 / (slope * PPQN)
        if transport == "free":
            return ExternalTempo(bpm, None, True, self.source, now)
        if transport == "stopped":
            return ExternalTempo(bpm, held / PPQN, False, self.source, now)
        # The pulse number now, on the line, at most one pulse past the last one heard.
        n_now = min(n[0] + (now - times[0] - intercept) / slope, last + 1.0)
        return ExternalTempo(bpm, (base[1] + n_now - base[0]) / PPQN, True, self.source, now)


def _backend(api: str | None) -> Any:
    try:
        import mido  # noqa: PLC0415
    except ImportError:
        raise LiveganError("MIDI clock needs the optional extra: pip install 'livegan[midi]' (mido, python-rtmidi)") \
            from None
    return mido.Backend("mido.backends.rtmidi" + (f"/{api}" if api else ""), load=True) if api else mido


def open_port(direction: str, name: str, api: str | None = None, callback: Callable | None = None) -> tuple[Any, str]:
    """An existing MIDI port whose name contains ``name``, else a new virtual port ``name``.

    ``direction`` is "input" or "output"; returns the port and what it is, for the log."""
    backend = _backend(api)
    try:
        names = backend.get_input_names() if direction == "input" else backend.get_output_names()
    except Exception as exc:  # rtmidi's own error types when no MIDI system is there
        raise LiveganError(f"no MIDI system available ({exc})") from None
    match = [n for n in names if name in n]
    opener = backend.open_input if direction == "input" else backend.open_output
    kwargs = {"callback": callback} if callback is not None else {}
    try:
        if match:
            return opener(match[0], **kwargs), match[0]
        return opener(name, virtual=True, **kwargs), f"{name} (virtual)"
    except Exception as exc:
        raise LiveganError(f"cannot open the MIDI {direction} {name!r} ({exc})") from None


class MidiClockIn:
    """``--midi-clock-in NAME``: a port feeding a ``MidiClockFollower``; a tempo source."""

    source = "midi"

    def __init__(self, name: str, api: str | None = None) -> None:
        self.follower = MidiClockFollower()
        self._port, self.name = open_port("input", name, api, self._on_message)
        log.info("MIDI clock in: %s", self.name)

    def _on_message(self, message: Any) -> None:
        try:
            self.follower.feed(message.bytes(), time.monotonic())
        except Exception:  # never let a callback exception reach rtmidi's thread
            log.exception("MIDI clock in")

    def __call__(self, t: float, snap: Snapshot) -> ExternalTempo | None:
        return self.follower.reading(time.monotonic())

    def status(self) -> str:
        r = self.follower.reading(time.monotonic())
        if r is None:
            return "MIDI CLOCK -"
        return f"MIDI CLOCK {r.bpm:.1f} BPM" + ("" if r.playing else "  STOPPED")

    def close(self) -> None:
        self._port.close()


class MidiClockOut:
    """``--midi-clock-out NAME``: 24 pulses a beat on the show's clock, from a thread of its own.

    The port opens at once (a wrong name fails before the show); ``start(clock)`` begins
    sending, ``clock()`` being the show's beat clock carried to now (None without a tempo)."""

    def __init__(self, name: str, api: str | None = None) -> None:
        import mido  # noqa: PLC0415 - _backend (in open_port) said it is there

        self._port, self.name = open_port("output", name, api)
        self._msgs = {b: mido.Message.from_bytes([b]) for b in (CLOCK, START, STOP)}
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
        self._port.send(self._msgs[status])
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
            if last is None or pulse < last - PPQN or pulse > last + 2:
                last = pulse - 1  # a first pulse or a jump: go on from here, never a burst
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
