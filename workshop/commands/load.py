"""workshop load URL: POST random events to the pipeline, then verify each one reached S3."""

from __future__ import annotations

NAME = "load"
HELP = "POST random {userId, value} events to URL, verify each reached S3 once, print events/s and latency"


def add_arguments(parser):
    parser.add_argument("url", help="the pipeline's invoke URL, e.g. .../execute-api/<id>/prod/logger (workshop status)")
    parser.add_argument("--events", type=int, default=1000, help="how many events to POST (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--bucket", default=None,
                        help="the bucket Firehose writes to (default: stage 9's bucket of the run)")
    parser.add_argument("--run", default=None, help="run id (default: WORKSHOP_RUN_ID or demo)")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for events in S3 (default 120)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the events")


def run(args) -> int:
    from .. import pipeline_load
    from ..context import StageContext
    from ..errors import BadInput

    if not args.url.startswith(("http://", "https://")):
        raise BadInput(f"{args.url!r} is not an http(s) URL; find the invoke URL with 'workshop status'")
    ctx = StageContext.of(9, run_id=args.run)
    from ..stages.s09_serverless_pipeline import names

    bucket = args.bucket or names(ctx)["bucket"]
    s3 = ctx.client("s3")
    result = pipeline_load.run(args.url, args.events, args.concurrency, s3, bucket, wait_s=args.wait, seed=args.seed)
    if result.stopped:
        print(f"workshop: the pipeline stopped answering after {result.sent} events ({result.stopped}); "
              f"confirmed: {result.accepted} accepted, {result.delivered} found in s3://{bucket}")
        return 2
    print(result.summary())
    return 0 if result.lost == 0 and result.accepted == result.sent else 1
