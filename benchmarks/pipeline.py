"""Benchmark the serverless pipeline on the local AWS, in one run; prints figures and ratios.

    .venv/bin/python benchmarks/pipeline.py [--events 10000] [--concurrency 8] [--raw 3000]

(a) raw local put_item/s with C client threads (a table without a stream), measured before and
    after (b) so a change in the machine's load shows (the ratio uses their mean);
(b) end to end events/s with the same C: POST accepted -> event found in S3, over --events
    events, and lost events (must be 0);
(c) Lambda invoke round trip of a no-op handler, warm (reused worker) vs cold (new worker);
(d) put_item -> the stream handler's start, and -> the event in S3, for one event on an idle pipeline.
The ratio (b)/(a) says how much of the emulator's raw write rate the whole pipeline keeps
(goal >= 0.5). The local AWS runs in its own process (like `workshop up`), not in this one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def start_local_aws(home: Path) -> tuple[subprocess.Popen, str]:
    state = home / "local-aws.json"
    proc = subprocess.Popen([sys.executable, "-m", "workshop.localaws", "--port", "0", "--state", str(state)],
                            stdout=subprocess.DEVNULL, stderr=open(home / "local-aws.log", "w"))
    deadline = time.monotonic() + 30
    while not state.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the local AWS did not start; see " + str(home / "local-aws.log"))
        time.sleep(0.1)
    return proc, json.loads(state.read_text())["endpoint"]


def server_cpu_s(pid: int) -> float:
    """CPU seconds the local AWS process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def raw_put_items(concurrency: int, total: int) -> float:
    from workshop import aws

    ddb = aws.client("dynamodb")
    table = f"bench-raw-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}])
    clients = threading.local()

    def put(i: int) -> None:
        if not hasattr(clients, "ddb"):
            clients.ddb = aws.client("dynamodb")
        clients.ddb.put_item(TableName=table, Item={"eventId": {"S": f"e{i}"}, "userId": {"S": "u"},
                                                    "value": {"N": str(i)}})

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, range(total)))
    return total / (time.monotonic() - started)


def invoke_overhead(role_arn: str) -> tuple[float, float]:
    """(median warm ms, median cold ms) for a no-op handler, measured at the client."""
    from workshop import aws
    from workshop.stages.s09_serverless_pipeline import zip_source

    lam = aws.client("lambda")
    name = f"bench-noop-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.13", Role=role_arn, Handler="handler.handler",
                        Code={"ZipFile": zip_source("def handler(event, context):\n    return 1\n")})
    cold = []
    for i in range(3):  # a configuration change replaces the worker: the next invoke is cold
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"N": str(i)}})
        t = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        cold.append((time.perf_counter() - t) * 1000)
    warm = []
    for _ in range(100):
        t = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        warm.append((time.perf_counter() - t) * 1000)
    return statistics.median(warm), statistics.median(cold)


