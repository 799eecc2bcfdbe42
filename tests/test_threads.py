"""The CPU thread policy: one rule for live and render, set before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from livegan import cli, threads
from livegan.errors import LiveganError

REPO = Path(__file__).resolve().parents[1]


def test_choose_prefers_the_flag_then_the_environment_then_the_default():
    env = {"LIVEGAN_THREADS": "2"}
    for command in ("live", "render"):
        assert threads.choose(3, command, env, cpus=8) == threads.ThreadPolicy(3, "--threads")
        assert threads.choose(None, command, {"LIVEGAN_THREADS": " 2 "}, cpus=8) == \
            threads.ThreadPolicy(2, "LIVEGAN_THREADS")
    assert threads.choose(None, "render", {}, cpus=8) == threads.ThreadPolicy(8, "default")  # every core
    assert threads.choose(None, "live", {}, cpus=8) == threads.ThreadPolicy(4, "default")  # capped
    assert threads.choose(None, "live", {}, cpus=3) == threads.ThreadPolicy(2, "default")  # one left to the show
    assert threads.default_threads("live", 1) == threads.default_threads("render", 1) == 1
    with pytest.raises(LiveganError, match="LIVEGAN_THREADS '0': expected a whole number of threads from 1 to 256"):
        threads.choose(None, "live", {"LIVEGAN_THREADS": "0"})


def test_passive_waiting_unless_the_user_chose():
    env: dict[str, str] = {}
    threads.prepare_process(env)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    threads.prepare_process(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_cli_sets_the_wait_policy_before_anything_imports_torch():
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads libgomp: record it at that moment."""
    probe = (
        "import builtins, os, sys\n"
        "real = builtins.__import__\n"
        "def spy(name, *a, **k):\n"
        "    if name == 'torch' and 'torch' not in sys.modules:\n"
        "        print('at torch import:', os.environ.get('OMP_WAIT_POLICY'), flush=True)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = spy\n"
        "from livegan.cli import main\n"
        "print('torch before main:', 'torch' in sys.modules)\n"
        "raise SystemExit(main(['info', 'builtin:1']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "torch before main: False"
    assert lines[1] == "at torch import: PASSIVE"


@pytest.mark.parametrize("command", ["live", "render"])
def test_live_and_render_get_the_same_policy(monkeypatch, command):
    """--threads, then LIVEGAN_THREADS, then the default: applied to torch before the command runs."""
    import importlib

    module = importlib.import_module(f"livegan.commands.{command}")
    seen = []
    monkeypatch.setattr(module, "run", lambda args: seen.append((args.threads, torch.get_num_threads())) or 0)
    before = torch.get_num_threads()
    argv = {"live": ["live", "--headless"], "render": ["render", "x.wav", "-o", "x.mp4"]}[command]
    try:
        monkeypatch.delenv("LIVEGAN_THREADS", raising=False)
        assert cli.main(argv) == 0
        monkeypatch.setenv("LIVEGAN_THREADS", "1")
        assert cli.main(argv) == 0
        assert cli.main([*argv, "--threads", "2"]) == 0
    finally:
        torch.set_num_threads(before)
    default = threads.default_threads(command)
    assert seen == [(default, default), (1, 1), (2, 2)]
