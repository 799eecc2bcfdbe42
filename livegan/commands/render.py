"""``livegan render AUDIO -o OUT.mp4``: offline, frame-exact, with the original audio."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..conductor.preset import DEFAULT_PRESET, load_preset
from ..errors import LiveganError
from ..threads import ENV, threads_arg


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a music video from an audio file",
                       description="Render AUDIO to an H.264 MP4 with the original audio muxed.")
    p.add_argument("audio", nargs="?", help="WAV, FLAC, OGG or MP3 file (omit with --demo)")
    p.add_argument("-o", "--output", required=True, help="output .mp4 path")
    p.add_argument("--demo", action="store_true", help="render the built-in 30 s demo track instead of AUDIO")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"preset name or .toml path (default {DEFAULT_PRESET})")
    p.add_argument("--model", default="builtin", help="builtin, builtin:SEED, a StyleGAN .pkl or .safetensors")
    p.add_argument("--size", default="512x512", help="WIDTHxHEIGHT (default 512x512)")
    p.add_argument("--fps", type=float, default=30, help="frames per second (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent keyframes")
    p.add_argument("--start", type=float, default=0.0, help="start time in the audio (s)")
    p.add_argument("--duration", type=float, default=None, help="seconds to render (default: to the end)")
    p.add_argument("--batch", type=int, default=8, help="frames per generator call")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when present)")
    p.add_argument("--threads", type=threads_arg, default=None,
                   help=f"torch CPU threads (default: {ENV}, else every core but one)")
    p.add_argument("--crf", type=int, default=18, help="x264 quality (lower is better)")
    p.add_argument("--x264-preset", default="veryfast", help="x264 speed preset")
    p.add_argument("--replay", default=None, help="a set recorded with `livegan live --record`")
    p.add_argument("--stats-json", default=None, help="write timings here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted render of the same settings from its last complete chunk")


def _identity(args: argparse.Namespace) -> dict:
    """What --resume must find unchanged besides the audio and preset: the model and replayed set files."""
    ident = {"model": args.model}
    for key, name in (("model_file", args.model), ("replay_file", args.replay)):
        p = Path(name) if name else None
        if p is not None and p.is_file():
            st = p.stat()
            ident[key] = [st.st_size, st.st_mtime_ns]
    return ident


def run(args: argparse.Namespace) -> int:
    from ..audio.io import load_audio
    from ..models.load import load_generator
    from ..render.offline import check_fps, parse_size, render, slice_clip

    # Check every argument before doing any work, so a typo writes nothing.
    size = parse_size(args.size)
    fps = check_fps(args.fps)
    if args.batch < 1:
        raise LiveganError(f"--batch {args.batch}: must be at least 1")
    out = Path(args.output)
    if out.suffix.lower() not in (".mp4", ".mov", ".m4v"):
        raise LiveganError(f"-o {args.output}: the output must be an .mp4 (or .mov/.m4v) file")
    if not out.parent.is_dir():  # never create folders on a typo (docs/faults.md)
        raise LiveganError(f"-o {args.output}: folder {out.parent} does not exist (create it first)")
    if not os.access(out.parent, os.W_OK):
        raise LiveganError(f"-o {args.output}: folder {out.parent} is not writable")
    from ..params.definitions import make_registry  # noqa: PLC0415

    load_preset(args.preset, make_registry())  # its own errors first, before any interrupted render's
    on_time = None
    registry = None
    if args.replay:
        from ..control.recording import replay_setup

        clip, registry, on_time = replay_setup(args.replay)
    elif args.demo:
        if args.audio:
            raise LiveganError("give either AUDIO or --demo, not both")
        from ..audio.demo import demo_track

        clip = demo_track()
    else:
        if not args.audio:
            raise LiveganError("no audio: give an AUDIO file, or --demo")
        clip = load_audio(args.audio)
    clip = slice_clip(clip, args.start, args.duration)
    generator = load_generator(args.model, device="cpu")
    result = render(clip, out, generator, preset=args.preset, size=size, fps=fps, seed=args.seed,
                    batch=args.batch, device=args.device, progress=not args.quiet, crf=args.crf,
                    x264_preset=args.x264_preset, registry=registry, on_time=on_time, resume=args.resume,
                    identity=_identity(args))
    t = result.timings
    print(f"{result.path}  {result.frames} frames, {result.duration:.2f} s, {result.size[0]}x{result.size[1]} "
          f"@ {result.fps} fps  (rendered at {t['fps']:.1f} fps)")
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps({"frames": result.frames, "resumed_chunks": result.resumed_chunks,
                                                     **t}, indent=2))
    return 0
