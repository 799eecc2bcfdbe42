"""Benchmark the CPU thread policy: live and render, quiet and with every core busy, before and after.

    .venv/bin/python tools/bench_threads.py [--before-rev main] [--repeats 3]

Runs ``livegan live --headless`` (the builtin model at 512 px, a song on the file clock) and
``livegan render --demo`` as a user would, as separate processes, once with the machine as it is
("quiet") and once with every core loaded by another program (``stress-ng --cpu N``, or plain
Python busy loops where stress-ng is missing). "before" is the code at ``--before-rev`` (checked
out with ``git archive`` into a temporary folder); "after" is this tree. ``--variant NAME=ENV=VAL,...``
adds runs of this tree with extra environment (e.g. ``1t=LIVEGAN_THREADS=1``) to compare policies.

Writes ``bench/results/threads-<date>.json``: every run (fps, load average before it) and the
medians per cell, with the loaded/quiet ratio (goal: >= 0.40). Other people may share the
machine: each run records the load average before it and how many cores the rest of the
machine kept busy while it ran (``others_cores``, from /proc/stat less the run's own CPU time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.benchinfo import RESULTS_DIR, machine_info  # noqa: E402

GOAL = 0.40


def busy_start(n: int) -> list[subprocess.Popen]:
    """Load ``n`` cores with another program, at normal priority (as DJ software would)."""
    if shutil.which("stress-ng"):
        return [subprocess.Popen(["stress-ng", "--cpu", str(n), "--cpu-method", "matrixprod", "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(n)]


def busy_stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            os.killpg(p.pid, 15)  # stress-ng's workers are its children, in its own session
        except ProcessLookupError:
            pass
        p.wait(timeout=10)


def checkout(rev: str, into: Path) -> str:
    """``rev``'s files in ``into``; returns the full commit hash."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return sha


def cpu_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat), for 'others' load."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(limit: float, max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) for the 1-minute load average to fall under ``limit``; returns it."""
    end = time.monotonic() + max_wait_s
    while os.getloadavg()[0] >= limit and time.monotonic() < end:
        time.sleep(5.0)
    return os.getloadavg()[0]


def demo_wav(path: Path) -> Path:
    import soundfile as sf  # noqa: PLC0415

    from livegan.audio.demo import demo_track  # noqa: PLC0415

    clip = demo_track()
    sf.write(str(path), clip.samples, clip.sample_rate)
    return path


