"""The ``livegan`` command line: one subcommand per module in ``livegan.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from . import __version__, threads
from .errors import LiveganError

# Each module exposes ``add_parser(subparsers)`` and ``run(args) -> int``.
COMMANDS = ("render", "generate", "live", "devices", "info", "convert", "analyze")


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other livegan error (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = _Parser(prog="livegan", description="Audio-reactive StyleGAN visuals, live and offline.")
    parser.add_argument("--version", action="version", version=f"livegan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"livegan.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"livegan.commands.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    threads.prepare_process()  # before build_parser: some command modules import torch
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        if hasattr(args, "threads"):  # live and render: one thread policy, --threads/LIVEGAN_THREADS override
            policy = threads.choose(args.threads, args.command)
            threads.apply(policy)
            args.threads = policy.threads
        return int(modules[args.command].run(args) or 0)
    except LiveganError as exc:
        print(f"livegan: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livegan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
