"""Audio sources for live mode; both feed an AudioRing and never stop the picture.

* ``DeviceInput``: a sound-card input (through a child process, see ``audio_child``).
  When PortAudio is missing, the device is absent or it vanishes mid-run, the ring is
  fed silence on the wall clock (features decay to rest), one message is logged, and the
  device is tried again every ``retry_s`` until it comes back.
* ``check_input_device``: at start, before anything runs, a device the user named must
  exist (a typo is exit 2 with the list of inputs; only a device lost later is waited for).
* ``FileInput``: a song played to the output device, with the samples handed to the
  device fed to the ring in step; with no output device it runs on the file's own clock.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LiveganError
from . import audio_child as wire
from .ringbuffer import AudioRing
from .worker import Worker

log = logging.getLogger("livegan.live.audio")


@dataclass(frozen=True)
class AudioStatus:
    """What the HUD and the stats show about the audio source."""

    state: str  # starting | running | playing | file-clock | lost | ended | stopped
    message: str = ""
    restarts: int = 0
    xruns: int = 0


class _ChildLink:
    """One audio child process and the parser of what it sends."""

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ)
        env.setdefault("JACK_NO_AUDIO_RESERVATION", "1")
        env.setdefault("JACK_NO_START_SERVER", "1")  # never let PortAudio spawn a jackd of its own
        self.proc = subprocess.Popen([sys.executable, "-m", "livegan.live.audio_child", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, bufsize=0)
        self._fd = self.proc.stdout.fileno()
        self._buf = bytearray()

    def poll(self, timeout: float) -> list[tuple] | None:
        """Messages received within ``timeout``; None once the child is gone."""
        r, _, _ = select.select([self._fd], [], [], timeout)
        if r:
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                return None
            self._buf += chunk
        return self._parse()

    def _parse(self) -> list[tuple]:
        out, buf, i = [], self._buf, 0
        while i < len(buf):
            tag = buf[i:i + 1]
            if tag == b"A":
                h = wire.HDR_A.size
                if len(buf) - i - 1 < h:
                    break
                n, arrival, flags = wire.HDR_A.unpack_from(buf, i + 1)
                end = i + 1 + h + 4 * n
                if len(buf) < end:
                    break
                out.append(("A", np.frombuffer(bytes(buf[i + 1 + h:end]), dtype="<f4"), arrival, flags))
            elif tag == b"P":
                end = i + 1 + wire.HDR_P.size
                if len(buf) < end:
                    break
                out.append(("P", *wire.HDR_P.unpack_from(buf, i + 1)))
            elif tag == b"M":
                h = wire.HDR_M.size
                if len(buf) - i - 1 < h:
                    break
                (n,) = wire.HDR_M.unpack_from(buf, i + 1)
                end = i + 1 + h + n
                if len(buf) < end:
                    break
                out.append(("M", bytes(buf[i + 1 + h:end]).decode("utf-8", "replace")))
            else:  # a corrupt stream: drop it, the child is restarted
                return out + [("M", "error: garbled audio child output")]
            i = end
        del buf[:i]
        return out

    def close(self) -> None:
        # SIGKILL: a child stuck inside PortAudio's teardown would never exit politely.
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class _Source(Worker):
    """Shared status and silence filling."""

    def __init__(self, ring: AudioRing, block: int) -> None:
        super().__init__(type(self).__name__)
        self.ring = ring
        self.block = int(block)
        self.status = AudioStatus("starting")
        self._said: str | None = None
        self._fill_t = time.perf_counter()

    def start(self) -> "_Source":
        self._fill_t = time.perf_counter()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self.status = AudioStatus("stopped", self.status.message, self.status.restarts, self.status.xruns)

    def _set(self, state: str, message: str = "", **kw) -> None:
        s = self.status
        self.status = AudioStatus(state, message or s.message, kw.get("restarts", s.restarts), kw.get("xruns", s.xruns))
        if message and message != self._said:  # each distinct message once, not once per retry
            self._said = message
            (log.warning if state in ("lost", "file-clock") else log.info)("%s", message)

    def _fill_silence(self) -> None:
        """Keep the ring advancing on the wall clock so the analyzer decays to rest."""
        now = time.perf_counter()
        n = int((now - self._fill_t) * self.ring.sample_rate)
        while n >= self.block:
            self.ring.write(np.zeros(self.block, np.float32), now)
            n -= self.block
            self._fill_t += self.block / self.ring.sample_rate

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class DeviceInput(_Source):
    def __init__(self, ring: AudioRing, device: str | None = None, block: int = 512, retry_s: float = 1.0,
                 stall_s: float = 1.5) -> None:
        super().__init__(ring, block)
        self.device = device
        self.retry_s = retry_s
        self.stall_s = stall_s

    def _run(self) -> None:
        args = ["capture", "--rate", str(self.ring.sample_rate), "--block", str(self.block)]
        if self.device:
            args += ["--device", str(self.device)]
        restarts = 0
        while not self._stop.is_set():
            self._fill_t = time.perf_counter()
            try:
                link = _ChildLink(args)
            except OSError as exc:
                self._set("lost", f"audio input unavailable: {exc}; running on silence")
                self._stop.wait(self.retry_s)
                continue
            running = False
            last_data = time.perf_counter()
            try:
                while not self._stop.is_set():
                    msgs = link.poll(0.02)
                    if msgs is None:
                        break
                    for m in msgs:
                        if m[0] == "A":
                            _, samples, arrival, flags = m
                            self.ring.write(samples, arrival)
                            last_data = self._fill_t = time.perf_counter()
                            if flags:
                                self._set(self.status.state, xruns=self.status.xruns + 1)
                        elif m[0] == "M":
                            if m[1].startswith("ok:"):
                                running = True
                                self._set("running", ("audio input resumed: " if restarts else "") + m[1][3:].strip(),
                                          restarts=restarts)
                            else:
                                self._set("lost", f"audio input: {m[1][6:].strip()}; running on silence until it returns")
                    if time.perf_counter() - last_data > 0.1:
                        self._fill_silence()
                    if running and time.perf_counter() - last_data > self.stall_s:
                        self._set("lost", "audio input stalled; running on silence until it returns")
                        break
            finally:
                link.close()
            if running:
                restarts += 1
            if self.status.state != "lost":
                self._set("lost", "audio input stopped; running on silence until it returns")
            deadline = time.perf_counter() + self.retry_s
            while not self._stop.is_set() and time.perf_counter() < deadline:
                self._fill_silence()
                self._stop.wait(0.02)


def _list_devices(timeout_s: float) -> tuple[list[dict], str]:
    """``livegan devices``' audio list, read in a child process: PortAudio may hang or abort."""
    env = dict(os.environ, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    code = "import json; from livegan.commands.devices import audio_devices; print(json.dumps(audio_devices()))"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              timeout=timeout_s)
        devices, problem = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, OSError, ValueError, IndexError) as exc:
        return [], f"cannot list audio devices ({type(exc).__name__})"
    return devices, problem


