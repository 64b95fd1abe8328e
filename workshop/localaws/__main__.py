"""`python -m workshop.localaws --port P --state FILE`: serve the local AWS until SIGTERM."""

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
from .server import LocalAWS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.localaws")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", help="write {pid, endpoint} here once serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        server = LocalAWS(port=args.port, quiet=False).start()
    except WorkshopError as exc:  # a busy port, an untested moto: one line
        print(exc, file=sys.stderr, flush=True)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if args.state:
        state = {"pid": os.getpid(), "endpoint": server.endpoint, "port": server.port,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "extensions": server.extensions}
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
