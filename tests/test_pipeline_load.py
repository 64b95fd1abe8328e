"""`workshop load`: POST events over HTTP, verify each reached S3 exactly once by identity, report rates."""

from __future__ import annotations

import threading
import time

import pytest

from workshop import aws, cli, pipeline_load
from workshop.localaws.server import LocalAWS, wait_until_answering
from workshop.notebook import StageContext
from workshop.stages import get
from workshop.stages import s09_serverless_pipeline as s09

pytestmark = pytest.mark.usefixtures("local_aws")


@pytest.fixture(scope="module")
def pipeline():
    """Stage 9's pipeline with the reference handlers, for run id 'loadtest'."""
    ctx = StageContext.of(get(9), "loadtest", "us-east-1")
    return s09.deploy(ctx, *s09.handler_sources())


def test_every_accepted_event_is_found_in_s3_once(pipeline):
    """A load run of 60 events over 6 threads: all accepted, all delivered, none lost, latencies measured."""
    result = pipeline_load.run(pipeline["url"], 60, 6, aws.client("s3"), pipeline["names"]["bucket"], wait_s=30,
                      seed=1, progress=False)
    assert (result.sent, result.accepted, result.delivered, result.lost) == (60, 60, 60, 0)
    assert result.stopped is None and len(result.latencies_ms) == 60
    assert 0 < result.percentile(50) <= result.percentile(95) <= result.percentile(99)
    assert "0 lost" in result.summary()


def test_duplicate_copies_count_once_and_are_reported():
    """An event found twice in S3 (at-least-once delivery) is delivered once, with one duplicate."""
    s3 = aws.client("s3")
    bucket = "load-dupes-test"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="events/a", Body=b'{"eventId": "e1"}\n{"eventId": "e2"}\n')
    s3.put_object(Bucket=bucket, Key="events/b", Body=b'{"eventId": "e1"}\nnot json\n')
    counts = pipeline_load.wait_in_s3(s3, bucket, {"e1", "e2", "e3"}, timeout_s=0)
    assert counts == {"e1": 2, "e2": 1}


def test_the_local_aws_dying_mid_load_stops_with_what_was_confirmed(pipeline):
    """When the server stops answering, the run stops early and reports what was accepted and found."""
    other = LocalAWS(port=0).start()  # shares this process's moto state, so the same API answers there
    url = pipeline["url"].replace(aws.endpoint(), other.endpoint)
    assert wait_until_answering(other.endpoint)
    assert pipeline_load.run(url, 1, 1, aws.client("s3"), pipeline["names"]["bucket"], wait_s=0, progress=False).accepted == 1
    threading.Timer(1.0, other.stop).start()
    started = time.monotonic()
    result = pipeline_load.run(url, 5000, 4, aws.client("s3"), pipeline["names"]["bucket"], wait_s=30, progress=False,
                      timeout_s=5)
    assert result.stopped is not None and 0 < result.accepted < 5000
    assert result.delivered <= result.accepted and time.monotonic() - started < 60


def test_cli_rejects_a_url_that_is_not_http(capsys):
    """`workshop load notaurl` says what is wrong in one line and exits 2."""
    assert cli.main(["load", "notaurl", "--events", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an http(s) URL" in err[0]


def test_cli_names_a_missing_bucket_in_one_line_before_sending(capsys):
    """`workshop load` for a run with no stage 9 bucket says which bucket and to build stage 9 first, exit 2."""
    assert cli.main(["load", "http://127.0.0.1:9/restapis/x/prod/_user_request_/logger", "--events", "1",
                     "--run", "nobucket"]) == 2
    out, err = capsys.readouterr()
    bucket = s09.names(StageContext.of(get(9), "nobucket", "us-east-1"))["bucket"]
    assert out == "" and len(err.strip().splitlines()) == 1
    assert f"bucket {bucket} does not exist" in err and "stage 9" in err


def test_cli_reports_rates_and_zero_lost(pipeline, capsys):
    """`workshop load URL --events 20 --concurrency 4` prints events/s, p50/p95/p99 and 0 lost, exit 0."""
    code = cli.main(["load", pipeline["url"], "--events", "20", "--concurrency", "4", "--run", "loadtest",
                     "--wait", "30"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "20 delivered" in out and "0 lost" in out and "p99" in out and "events/s" in out


def test_cli_says_in_one_line_when_the_pipeline_dies_mid_load(pipeline, capsys):
    """`workshop load` against a local AWS that stops mid-run prints one line with what was confirmed, exit 2."""
    other = LocalAWS(port=0).start()
    assert wait_until_answering(other.endpoint)
    url = pipeline["url"].replace(aws.endpoint(), other.endpoint)
    threading.Timer(1.0, other.stop).start()
    code = cli.main(["load", url, "--events", "5000", "--concurrency", "4", "--run", "loadtest", "--wait", "5"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2 and len(out) == 1
    assert "stopped answering" in out[0] and "confirmed:" in out[0] and "accepted" in out[0]
