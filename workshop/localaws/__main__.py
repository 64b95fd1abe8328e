"""`python -m workshop.localaws --port P --state FILE [--owner-pid N]`: serve the local AWS
until SIGTERM, or until process N (the owner) dies, however it dies."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from ..errors import WorkshopError
from . import pids
from .server import LocalAWS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.localaws")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", help="write {pid, proc_start, endpoint, ...} here once serving")
    parser.add_argument("--owner-pid", type=int, default=None,
                        help="exit when this process dies (default: run until SIGTERM)")
    parser.add_argument("--die-with-parent", action="store_true",
                        help="the owner is our parent and forked us from its main thread: also use PDEATHSIG")
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGHUP, lambda *_: done.set())
    if args.owner_pid:
        if args.die_with_parent and os.getppid() == args.owner_pid:
            pids.die_with_parent(signal.SIGTERM)  # even a SIGKILLed owner takes us with it at once (Linux)
        if not pids.watch_owner(args.owner_pid, done.set):  # portable, and covers a parent gone before prctl
            print(f"the owner (pid {args.owner_pid}) is gone; not starting", file=sys.stderr, flush=True)
            return 3
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        server = LocalAWS(port=args.port, quiet=False).start()
    except WorkshopError as exc:  # a busy port, an untested moto: one line
        print(exc, file=sys.stderr, flush=True)
        return 2
    if args.state:
        state = {"pid": os.getpid(), "proc_start": pids.start_time(os.getpid()), "owner_pid": args.owner_pid,
                 "endpoint": server.endpoint, "port": server.port, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "started_at": time.time(), "extensions": server.extensions}
        tmp = args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, args.state)
    print(f"local AWS serving at {server.endpoint} (extensions: {', '.join(server.extensions) or 'none'})", flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