def run_once(code: Path, env_extra: dict[str, str], workload: str, args: argparse.Namespace, tmp: Path,
             wav: Path) -> dict:
    stats = tmp / "stats.json"
    stats.unlink(missing_ok=True)
    if workload == "live":
        cmd = ["live", "--headless", "--file", str(wav), "--no-playback", "--duration", str(args.live_seconds),
               "--size", "512", "--stats-json", str(stats)]
    else:
        cmd = ["render", "--demo", "--duration", str(args.render_seconds), "-o", str(tmp / "out.mp4"),
               "--quiet", "--stats-json", str(stats)]
        shutil.rmtree(tmp / ".out.mp4.chunks", ignore_errors=True)
        (tmp / "out.mp4").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "LIVEGAN_THREADS")}
    env.update(PYTHONPATH=str(code), **env_extra)
    load = os.getloadavg()[0]
    busy0, t0 = cpu_busy_s(), time.perf_counter()
    with open(tmp / "stderr.txt", "w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "livegan", *cmd], env=env, stdout=subprocess.DEVNULL,
                                stderr=err, cwd=tmp)
        _, status, usage = os.wait4(proc.pid, 0)  # this run's own CPU time, children included
        wall = time.perf_counter() - t0
        busy = cpu_busy_s() - busy0
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{workload} failed: {err.read()[-2000:]}")
    own = usage.ru_utime + usage.ru_stime
    data = json.loads(stats.read_text())
    row = {"workload": workload, "load1_before": round(load, 2), "wall_s": round(wall, 1),
           # cores the rest of the machine kept busy meanwhile (other users; stress-ng when busy)
           "others_cores": round(max(0.0, busy - own) / wall, 2), "own_cores": round(own / wall, 2),
           "fps": round(data["fps"], 2)}
    if workload == "live":
        row.update(model_fps=round(data["model_fps"], 2), frame_ms_p99=round(data["frame_ms_p99"], 1))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-rev", default="main", help="git revision of the 'before' code")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--live-seconds", type=float, default=20.0)
    ap.add_argument("--render-seconds", type=float, default=10.0, help="seconds of the demo track to render")
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="cores to load")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=VAR=VAL[,VAR=VAL]",
                    help="an extra 'after' configuration with environment overrides")
    ap.add_argument("--skip-before", action="store_true")
    ap.add_argument("--quiet-load", type=float, default=0.5,
                    help="before each quiet run, wait for the load average to fall under this ...")
    ap.add_argument("--max-wait", type=float, default=90.0, help="... for at most this many seconds")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        configs: list[tuple[str, Path, dict[str, str]]] = []
        before_sha = None
        if not args.skip_before:
            (tmp / "before").mkdir()
            before_sha = checkout(args.before_rev, tmp / "before")
            configs.append(("before", tmp / "before", {}))
        configs.append(("after", ROOT, {}))
        for spec in args.variant:
            name, _, assigns = spec.partition("=")
            env = dict(a.split("=", 1) for a in assigns.split(","))
            configs.append((name, ROOT, env))
        wav = demo_wav(tmp / "demo.wav")
        for busy in (False, True):
            procs = busy_start(args.busy) if busy else []
            try:
                time.sleep(2.0 if busy else 0.0)
                for rep in range(args.repeats):
                    for name, code, env in configs:  # interleaved, so drift in the machine hits all alike
                        for workload in ("live", "render"):
                            if not busy:
                                wait_for_quiet(args.quiet_load, args.max_wait)
                            row = run_once(code, env, workload, args, tmp, wav)
                            row.update(config=name, machine="busy" if busy else "quiet", repeat=rep)
                            print(json.dumps(row), flush=True)
                            results.append(row)
            finally:
                busy_stop(procs)
    cells = {}
    for name in dict.fromkeys(r["config"] for r in results):
        for workload in ("live", "render"):
            cell = {}
            for machine in ("quiet", "busy"):
                rows = [r for r in results if (r["config"], r["workload"], r["machine"]) == (name, workload, machine)]
                cell[f"{machine}_fps"] = round(statistics.median(r["fps"] for r in rows), 2)
                cell[f"{machine}_others_cores"] = round(statistics.median(r["others_cores"] for r in rows), 2)
                if workload == "live":
                    cell[f"{machine}_model_fps"] = round(statistics.median(r["model_fps"] for r in rows), 2)
            key = "model_fps" if workload == "live" else "fps"
            cell["busy_over_quiet"] = round(cell[f"busy_{key}"] / cell[f"quiet_{key}"], 3)
            cell["goal_met"] = cell["busy_over_quiet"] >= GOAL
            cells[f"{name}/{workload}"] = cell
    payload = {
        "machine": machine_info(),
        "benchmark": "thread policy: builtin 512 px live (headless, file clock) and demo render, quiet vs busy",
        "busy_load": f"stress-ng --cpu {args.busy}" if shutil.which("stress-ng") else f"{args.busy} python busy loops",
        "before_rev": args.before_rev, "before_sha": before_sha,
        "live_seconds": args.live_seconds, "render_seconds": args.render_seconds, "repeats": args.repeats,
        "goal": f"busy >= {GOAL:.0%} of quiet (live: model fps; render: fps)",
        "medians": cells,
        "runs": results,
    }
    out = Path(args.out) if args.out else RESULTS_DIR / f"threads-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(cells, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
