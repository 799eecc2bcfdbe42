"""``livegan render AUDIO -o OUT.mp4``: offline, frame-exact, with the original audio.

``--replay SET`` re-renders a set recorded live at the instants the audience saw (or at
``--fps N``); ``--check`` compares the re-rendered pictures with the set's thumbnails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conductor.preset import DEFAULT_PRESET
from ..errors import LiveganError
from ..threads import ENV, threads_arg


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a music video from an audio file",
                       description="Render AUDIO to an H.264 MP4 with the original audio muxed, through the "
                                   "preset's effect chain (as the live show draws it).")
    p.add_argument("audio", nargs="?", help="WAV, FLAC, OGG or MP3 file (omit with --demo or --replay)")
    p.add_argument("-o", "--output", default=None, help="output .mp4 path (optional with --replay SET --check)")
    p.add_argument("--demo", action="store_true", help="render the built-in 30 s demo track instead of AUDIO")
    p.add_argument("--preset", default=None, help=f"preset name or .toml path (default {DEFAULT_PRESET}; "
                                                  f"with --replay, the set's)")
    p.add_argument("--model", default=None, help="builtin, builtin:SEED, a StyleGAN .pkl or .safetensors "
                                                 "(default builtin; with --replay, the set's)")
    p.add_argument("--model-size", type=int, default=None, metavar="N",
                   help="side the model's frames are made at (default: the model's own, builtin 512; "
                        "with --replay, the set's)")
    p.add_argument("--size", default=None, help="output WIDTHxHEIGHT (default 512x512; with --replay, the live size)")
    p.add_argument("--fps", type=float, default=None,
                   help="frames per second (default 30; with --replay, the live display rate and its instants)")
    p.add_argument("--seed", type=int, default=None, help="latent seed (default: the preset's, else 0)")
    p.add_argument("--start", type=float, default=0.0, help="start time in the audio (s)")
    p.add_argument("--duration", type=float, default=None, help="seconds to render (default: to the end)")
    p.add_argument("--batch", type=int, default=None,
                   help="frames per generator call (default 8; a replay at the live instants: 1, as live)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when present)")
    p.add_argument("--threads", type=threads_arg, default=None,
                   help=f"torch CPU threads (default: {ENV}, else every core)")
    p.add_argument("--crf", type=int, default=18, help="x264 quality (lower is better)")
    p.add_argument("--x264-preset", default="veryfast", help="x264 speed preset")
    p.add_argument("--lossless", action="store_true",
                   help="lossless RGB H.264 (x264 crf 0): a master whose frames decode exactly as rendered")
    p.add_argument("--shaders", default=None, metavar="DIR", help="effect shader folder (default: shaders/)")
    p.add_argument("--no-effects", action="store_true",
                   help="skip the preset's shader effects (the model's frames, scaled to --size)")
    p.add_argument("--replay", default=None, metavar="SET", help="a set recorded with `livegan live --record`")
    p.add_argument("--check", action="store_true",
                   help="with --replay: compare the re-rendered frames with the set's live thumbnails; "
                        "exit 1 when they differ by more than 2 levels")
    p.add_argument("--stats-json", default=None, help="write timings here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted render of the same settings from its last complete chunk")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="render on a Ray cluster with N workers, one GPU each where there are GPUs "
                        "(without --ray-address: a cluster on this machine; needs livegan[cluster])")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="join the Ray cluster whose head is at ADDR (HOST:PORT, or auto) and render on it "
                        "(default --workers: one per GPU there)")
    add_tempo_options(p)


def add_tempo_options(p) -> None:
    """A known tempo instead of the detector's (issue 18; moves to the option table with the others)."""
    tempo = p.add_mutually_exclusive_group()
    tempo.add_argument("--link-tempo", type=float, default=None, metavar="BPM",
                       help="follow this tempo (e.g. the Link session's), beat 0 on the audio's start, instead of "
                            "the detector's")
    tempo.add_argument("--tempo-map", default=None, metavar="FILE",
                       help="follow the tempo changes in FILE: lines 'SECONDS BPM', the first row on a bar line")


def tempo_source(args: argparse.Namespace):
    """The render's leading clock from --link-tempo / --tempo-map (None: the detector, taps, manual)."""
    from ..clock.tempo_map import TempoMap, load_tempo_map  # noqa: PLC0415

    if args.link_tempo is not None:
        return TempoMap.constant(args.link_tempo, offset=args.start)
    if args.tempo_map is not None:
        return load_tempo_map(args.tempo_map, offset=args.start)
    return None


