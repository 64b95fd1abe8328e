"""workshop traffic URL: model users' traffic on one of the course's URLs, with Locust as its own process."""

from __future__ import annotations

import json

NAME = "traffic"
HELP = ("send virtual users that behave like the capacity model's users to one of the course's URLs (Locust); "
        "a line every few seconds, then a summary, a CSV and an SVG chart")


def add_arguments(parser):
    parser.add_argument("url", help="a course URL: on the local AWS an http endpoint 'workshop status' lists; on AWS "
                                    "the run's load balancer or CloudFront DNS name")
    parser.add_argument("--users", type=int, required=True, metavar="U", help="virtual users, 1..2,000 (each an active user)")
    parser.add_argument("--spawn-rate", type=float, default=None, metavar="R", help="users started per second (default: "
                                                                       "all within a second, at most 100/s)")
    parser.add_argument("--duration", type=int, default=60, metavar="S", help="seconds, 1..600 (default 60)")
    parser.add_argument("--scale", type=int, default=1, metavar="K",
                        help="one request here stands for K at the talk's scale, 1..100,000 (default 1)")
    parser.add_argument("--think", type=float, default=1.0, metavar="F",
                        help="divide the model's think time by this, 1..100: each user is that many users' load")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for the CSV, SVG and Locust's files "
                                                    "(default build/traffic/<UTC timestamp>/)")
    parser.add_argument("--json", action="store_true", help="print only the machine-readable summary")


def run(args) -> int:
    from ..traffic.live import Console, Silent
    from ..traffic.runner import Run

    presenter = Silent() if args.json else Console()
    result = Run(args.url, args.users, args.duration, args.spawn_rate, args.scale, args.think, args.out,
                 presenter=presenter).start().wait()
    if args.json:
        print(json.dumps({**result.summary, "rows": result.rows}, indent=2))
    return 0 if result.ok else 1
