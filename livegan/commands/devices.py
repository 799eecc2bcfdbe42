"""``livegan devices``: audio inputs and outputs (for --audio-device / --output-device) and monitors."""

from __future__ import annotations

import argparse
import json
import os


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("devices", help="list audio devices and monitors",
                              description="List audio inputs/outputs (use the index or a name fragment with "
                                          "--audio-device / --output-device) and monitors (--monitor).")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def audio_devices() -> tuple[list[dict], str]:
    """(devices, problem): problem is one line when PortAudio is missing or fails."""
    # Listing must never start a sound server as a side effect (libjack would autostart jackd).
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        import sounddevice as sd  # noqa: PLC0415 - imported late: a missing PortAudio is a message, not a crash
    except OSError as exc:
        return [], f"PortAudio is not available ({exc})"
    try:
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
        out = []
        for i, d in enumerate(sd.query_devices()):
            out.append({"index": i, "name": d["name"], "host_api": apis[d["hostapi"]]["name"],
                        "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
                        "sample_rate": d["default_samplerate"],
                        "default_input": i == default_in, "default_output": i == default_out})
        return out, "" if out else "no audio devices found (is a sound server such as JACK running?)"
    except Exception as exc:
        return [], f"cannot list audio devices ({exc})"


def run(args: argparse.Namespace) -> int:
    from ..gl.context import list_monitors  # noqa: PLC0415

    devices, problem = audio_devices()
    monitors = list_monitors()
    if args.json:
        print(json.dumps({"audio": devices, "audio_problem": problem, "monitors": monitors}, indent=2))
        return 0
    print("Audio devices:")
    if problem:
        print(f"  ({problem})")
    for d in devices:
        kinds = ", ".join(k for k, n in (("in", d["inputs"]), ("out", d["outputs"])) if n)
        mark = (" [default in]" if d["default_input"] else "") + (" [default out]" if d["default_output"] else "")
        print(f"  {d['index']:3d}  {d['name']}  ({d['host_api']}; {kinds}; {int(d['sample_rate'])} Hz){mark}")
    print("Monitors:")
    if not monitors:
        print("  (no display)")
    for m in monitors:
        print(f"  {m['index']:3d}  {m['name']}  {m['width']}x{m['height']} @ {m['refresh_hz']} Hz")
    return 0