def _identity(model: str, replay: str | None) -> dict:
    """What --resume must find unchanged besides the audio and preset: the model and replayed set files."""
    ident = {}
    for key, name in (("model_file", model), ("replay_file", replay)):
        p = Path(name) if name else None
        if p is not None and p.is_file():
            st = p.stat()
            ident[key] = [st.st_size, st.st_mtime_ns]
    return ident


def session_spec(args: argparse.Namespace, sample_rate: int, live: dict | None = None):
    """The session a render builds: from the arguments, else (``--replay``) the set's ``live`` session."""
    from ..session import SessionSpec  # noqa: PLC0415

    live = live or {}
    return SessionSpec(model=args.model or live.get("model") or "builtin",
                       preset=args.preset or live.get("preset") or DEFAULT_PRESET, seed=args.seed,
                       model_size=args.model_size or live.get("model_size"), device=args.device or "auto",
                       shader_dir=args.shaders or live.get("shader_dir"), sample_rate=sample_rate)


def _check_args(args: argparse.Namespace) -> None:
    """Every argument that can be checked without reading a file, so a typo writes nothing."""
    if args.batch is not None and args.batch < 1:
        raise LiveganError(f"--batch {args.batch}: must be at least 1")
    if args.model_size is not None and not 16 <= args.model_size <= 4096:
        raise LiveganError(f"--model-size {args.model_size}: must be 16..4096")
    if args.check and not args.replay:
        raise LiveganError("--check compares a replay with its recording: give --replay SET")
    if args.output is None and not (args.replay and args.check):
        raise LiveganError("-o OUT.mp4 is required (only --replay SET --check runs without it)")
    if args.output is not None and Path(args.output).suffix.lower() not in (".mp4", ".mov", ".m4v"):
        raise LiveganError(f"-o {args.output}: the output must be an .mp4 (or .mov/.m4v) file")
    if args.replay and (args.audio or args.demo):
        raise LiveganError("--replay renders the set's own audio: leave out AUDIO and --demo")
    if args.replay and (args.start or args.duration is not None):
        raise LiveganError("--replay renders the whole set: leave out --start and --duration")
    if args.output is not None:
        out = Path(args.output)
        if not out.parent.is_dir():  # never create folders on a typo (docs/faults.md)
            raise LiveganError(f"-o {args.output}: folder {out.parent} does not exist (create it first)")
        if not os.access(out.parent, os.W_OK):
            raise LiveganError(f"-o {args.output}: folder {out.parent} is not writable")
    if args.workers is not None or args.ray_address is not None:
        from ..cluster.connect import ClusterOptions, import_ray, on_loopback  # noqa: PLC0415

        ClusterOptions(args.workers, args.ray_address)  # checks the values
        import_ray(on_loopback(args.ray_address))  # or one line naming the extra
    if args.replay and (args.link_tempo is not None or args.tempo_map):
        raise LiveganError("--replay follows the set's own clock: leave out --link-tempo and --tempo-map")


@dataclass(frozen=True)
class _Output:
    """What every kind of render shares from the arguments."""

    path: Path | None
    size: tuple[int, int] | None
    fps: int | None
    encoding: Any
    progress: bool


def _output(args: argparse.Namespace) -> _Output:
    from ..render.encoder import Encoding  # noqa: PLC0415
    from ..render.offline import check_fps, parse_size  # noqa: PLC0415

    return _Output(Path(args.output) if args.output else None, parse_size(args.size) if args.size else None,
                   check_fps(args.fps) if args.fps is not None else None,
                   Encoding(args.crf, args.x264_preset, args.lossless), not args.quiet)


def _on_cluster(args: argparse.Namespace) -> bool:
    return args.workers is not None or args.ray_address is not None


def _renderer(args: argparse.Namespace):
    """``offline.render``, or the same on a Ray cluster (``--workers``/``--ray-address``)."""
    if not _on_cluster(args):
        from ..render.offline import render  # noqa: PLC0415

        return render
    from functools import partial  # noqa: PLC0415

    from ..cluster.connect import ClusterOptions  # noqa: PLC0415
    from ..cluster.driver import render_on_cluster  # noqa: PLC0415

    return partial(render_on_cluster, options=ClusterOptions(args.workers, args.ray_address))