def put_latency(names: dict) -> tuple[float, float]:
    """(s from put_item to the stream handler's START log line, s to the event found in S3), idle pipeline."""
    from workshop import aws, pipeline_load

    event_id = f"latency-{uuid.uuid4().hex}"
    s3, logs, ddb = aws.client("s3"), aws.client("logs"), aws.client("dynamodb")  # made before the clock starts
    reader = pipeline_load.S3Events(s3, names["bucket"])
    reader.refresh()
    time.sleep(0.5)
    started_ms = int(time.time() * 1000)
    t = time.monotonic()
    ddb.put_item(TableName=names["table"], Item={
        "eventId": {"S": event_id}, "userId": {"S": "latency"}, "value": {"N": "1"}})
    pipeline_load.wait_in_s3(s3, names["bucket"], {event_id}, timeout_s=30, events=reader)
    in_s3 = time.monotonic() - t
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{names['forward']}", startTime=started_ms)["events"]
    starts = [e["timestamp"] for e in events if e["message"].startswith("START")]
    return ((min(starts) - started_ms) / 1000 if starts else float("nan")), in_s3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--raw", type=int, default=3_000, help="put_item calls for (a)")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ.update(WORKSHOP_HOME=str(home), WORKSHOP_TARGET="local", WORKSHOP_RUN_ID="bench")
    proc, endpoint = start_local_aws(home)
    os.environ["WORKSHOP_ENDPOINT"] = endpoint
    try:
        from workshop import aws, pipeline_load
        from workshop.notebook import StageContext
        from workshop.stages import get
        from workshop.stages import s09_serverless_pipeline as s09

        print(f"local AWS at {endpoint} (pid {proc.pid}); C = {args.concurrency} client threads; "
              f"{os.cpu_count()} CPUs", flush=True)
        cpu0 = server_cpu_s(proc.pid)
        raw = raw_put_items(args.concurrency, args.raw)
        raw_cpu_ms = (server_cpu_s(proc.pid) - cpu0) / args.raw * 1000
        print(f"(a) raw put_item: {raw:,.0f} items/s ({args.raw} items); local AWS CPU {raw_cpu_ms:.2f} ms per item",
              flush=True)

        ctx = StageContext.of(get(9), "bench", "us-east-1")
        deployed = s09.deploy(ctx, *s09.handler_sources())
        names = deployed["names"]
        role = aws.client("iam").get_role(RoleName=names["write_role"])["Role"]["Arn"]
        warm, cold = invoke_overhead(role)
        print(f"(c) invoke round trip, no-op handler: warm {warm:.1f} ms (median of 100), "
              f"cold {cold:.0f} ms (median of 3); cold/warm = {cold / warm:.0f}x", flush=True)

        pipeline_load.run(deployed["url"], 2 * args.concurrency, args.concurrency, aws.client("s3"), names["bucket"],
                 wait_s=30, progress=False)  # warm the workers, as a running service would be
        trials = [put_latency(names) for _ in range(5)]
        to_start = statistics.median(t[0] for t in trials)
        to_s3 = statistics.median(t[1] for t in trials)
        print(f"(d) put_item -> stream handler START: {to_start * 1000:.0f} ms (goal <= 1000; max "
              f"{max(t[0] for t in trials) * 1000:.0f} ms); -> event found in S3: {to_s3 * 1000:.0f} ms "
              f"(idle pipeline, median of 5)", flush=True)

        cpu0 = server_cpu_s(proc.pid)
        result = pipeline_load.run(deployed["url"], args.events, args.concurrency, aws.client("s3"), names["bucket"],
                          wait_s=300, progress=sys.stderr.isatty())
        e2e_cpu_ms = (server_cpu_s(proc.pid) - cpu0) / max(1, result.accepted) * 1000
        e2e = result.end_to_end_rate
        print(f"(b) end to end (POST accepted -> in S3): {e2e:,.0f} events/s over {result.accepted:,} events; "
              f"POST rate {result.post_rate:,.0f}/s; latency p50 {result.percentile(50):.0f} ms, "
              f"p95 {result.percentile(95):.0f} ms, p99 {result.percentile(99):.0f} ms", flush=True)
        print(f"    local AWS CPU {e2e_cpu_ms:.2f} ms per event (its Lambda workers are separate processes); "
              f"CPU ratio raw/pipeline = {raw_cpu_ms / e2e_cpu_ms:.2f}" if e2e_cpu_ms else "", flush=True)
        print(f"lost events: {result.lost} (duplicates {result.duplicates}, rejected {result.rejected})")
        raw_after = raw_put_items(args.concurrency, args.raw)
        print(f"(a) raw put_item again, after (b): {raw_after:,.0f} items/s (the machine's load changes: "
              f"the ratio uses the mean of the two)", flush=True)
        raw = (raw + raw_after) / 2
        print(f"ratio (b)/(a) = {e2e / raw:.2f} (goal >= 0.5)")
        return 0 if result.lost == 0 else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
