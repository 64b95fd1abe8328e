"""workshop up: start the local AWS in the background."""

from ..localaws import process

NAME = "up"
HELP = "start the local AWS in the background (default port 4599, or a free one if taken)"


def add_arguments(parser):
    parser.add_argument("--port", type=int, default=None, help="serve on this loopback port (fails if busy)")
    parser.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                        help="how long to wait for a running local AWS that is slow to answer (default 15)")


def run(args) -> int:
    state = process.up(args.port, wait=args.wait, say=lambda line: print(line, flush=True))
    verb = "already running" if state.get("already_running") else "started"
    print(f"local AWS {verb} at {state['endpoint']} (pid {state['pid']})")
    print(f"  use it from anywhere: aws --endpoint-url {state['endpoint']} ...  ·  stop it: workshop down")
    return 0