def matches(device: str, entry: dict, key: str = "inputs") -> bool:
    """The rule the audio child resolves ``--audio-device`` by: an index, or a name fragment."""
    if entry.get(key, 0) <= 0:
        return False
    return entry["index"] == int(device) if device.isdigit() else device.lower() in entry["name"].lower()


def check_input_device(device: str | None, timeout_s: float = 20.0) -> None:
    """Refuse, at start, an input device that does not exist (one line listing the inputs).

    The default device (None) is not checked: without one the show runs on silence, and a
    device that is there at start but lost later is waited for (``DeviceInput``).
    """
    if device in (None, "", "default"):
        return
    devices, problem = _list_devices(timeout_s)
    inputs = [d for d in devices if d.get("inputs", 0) > 0]
    if any(matches(device, d) for d in inputs):
        return
    listing = ", ".join(f"{d['index']} {d['name']!r} ({d['inputs']} ch)" for d in inputs)
    why = f"inputs: {listing}" if listing else (problem or "no input devices found")
    raise LiveganError(f"--audio-device {device!r}: no such input device; {why} (see `livegan devices`)")


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """A song as mono float32 and its rate (through livegan.audio.io when it is there)."""
    p = Path(path)
    if not p.is_file():
        raise LiveganError(f"--file {path}: no such file")
    try:
        from ..audio.io import load_audio  # noqa: PLC0415
    except ImportError:
        load_audio = None
    try:
        if load_audio is not None:
            clip = load_audio(str(p))
            samples, rate = np.asarray(clip.samples, np.float32), int(clip.sample_rate)
        else:
            import soundfile as sf  # noqa: PLC0415

            samples, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except LiveganError:
        raise
    except Exception as exc:
        raise LiveganError(f"--file {path}: cannot read audio ({exc})") from None
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples, np.float32), rate


