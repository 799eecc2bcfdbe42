"""Benchmark: what refusing each hostile or broken model file costs (time, peak memory).

    .venv/bin/python tools/bench_hostile.py   (writes bench/results/hostile-<date>.json)

Writes every case of ``livegan/testing/hostile_models.py`` (code payloads, stride and shape
bombs, storages claiming more than the file holds, kwargs beyond NVIDIA's trainers, doctored
safetensors headers) and measures each two ways: ``livegan info FILE`` as a new process, as a
user meets it (exit code, wall time, peak RSS of that process, Python and torch start-up
included), and the refusal alone inside one warm process (wall time, peak RSS it adds). The
budget (issue 13): every file refused in < 2 s and < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.benchinfo import write_result  # noqa: E402
from livegan.testing.hostile_models import HostileCase, measure_cli, write_corpus  # noqa: E402

BUDGET_S, BUDGET_MB = 2.0, 300.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="CLI runs per case (the median is reported)")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = write_corpus(folder / "corpus", folder / "pwned")
        runs = [measure_cli(cases, [sys.executable, "-m", "livegan"]) for _ in range(args.repeats)]
        # The same command on a file that is not there: Python and torch start-up alone, under the
        # same machine load (the part of each case's wall time no loader change can remove).
        missing = HostileCase("missing_file", folder / "nosuch.pkl", "no such model file")
        start = [measure_cli([missing], [sys.executable, "-m", "livegan"])[0] for _ in range(args.repeats)]
        inner = json.loads(subprocess.run([sys.executable, "-m", "livegan.testing.hostile_models", str(folder / "in")],
                                          capture_output=True, text=True, env=env, check=True).stdout)
        sizes = {c.name: c.path.stat().st_size for c in cases}
        payload_ran = (folder / "pwned").exists() or inner["marker_exists"]
    in_process = {r["case"]: r for r in inner["rows"]}
    rows = []
    for i, case in enumerate(cases):
        cli = [run[i] for run in runs]
        row = {
            "case": case.name, "file_kb": round(sizes[case.name] / 1024, 1),
            "exit": cli[0]["exit"], "message": cli[0]["stderr"].strip().split(": ", 2)[-1],
            "cli_wall_s": round(statistics.median(r["wall_s"] for r in cli), 3),
            "cli_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in cli), 1),
            "refusal_ms": round(in_process[case.name]["wall_s"] * 1000, 2),
            "refusal_added_mb": in_process[case.name]["added_mb"],
        }
        row["within_budget"] = row["exit"] == 2 and row["cli_wall_s"] < BUDGET_S and row["cli_peak_rss_mb"] < BUDGET_MB
        rows.append(row)
        print(f"{row['case']:<18} exit {row['exit']}  {row['cli_wall_s']:6.2f} s  {row['cli_peak_rss_mb']:6.1f} MB  "
              f"(refusal {row['refusal_ms']:7.2f} ms, +{row['refusal_added_mb']} MB)")
    path = write_result("hostile", {
        "benchmark": "hostile model files refused by `livegan info` (median of repeats)",
        "budget": {"wall_s": BUDGET_S, "peak_rss_mb": BUDGET_MB},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "startup_baseline": {"case": "livegan info nosuch.pkl (start-up and refusal, no file read)",
                             "cli_wall_s": round(statistics.median(r["wall_s"] for r in start), 3),
                             "cli_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in start), 1)},
        "all_within_budget": all(r["within_budget"] for r in rows),
        "payload_ran": payload_ran,
        "results": rows,
    }, tag="cpu")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
