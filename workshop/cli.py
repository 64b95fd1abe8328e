"""`workshop <command>`: one module per command in `workshop/commands/`, found at start.

Each command module defines NAME, HELP, `add_arguments(parser)` and `run(args) -> int`.
A WorkshopError becomes one line on stderr (`workshop: ...`) and exit code 2; a reader that
closes the pipe early (`workshop up | head -1`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from . import commands, config
from .errors import WorkshopError


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{commands.__name__}.{info.name}")
            if hasattr(module, "NAME") and hasattr(module, "run"):
                yield module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workshop",
        description="Scale, baby, scale! — run the course on a local AWS (default) or your own account.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        # the edge: the target is read from the environment once, here, and passed down
        with config.using(config.from_environment()):
            code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe (`workshop up | head -1`) shows up here, not at exit
        return code
    except BrokenPipeError:
        # as the CPython docs advise for SIGPIPE: no traceback, and no second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except WorkshopError as exc:
        print(f"workshop: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workshop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
