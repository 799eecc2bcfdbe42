"""``livegan analyze AUDIO -o DIR``: the reactivity report (plots + numbers) for a preset and model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..conductor.preset import DEFAULT_PRESET
from ..errors import LiveganError


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="reactivity report: how the picture follows the music",
                       description="Analyse AUDIO (tempo, beats, drops, sections), drive the generator with a "
                                   "preset, and write PNG plots and numbers (onset/visual correlation, "
                                   "visual change in silence, response latency).")
    p.add_argument("audio", nargs="?", help="WAV, FLAC, OGG or MP3 file (omit with --demo or --track)")
    p.add_argument("-o", "--output", required=True, help="directory for the PNG plots and report.json")
    p.add_argument("--demo", action="store_true", help="analyse the built-in demo track")
    p.add_argument("--track", default=None,
                   help="a generated test track: builddrop, halftime, sparsefull, bassentry or steady")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"preset name or .toml path (default {DEFAULT_PRESET})")
    p.add_argument("--model", default="builtin", help="builtin, builtin:SEED, a StyleGAN .pkl or .safetensors")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    p.add_argument("--fps", type=int, default=24, help="video frames per second to measure at (default 24)")
    p.add_argument("--size", type=int, default=64, help="side of the measured frames in pixels (default 64)")
    p.add_argument("--seed", type=int, default=None, help="latent seed (default: the preset's, else 0)")
    p.add_argument("--start", type=float, default=0.0, help="start time in the audio (s)")
    p.add_argument("--duration", type=float, default=None, help="seconds to analyse (default: to the end)")
    p.add_argument("--name", default=None, help="file name stem of the plots (default: from the audio)")


def run(args: argparse.Namespace) -> int:
    from ..audio.io import load_audio
    from ..render.offline import slice_clip
    from ..report.plots import plot_overview, plot_zoom
    from ..report.reactivity import measure
    from ..report.tracks import make_track

    if sum(bool(x) for x in (args.audio, args.demo, args.track)) != 1:
        raise LiveganError("give exactly one of AUDIO, --demo or --track NAME")
    if not 1 <= args.fps <= 120:
        raise LiveganError(f"--fps {args.fps}: expected 1 to 120")
    if not 16 <= args.size <= 1024:
        raise LiveganError(f"--size {args.size}: expected 16 to 1024")
    true_bpm = silences = None
    if args.demo or args.track:
        name = "demo" if args.demo else args.track
        try:
            track = make_track(name)
        except ValueError as exc:
            raise LiveganError(f"--track {args.track}: {exc}") from None
        clip, true_bpm = track.clip, track.bpm
        if track.silence is not None and args.start == 0 and args.duration is None:
            silences = [track.silence]
        stem = args.name or name
    else:
        clip = load_audio(args.audio)
        stem = args.name or Path(args.audio).stem
    clip = slice_clip(clip, args.start, args.duration)
    from ..models.load import parse_builtin  # noqa: PLC0415
    from ..session import Session, SessionSpec  # noqa: PLC0415

    # The report only needs small frames: the embedded model renders at that size.
    small = max(16, args.size) if parse_builtin(args.model) is not None else None
    session = Session(SessionSpec(model=args.model, preset=args.preset, seed=args.seed, model_size=small,
                                  device="cpu", sample_rate=int(clip.sample_rate)))
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LiveganError(f"-o {args.output}: cannot create the directory ({exc.strerror})") from None

    r = measure(clip, session, fps=args.fps, size=args.size, true_bpm=true_bpm, silences=silences)
    numbers = {"audio": stem, "preset": args.preset, "model": args.model, **r.summary()}
    title = f"{stem} / preset {args.preset}"
    plot_overview(r, out / f"report-{stem}.png", title)
    zoom_at = min(max(r.duration / 3.0, 0.0), max(r.duration - 4.0, 0.0))
    plot_zoom(r, out / f"report-{stem}-zoom.png", zoom_at, 4.0, title)
    text = json.dumps(numbers, indent=1)
    (out / f"report-{stem}.json").write_text(text)
    if args.json:
        Path(args.json).write_text(text)
    print(f"{stem}: tempo {numbers['tempo_bpm']} BPM (confidence {numbers['tempo_confidence']}), "
          f"{len(numbers['beats'])} beats, {len(numbers['bars'])} bars, drops {numbers['drops']}, "
          f"onset/visual r {numbers['onset_visual_correlation']}, silence change {numbers['silence_visual_change']}, "
          f"latency {numbers['response_latency_s']} s -> {out}")
    return 0
