"""Every option of ``livegan live``, declared once.

The table feeds argparse (``add_options``: ``--help`` shows the groups audio, picture,
control, recording), the docs (``options_markdown``, in docs/osc.md by
tools/gen_osc_docs.py) and the HUD (``hud_label``: the word the HUD shows before what an
option turned on).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from ..argtypes import host_address, listen_port, port_number
from ..threads import ENV, threads_arg

GROUPS = {
    "audio": "audio: what livegan listens to",
    "picture": "picture: the model, the preset and the output",
    "control": "control: OSC, OSCQuery, the web remote, MIDI, preset files",
    "sync": "sync: tempo from Link or MIDI clock; the picture out to other software",
    "recording": "recording: sets, figures and how long to run",
}
DEFAULT_OSC_PORT = 9000
LOOPBACK = "127.0.0.1"


def window_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--window {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"--window {text!r}: sides must be 16..16384")
    return w, h


def target(text: str) -> str:
    """``HOST:PORT`` (or ``PORT`` for 127.0.0.1), checked now so a typo fails at start."""
    from ..control.osc_out import OscTarget  # noqa: PLC0415
    from ..errors import LiveganError  # noqa: PLC0415

    try:
        OscTarget.parse(text)
    except LiveganError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def rate(text: str) -> float:
    from ..control.osc_out import MAX_RATE_HZ, MIN_RATE_HZ  # noqa: PLC0415

    try:
        r = float(text)
    except ValueError:
        r = -1.0
    if not MIN_RATE_HZ <= r <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(f"{text!r}: sends per second must be {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g}")
    return r


def allow(text: str) -> str:
    from ..control.osc_validate import parse_allow  # noqa: PLC0415

    try:
        parse_allow([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    group: str
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)  # argparse's: type, default, action, metavar ...
    hud: str = ""  # the HUD's word for what this option runs (control options)
    exclusive: str = ""  # options sharing this name exclude each other

    @property
    def dest(self) -> str:
        return self.kwargs.get("dest") or self.flags[0].lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    # ---- audio
    Option(("--audio-device",), "audio", "audio input (see `livegan devices`)", {"metavar": "NAME|INDEX"},
           exclusive="source"),
    Option(("--file",), "audio", "play a song to the output device and follow it", {"metavar": "SONG"},
           exclusive="source"),
    Option(("--no-playback",), "audio", "with --file: do not play it, run on the file's clock",
           {"action": "store_true"}),
    Option(("--output-device",), "audio", "with --file: where to play it", {"metavar": "NAME|INDEX"}),
    Option(("--sample-rate",), "audio", "capture rate for --audio-device (default 48000)",
           {"type": int, "default": 48000, "metavar": "HZ"}),
    # ---- picture
    Option(("--model",), "picture", "builtin, builtin:SEED, a .pkl or .safetensors file (default builtin)",
           {"default": "builtin"}),
    Option(("--preset",), "picture", "preset name or .toml file", {"default": None}),
    Option(("--seed",), "picture", "latent seed (default: the preset's, else 0)", {"type": int, "default": None}),
    Option(("--size",), "picture", "model picture size in pixels (default 512)", {"type": int, "default": 512}),
    Option(("--window",), "picture", "output size (default 1280x720; headless: the model size)",
           {"type": window_size, "default": None, "metavar": "WxH"}),
    Option(("--monitor",), "picture", "monitor index for the window", {"type": int, "default": 0}),
    Option(("--fullscreen",), "picture", "start fullscreen (F toggles)", {"action": "store_true"}),
    Option(("--headless",), "picture", "render offscreen through EGL (no window)", {"action": "store_true"}),
    Option(("--fps",), "picture", "headless display rate (a window follows its monitor; default 60)",
           {"type": float, "default": 60.0}),
    Option(("--shaders",), "picture", "effect shader folder (default: shaders/)", {"default": None, "metavar": "DIR"}),
    Option(("--no-hud",), "picture", "start with the HUD hidden (H toggles)", {"action": "store_true"}),
    Option(("--device",), "picture", "torch device: auto, cpu, cuda", {"default": "auto"}),
    Option(("--threads",), "picture", f"torch CPU threads (default: {ENV}, else every core but one, at most 4)",
           {"type": threads_arg, "default": None}),
    # ---- control
    Option(("--osc-host",), "control", "address to receive OSC on (default 127.0.0.1; 0.0.0.0 accepts "
           "controllers on the network: pair it with --osc-allow)", {"type": host_address, "default": LOOPBACK, "metavar": "IP"}),
    Option(("--osc-port",), "control", f"UDP port to receive OSC on (default {DEFAULT_OSC_PORT}; if that one is "
           "taken the show runs without OSC and says so; a port given here that is taken is an error)",
           {"type": port_number, "default": None, "metavar": "PORT"}, hud="OSC"),
    Option(("--no-osc",), "control", "do not receive OSC", {"action": "store_true"}),
    Option(("--osc-allow",), "control", "only these senders may control livegan over OSC: addresses or "
           "networks, comma-separated (repeatable; default: anyone who can reach --osc-host)",
           {"type": allow, "action": "append", "default": [], "metavar": "IP[/BITS]"}),
    Option(("--osc-reply-port",), "control", "send replies (values asked for, error replies) to this port on "
           "the sender's host (default: the port they came from)", {"type": port_number, "default": None, "metavar": "PORT"}),
    Option(("--osc-out",), "control", "send the music's features and every parameter change here (repeatable)",
           {"type": target, "action": "append", "default": [], "metavar": "HOST:PORT"}, hud="OUT"),
    Option(("--osc-out-rate",), "control", "feature sends per second to --osc-out and the WebSocket (default 30)",
           {"type": rate, "default": 30.0, "metavar": "HZ"}),
    Option(("--oscquery-port",), "control", "serve OSCQuery (HTTP and WebSocket) and the web remote on this "
           "port (0: any free one; default off)", {"type": listen_port, "default": None, "metavar": "PORT"}, hud="QUERY"),
    Option(("--oscquery-announce",), "control", "announce OSCQuery over zeroconf (multicast on every network "
           "interface; needs the 'zeroconf' package)", {"action": "store_true"}),
    Option(("--http-host",), "control", "address the OSCQuery port and web remote listen on (default 127.0.0.1; "
           "any other needs the token the HUD shows)", {"type": host_address, "default": LOOPBACK, "metavar": "IP"}, hud="WEB"),
    Option(("--watch-preset",), "control", "re-apply the preset when its file changes (a broken save keeps the "
           "look on screen and says file:line)", {"action": "store_true"}, hud="WATCH"),
    Option(("--midi-in",), "control", "MIDI input port to follow (name substring; needs livegan[midi])",
           {"default": None, "metavar": "NAME"}, hud="MIDI"),
    Option(("--midi-virtual",), "control", "create the --midi-in port (controllers connect to it) instead of "
           "opening an existing one", {"action": "store_true"}),
    Option(("--midi-api",), "control", "rtmidi API for every MIDI port (--midi-in, --midi-clock-in/out): "
           "UNIX_JACK, LINUX_ALSA, MACOSX_CORE, WINDOWS_MM",
           {"default": None, "choices": ("UNIX_JACK", "LINUX_ALSA", "MACOSX_CORE", "WINDOWS_MM")}),
    Option(("--midi-map",), "control", "MIDI mappings to load, and to save learnt ones to at the end",
           {"default": None, "metavar": "TOML"}),
    # ---- sync and video out (docs/rig.md)
    Option(("--link",), "sync", "join the Ableton Link session on the network: its tempo and bar phase lead the beat "
           "clock, a tempo set here is proposed to it (needs livegan[link]; Link is GPL-2.0+)",
           {"action": "store_true"}, hud="LINK"),
    Option(("--midi-clock-in",), "sync", "follow MIDI clock (24 ppqn, start/stop/continue, song position) from this "
           "port (a name substring; none matching: a virtual port of that name); Link leads when both are on",
           {"default": None, "metavar": "PORT"}, hud="CLOCK IN"),
    Option(("--midi-clock-out",), "sync", "send the show's beat clock as MIDI clock to this port (a name substring; "
           "none matching: a virtual port of that name)", {"default": None, "metavar": "PORT"}, hud="CLOCK OUT"),
    Option(("--stream",), "sync", "send the picture as low-latency H.264: udp://HOST:PORT or tcp://HOST:PORT "
           "(MPEG-TS), rtmp://HOST/APP/KEY, srt:// where FFmpeg has it", {"default": None, "metavar": "URL"},
           hud="STREAM"),
    Option(("--ndi",), "sync", "send the picture as the NDI source NAME (needs livegan[ndi])",
           {"default": None, "metavar": "NAME"}, hud="NDI"),
    Option(("--virtual-camera",), "sync", "send the picture to a virtual webcam (v4l2loopback on Linux; needs "
           "livegan[vcam])", {"nargs": "?", "const": "", "default": None, "metavar": "DEVICE"}, hud="VCAM"),
    # ---- recording
    Option(("--record",), "recording", "record the input audio and every parameter change into the folder SET "
           "(re-render it with `livegan render --replay SET`)", {"default": None, "metavar": "SET"}),
    Option(("--stats-json",), "recording", "write fps, frame time and latency figures here", {"metavar": "FILE"}),
    Option(("--duration",), "recording", "stop after S seconds", {"type": float, "default": None, "metavar": "S"}),
)


def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...] = OPTIONS) -> None:
    groups = {g: parser.add_argument_group(title) for g, title in GROUPS.items()}
    exclusive: dict[str, Any] = {}
    for opt in options:
        target_group: Any = groups[opt.group]
        if opt.exclusive:
            if opt.exclusive not in exclusive:
                exclusive[opt.exclusive] = groups[opt.group].add_mutually_exclusive_group()
            target_group = exclusive[opt.exclusive]
        target_group.add_argument(*opt.flags, help=opt.help, **opt.kwargs)


def hud_label(dest: str) -> str:
    for opt in OPTIONS:
        if opt.dest == dest:
            return opt.hud
    return ""


def _default_text(opt: Option) -> str:
    kw = opt.kwargs
    if kw.get("action") in ("store_true", "append"):
        return ""
    d = kw.get("default")
    return "" if d is None else f"`{d}`"


def options_markdown(group: str) -> str:
    """A markdown table of one group's options (docs/osc.md lists the control group)."""
    rows = ["| Option | Default | What it does |", "|---|---|---|"]
    for opt in OPTIONS:
        if opt.group != group:
            continue
        meta = opt.kwargs.get("metavar", "")
        flag = " ".join(f"`{f}{' ' + meta if meta else ''}`" for f in opt.flags)
        text = opt.help.replace("|", "\\|")
        rows.append(f"| {flag} | {_default_text(opt)} | {text} |")
    return "\n".join(rows) + "\n"