class FileInput(_Source):
    """Plays ``samples`` (mono) to the output device, or runs on the file's clock."""

    def __init__(self, ring: AudioRing, path: str | Path, samples: np.ndarray, play: bool = True,
                 device: str | None = None, block: int = 512, open_timeout_s: float = 3.0) -> None:
        super().__init__(ring, block)
        self.path = str(path)
        self.samples = samples
        self.play = play
        self.device = device
        self.open_timeout_s = open_timeout_s
        self.pos = 0  # next file sample to feed

    def _feed(self, pos: int, n: int, arrival: float) -> None:
        chunk = self.samples[pos:pos + n]
        if len(chunk) < n:
            chunk = np.concatenate([chunk, np.zeros(n - len(chunk), np.float32)])
        self.ring.write(chunk, arrival)
        self.pos = pos + n
        if self.pos >= len(self.samples) and self.status.state != "ended":
            self._set("ended", "end of file; running on silence")

    def _run(self) -> None:
        if self.play:
            self._play()
        if not self._stop.is_set():
            self._file_clock()

    def _play(self) -> None:
        args = ["play", "--file", self.path, "--rate", str(self.ring.sample_rate), "--block", str(self.block)]
        if self.device:
            args += ["--device", str(self.device)]
        try:
            link = _ChildLink(args)
        except OSError as exc:
            self._set("file-clock", f"cannot start playback ({exc}); running on the file's clock")
            return
        opened = False
        t0 = time.perf_counter()
        try:
            while not self._stop.is_set():
                msgs = link.poll(0.05)
                if msgs is None:
                    break
                for m in msgs:
                    if m[0] == "P":
                        self._feed(m[1], m[2], m[3])
                    elif m[0] == "M" and m[1].startswith("ok:"):
                        opened = True
                        self._set("playing", m[1][3:].strip())
                    elif m[0] == "M":
                        self._set("file-clock", f"playback: {m[1][6:].strip()}; running on the file's clock")
                if not opened and time.perf_counter() - t0 > self.open_timeout_s:
                    self._set("file-clock", "playback did not start; running on the file's clock")
                    break
        finally:
            link.close()
        if opened and not self._stop.is_set() and self.status.state != "ended":
            self._set("file-clock", "playback stopped; continuing on the file's clock")

    def _file_clock(self) -> None:
        if self.status.state not in ("ended", "file-clock"):
            self._set("file-clock", "running on the file's clock")
        rate = self.ring.sample_rate
        t0 = time.perf_counter() - self.pos / rate
        while not self._stop.is_set():
            due = t0 + (self.pos + self.block) / rate
            wait = due - time.perf_counter()
            if wait > 0:
                self._stop.wait(wait)
                continue
            self._feed(self.pos, self.block, time.perf_counter())
