"""Long fuzz run over livegan's four input doors: OSC, presets, model files, audio files.

    .venv/bin/python tools/fuzz.py --minutes 5 [--out bench/results/fuzz-DATE.json]

The same targets as tests/test_fuzz_inputs.py (livegan/testing/fuzz_targets.py), driven by
a seeded random mutator for a share of the time each. A call that runs past ``--hang-s``
is interrupted and counted as a hang. Prints (and optionally writes) the counts; exits 1
if any input did something other than accept or refuse clearly.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.testing.fuzz_targets import TARGETS, Tally, Unexpected, random_mutation  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def fuzz_one(name: str, seconds: float, rng: random.Random, hang_s: float) -> Tally:
    target = TARGETS[name]()
    seeds = target.seeds()
    tally = Tally()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if seeds and rng.random() < 0.85:
                data = random_mutation(rng, rng.choice(seeds))
            else:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, hang_s)
            try:
                outcome = target(data)
                setattr(tally, outcome, getattr(tally, outcome) + 1)
            except Unexpected as exc:
                tally.failures.append(f"{exc} [input {data[:64]!r}...]")
            except Hang:
                tally.failures.append(f"hang over {hang_s} s [input {data[:64]!r}...]")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            tally.runs += 1
            tally.slowest_s = max(tally.slowest_s, time.perf_counter() - t0)
    finally:
        close = getattr(target, "close", None)
        if close:
            close()
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang-s", type=float, default=10.0)
    ap.add_argument("--only", choices=sorted(TARGETS), action="append")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import logging

    import torch

    torch.set_num_threads(1)
    logging.disable(logging.CRITICAL)  # refusals are logged by design; the tally counts them
    signal.signal(signal.SIGALRM, _alarm)
    names = args.only or list(TARGETS)
    rng = random.Random(args.seed)
    share = args.minutes * 60.0 / len(names)
    results = {}
    for name in names:
        t = fuzz_one(name, share, rng, args.hang_s)
        results[name] = {**asdict(t), "failures": t.failures[:20], "failure_count": len(t.failures),
                         "slowest_s": round(t.slowest_s, 3), "seconds": round(share, 1)}
        print(f"{name:11s} runs {t.runs:7d}  accepted {t.accepted:6d}  refused {t.refused:6d}  "
              f"failures {len(t.failures)}  slowest {t.slowest_s * 1000:.0f} ms", flush=True)
    doc = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "minutes": args.minutes,
           "seed": args.seed, "targets": results}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if any(r["failure_count"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
