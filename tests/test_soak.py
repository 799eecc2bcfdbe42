"""The soak harness runs and reports (the soak's goals are judged by tools/soak.py, not here).

tools/soak.py runs the real app (EGL, looped file audio, builtin model, effects, HUD) with
the real isolated OSC server, a controller process sending parameter changes, garbage and
floods, preset changes, morphs, saves and model swaps over OSC, and writes a JSON report
with a pass verdict on its goals: no display frame gap over 100 ms, RSS growth under 2 %,
no unhandled exception. Frame gaps and memory trends depend on the machine and on how
busy it is, so the goals are measured by the hour-long run (bench/results/soak-*.json) and
this test checks only that the harness exercises everything and reports it completely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
REPORT_KEYS = {"complete", "elapsed_s", "frames", "model_frames", "frame_ms_p50", "frame_ms_p99",
               "max_frame_gap_ms", "frame_gaps_over_100ms", "slow_frames_t_s_ms", "rss_timeline",
               "rss_growth_pct_after_warmup", "rss_growth_pct_first_vs_last_minute", "gc", "osc",
               "unhandled_exceptions", "logged_errors", "model_swaps", "preset_changes", "morphs", "saves",
               "settings", "pass"}


def test_soak_harness_runs_and_reports(tmp_path):
    out = tmp_path / "soak.json"
    env = dict(os.environ, EGL_PLATFORM="surfaceless")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "soak.py"), "--minutes", "0.75", "--size", "32",
                           "--warmup-s", "10", "--preset-every", "6", "--swap-every", "12", "--flood-every", "15",
                           "--flood-n", "500", "--morph-every", "8", "--save-every", "14", "--quantize-every", "10",
                           "--rss-rule", "minutes", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert out.exists(), proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert REPORT_KEYS <= set(res), REPORT_KEYS - set(res)
    assert res["complete"] and res["elapsed_s"] >= 40  # it ran for the time asked
    assert set(res["pass"]) == {"rss_growth_under_2pct", "no_gap_over_100ms", "zero_unhandled_exceptions"}
    assert proc.returncode == (0 if all(res["pass"].values()) else 1), proc.stdout[-2000:]
    # Correct behaviour, on any machine: nothing raised, no action refused, and no error logged
    # except the stall watchdog's (a handled fault a slow or busy machine can cause: the show
    # goes on with the last frame; bench/results/soak-*.json judges how often it happens).
    assert res["unhandled_exceptions"] == 0, res["unhandled_samples"]
    assert res["refused_actions"] == [], res["refused_actions"]
    others = [m for m in res["logged_error_samples"] if not m.startswith("inference stalled")]
    assert others == [], others
    # Everything was exercised: pictures, OSC (good, garbage, a flood), presets (loads, morphs,
    # saves), model swaps; and the timings the goals are judged on were recorded.
    assert res["frames"] > 0 and res["model_frames"] > 0 and res["frame_ms_p50"] > 0
    osc = res["osc"]
    assert osc["received"] > 0 and osc["flood_sent"] >= 500 and sum(osc["refused"].values()) > 0
    assert res["preset_changes"] >= 1 and res["morphs"] >= 1 and res["saves"] >= 1
    swaps = res["model_swaps"]
    assert swaps and all(s["ok"] for s in swaps), swaps
    assert len(res["rss_timeline"]) >= 3 and res["settings"]["omp_wait_policy"] == "PASSIVE"