def _render_audio(args: argparse.Namespace, o: _Output):
    """A song (or the demo) through a fresh session."""
    from ..audio.io import load_audio  # noqa: PLC0415
    from ..render.offline import slice_clip  # noqa: PLC0415
    from ..session import Session  # noqa: PLC0415

    if args.demo:
        if args.audio:
            raise LiveganError("give either AUDIO or --demo, not both")
        from ..audio.demo import demo_track  # noqa: PLC0415

        clip = demo_track()
    else:
        if not args.audio:
            raise LiveganError("no audio: give an AUDIO file, or --demo")
        clip = load_audio(args.audio)
    tempo = tempo_source(args)  # a bad tempo map fails before the model loads
    clip = slice_clip(clip, args.start, args.duration)
    # On a cluster the workers build the model; the driver only reads its weights.
    session = Session(session_spec(args, int(clip.sample_rate)), load_model=not _on_cluster(args))
    session.performance.tempo = tempo
    return _renderer(args)(clip, o.path, session, size=o.size or (512, 512), fps=o.fps or 30, batch=args.batch or 8,
                  progress=o.progress, encoding=o.encoding, resume=args.resume,
                  identity=_identity(session.spec.model, None), effects=not args.no_effects)


def _render_replay(args: argparse.Namespace, o: _Output):
    """A recorded set: at the live instants (exact, checkable), or anew at ``--fps``."""
    from ..clock.recorded import recorded_tempo  # noqa: PLC0415
    from ..record.replay import SetReplayer  # noqa: PLC0415
    from ..record.setfile import load_set  # noqa: PLC0415
    from ..render.replay import render_replay  # noqa: PLC0415
    from ..session import Session  # noqa: PLC0415

    recorded = load_set(args.replay)
    if args.seed is not None:
        raise LiveganError("--replay uses the set's seed: leave out --seed")
    spec = session_spec(args, recorded.sample_rate, recorded.meta.get("session", {}))
    exact = o.fps is None and len(recorded.display) > 0
    if not exact and args.check:
        raise LiveganError("--check compares the live instants: leave out --fps")
    live_size = tuple(recorded.meta.get("output_size") or (512, 512))
    if exact and args.check and o.size is not None and tuple(o.size) != live_size:
        raise LiveganError(f"--check compares at the live size {live_size[0]}x{live_size[1]}: leave out --size")
    threads = recorded.meta.get("torch_threads")
    if exact and threads:
        # The live path's own arithmetic: the live thread count from before the model is built
        # (its constants too), one frame per call. Float sums then run in the same order and
        # the pictures match the live ones bit for bit.
        import torch  # noqa: PLC0415

        torch.set_num_threads(int(threads))
    # The set's own start values replace the preset's as the replay begins.
    session = Session(spec, load_model=exact or not _on_cluster(args))
    session.performance.tempo = recorded_tempo(recorded)  # a show led by Link or MIDI clock: what it said
    identity = _identity(spec.model, args.replay)
    if exact:
        if _on_cluster(args):
            # Every displayed record is drawn in order, crossfading the model frames: one machine.
            print("livegan: --replay at the live instants renders on this machine (give --fps N to render "
                  "on the cluster)", file=sys.stderr)
        refresh = max(1, round(float(recorded.meta.get("refresh_hz", 30.0))))
        return render_replay(recorded, o.path, session, o.size or live_size, refresh, batch=args.batch or 1,
                             progress=o.progress, encoding=o.encoding, resume=args.resume, check=args.check,
                             identity=identity)
    return _renderer(args)(recorded.audio, o.path, session, size=o.size or (512, 512), fps=o.fps or 30,
                           batch=args.batch or 8, progress=o.progress, encoding=o.encoding,
                           on_time=SetReplayer(recorded, session.registry).advance, resume=args.resume,
                           identity=identity, effects=not args.no_effects)


def run(args: argparse.Namespace) -> int:
    from ..render.replay import CHECK_LIMIT  # noqa: PLC0415

    _check_args(args)
    o = _output(args)
    if not args.replay:  # the preset's own errors before the audio's, or an interrupted render's
        from ..conductor.preset import load_preset  # noqa: PLC0415
        from ..session import session_registry  # noqa: PLC0415

        load_preset(args.preset or DEFAULT_PRESET, session_registry(args.shaders))
    result = _render_replay(args, o) if args.replay else _render_audio(args, o)
    t, check = result.timings, result.check
    if result.path is not None:
        print(f"{result.path}  {result.frames} frames, {result.duration:.2f} s, {result.size[0]}x{result.size[1]} "
              f"@ {result.fps} fps  (rendered at {t.get('fps', 0.0):.1f} fps)")
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps({"frames": result.frames, "resumed_chunks": result.resumed_chunks,
                                                     **t, **({"check": check} if check else {})}, indent=2))
    if check is not None:
        print(check["line"])
        if check["frames"] == 0:
            raise LiveganError(f"--check: {args.replay} keeps no thumbnails at the replayed size")
        return 1 if check["max_diff"] > CHECK_LIMIT else 0
    return 0
