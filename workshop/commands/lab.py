"""workshop lab: JupyterLab on notebooks/, with a local AWS up so notebooks share state."""

from __future__ import annotations

import os
import subprocess
import sys

from .. import config
from ..localaws import process

NAME = "lab"
HELP = "start the local AWS (if needed) and open JupyterLab on notebooks/"


def add_arguments(parser):
    parser.add_argument("--port", type=int, default=None, help="JupyterLab's port (default: Jupyter's choice)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def run(args) -> int:
    if config.current().is_local:
        state = process.up()
        print(f"local AWS at {state['endpoint']} — every notebook you open uses it")
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={config.ROOT / 'notebooks'}"]
    if args.port:
        cmd.append(f"--port={args.port}")
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines run as root; Jupyter refuses it otherwise
    try:
        return subprocess.call(cmd, env=os.environ.copy())
    except KeyboardInterrupt:
        return 0
