"""The PortAudio side of live audio, run in its own process.

PortAudio's JACK and ALSA back ends can hang or abort the whole process when a device
vanishes mid-stream (closing the dead stream blocks; re-initialising asserts). So the
stream lives here, in a child the parent can kill and restart; the parent keeps drawing.

Modes (``python -m livegan.live.audio_child capture|play ...``):

* ``capture``: an InputStream whose callback sends each block (mono float32) with the
  monotonic time it arrived.
* ``play``: an OutputStream that plays a file from a start position and reports which
  samples it handed to the device and when; the parent feeds the same samples to the
  analyzer, so analysis follows what is heard.

Wire format on stdout: one tag byte, then ``A``: int32 n, float64 arrival, int32 flags,
n float32 samples; ``P``: int64 pos, int32 n, float64 arrival; ``M``: int32 len, utf-8
text (``ok: ...`` or ``error: ...``). The child exits when stdin closes.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import threading
import time

HDR_A = struct.Struct("<idi")
HDR_P = struct.Struct("<qid")
HDR_M = struct.Struct("<i")
FLAG_OVERFLOW = 1
FLAG_UNDERFLOW = 2

_out_lock = threading.Lock()


def _send(data: bytes) -> None:
    with _out_lock:
        view = memoryview(data)
        while view:
            n = os.write(1, view)
            view = view[n:]


def say(text: str) -> None:
    raw = text.encode("utf-8", "replace")
    _send(b"M" + HDR_M.pack(len(raw)) + raw)


def _exit(code: int) -> None:
    # os._exit: never run PortAudio's teardown on a dead device (it can hang or abort).
    sys.stdout.flush()
    os._exit(code)


def _watch_parent() -> None:
    try:
        while sys.stdin.buffer.read(1):
            pass
    except Exception:
        pass
    _exit(0)


def _import_sounddevice():
    try:
        import sounddevice as sd  # noqa: PLC0415 - imported here so a missing PortAudio is one message
    except OSError as exc:
        say(f"error: PortAudio is not available ({exc})")
        _exit(4)
    return sd


def _resolve(sd, device: str | None, kind: str):
    """A device index from a name fragment or an index; None means the default."""
    if device in (None, "", "default"):
        return None
    try:
        devices = sd.query_devices()
    except Exception as exc:
        say(f"error: cannot list audio devices ({exc})")
        _exit(5)
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    if device.isdigit():
        i = int(device)
        if i < len(devices) and devices[i][key] > 0:
            return i
    else:
        for i, d in enumerate(devices):
            if d[key] > 0 and device.lower() in d["name"].lower():
                return i
    say(f"error: no audio {kind} device {device!r}")
    _exit(5)


def _supervise(stream, calls: list[int], stall_s: float = 1.0) -> None:
    """Exit when the stream stops or its callbacks stall (a vanished device)."""
    last, last_t = calls[0], time.monotonic()
    while True:
        time.sleep(0.05)
        if not stream.active:
            say("error: audio device stopped")
            _exit(3)
        if calls[0] != last:
            last, last_t = calls[0], time.monotonic()
        elif time.monotonic() - last_t > stall_s:
            say("error: audio device stalled")
            _exit(3)


def _run_stream(sd, make_stream, what: str, verb: str, calls: list[int]) -> None:
    """Open and start a stream, say so, then watch it until it dies."""
    try:
        stream = make_stream()
        stream.start()
    except Exception as exc:
        say(f"error: cannot open {what} ({exc})")
        _exit(5)
    name = sd.query_devices(stream.device)["name"]
    say(f"ok: {verb} {name} at {int(stream.samplerate)} Hz")
    _supervise(stream, calls)


def capture(args: argparse.Namespace) -> None:
    sd = _import_sounddevice()
    dev = _resolve(sd, args.device, "input")
    calls = [0]

    def callback(indata, frames, t, status) -> None:
        arrival = time.perf_counter()
        flags = (FLAG_OVERFLOW if status.input_overflow else 0)
        mono = indata[:, 0] if indata.shape[1] == 1 else indata.mean(axis=1)
        _send(b"A" + HDR_A.pack(frames, arrival, flags) + mono.astype("<f4", copy=False).tobytes())
        calls[0] += 1

    _run_stream(sd, lambda: sd.InputStream(device=dev, channels=1, samplerate=args.rate, blocksize=args.block,
                                           dtype="float32", callback=callback),
                f"audio input {args.device or 'default'!r}", "capturing from", calls)


def play(args: argparse.Namespace) -> None:
    import numpy as np  # noqa: PLC0415
    import soundfile as sf  # noqa: PLC0415

    data, rate = sf.read(args.file, dtype="float32", always_2d=True)
    if rate != args.rate:
        say(f"error: file rate {rate} differs from {args.rate}")
        _exit(6)
    sd = _import_sounddevice()
    dev = _resolve(sd, args.device, "output")
    pos = [max(0, args.start)]
    calls = [0]
    total = len(data)

    def callback(outdata, frames, t, status) -> None:
        arrival = time.perf_counter()
        p = pos[0]
        n = max(0, min(frames, total - p))
        ch = outdata.shape[1]
        if n:
            src = data[p:p + n]
            outdata[:n] = src[:, :ch] if src.shape[1] >= ch else np.repeat(src[:, :1], ch, axis=1)
        outdata[n:] = 0.0
        pos[0] = p + frames
        _send(b"P" + HDR_P.pack(p, frames, arrival))
        calls[0] += 1

    _run_stream(sd, lambda: sd.OutputStream(device=dev, channels=min(2, max(1, data.shape[1])), samplerate=rate,
                                            blocksize=args.block, dtype="float32", callback=callback),
                f"audio output {args.device or 'default'!r}", "playing to", calls)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="livegan-audio-child")
    ap.add_argument("mode", choices=("capture", "play"))
    ap.add_argument("--device", default=None)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--file", default=None)
    ap.add_argument("--start", type=int, default=0)
    args = ap.parse_args(argv)
    threading.Thread(target=_watch_parent, daemon=True).start()
    (capture if args.mode == "capture" else play)(args)


if __name__ == "__main__":
    main()
