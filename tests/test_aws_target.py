"""The real-account path, tested with the local AWS standing in as the remote endpoint.

The stand-in is `remote` below: it swaps boto3.Session, as seen by workshop.aws, for one that
sends every call to the test's local AWS with dummy keys. It exists only inside this test
module (pytest's monkeypatch undoes it after each test); the kit itself has no switch for it.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from workshop import aws, cli, cost, notebook, teardown
from workshop.errors import NotOptedIn

from course_resources import create_all

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check

ACCOUNT = "123456789012"  # the local AWS's STS answers with moto's account
REAL_SESSION = boto3.Session


@pytest.fixture
def remote(local_aws, monkeypatch):
    """Target 'aws', opted in for ACCOUNT, every boto3 session pointed at the local AWS; records clients made."""
    made: list[str] = []

    class LocalAsRemote(REAL_SESSION):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("aws_access_key_id", "testing")
            kwargs.setdefault("aws_secret_access_key", "testing")
            super().__init__(*args, **kwargs)

        def client(self, service, *args, **kwargs):
            made.append(service)
            kwargs.setdefault("endpoint_url", local_aws.endpoint)
            return super().client(service, *args, **kwargs)

        def resource(self, service, *args, **kwargs):
            made.append(service)
            kwargs.setdefault("endpoint_url", local_aws.endpoint)
            return super().resource(service, *args, **kwargs)

    monkeypatch.setattr(aws.boto3, "Session", LocalAsRemote)
    for var, value in (("WORKSHOP_TARGET", "aws"), ("WORKSHOP_AWS_ACCOUNT", ACCOUNT), ("WORKSHOP_RUN_ID", "demo"),
                       ("WORKSHOP_REGION", "us-east-1")):
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(aws, "_verified_accounts", set())
    monkeypatch.setattr(aws, "_clients", {})  # clients made for the stand-in remote die with the test
    return made


def test_missing_account_is_refused_before_any_call(remote, monkeypatch):
    """WORKSHOP_TARGET=aws without WORKSHOP_AWS_ACCOUNT is refused, naming the variable, before any client exists."""
    monkeypatch.delenv("WORKSHOP_AWS_ACCOUNT")
    with pytest.raises(NotOptedIn, match="WORKSHOP_AWS_ACCOUNT"):
        aws.client("ec2")
    assert remote == []


def test_mismatched_account_is_refused_after_sts_only(remote, monkeypatch):
    """An account id that is not the credentials' is refused naming both; only STS was asked."""
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "111122223333")
    with pytest.raises(NotOptedIn) as info:
        aws.client("ec2")
    assert "111122223333" in str(info.value) and ACCOUNT in str(info.value)
    assert remote == ["sts"]


def test_missing_credentials_one_line(remote, monkeypatch, tmp_path):
    """No credentials anywhere gives one line naming what to set, not a traceback."""
    class NoCredentials(REAL_SESSION):
        def client(self, service, *args, **kwargs):
            kwargs.setdefault("endpoint_url", "http://127.0.0.1:9")  # never reached: signing fails first
            return super().client(service, *args, **kwargs)

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(aws.boto3, "Session", NoCredentials)
    with pytest.raises(NotOptedIn) as info:
        aws.client("ec2")
    assert "\n" not in str(info.value) and "AWS_PROFILE" in str(info.value)


def test_expired_credentials_one_line(remote, monkeypatch):
    """Expired credentials give one line naming the error, before any other call."""
    real = aws.boto3.Session

    class Expired(real):
        def client(self, service, *args, **kwargs):
            c = super().client(service, *args, **kwargs)
            stub = Stubber(c)
            stub.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired")
            stub.activate()
            return c

    monkeypatch.setattr(aws.boto3, "Session", Expired)
    with pytest.raises(NotOptedIn) as info:
        aws.client("ec2")
    assert "\n" not in str(info.value) and "ExpiredToken" in str(info.value)
    assert remote == ["sts"]


def test_first_line_names_the_real_account(remote, capsys):
    """A notebook on the aws target says first which account it acts on, then shows the stage's bill."""
    notebook.start(stage=1, run_id="demo", target="aws", max_hourly_usd=2.0)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Target: REAL AWS account {ACCOUNT} in us-east-1")
    assert any(line.startswith("Stage 1 (") for line in out[1:3])


def test_cost_guard_stops_a_stage_with_nothing_created(remote, capsys):
    """Over max_hourly_usd the stage's set-up stops with the itemised bill; no resource was created."""
    before = teardown.scan(run="guard", region_list=["us-east-1"])
    calls_before = list(remote)
    with pytest.raises(cost.OverBudget, match="nothing was created"):
        notebook.start(stage=5, run_id="guard", target="aws", max_hourly_usd=0.5)
    assert "RDS read replica db.m5.large x 4" in capsys.readouterr().out
    assert remote[len(calls_before):] == []  # not even a describe call after the refusal
    assert teardown.scan(run="guard", region_list=["us-east-1"]) == before == []


def test_teardown_on_the_aws_target_leaves_nothing(remote, capsys):
    """On the aws target, `workshop teardown --target aws --yes` finds exactly what was created and leaves nothing."""
    made = create_all("awsrun", 8)
    groups = aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    made["ec2 instance"] |= {i["InstanceId"] for g in groups if g["AutoScalingGroupName"] == "sbs-awsrun-asg"
                             for i in g["Instances"]}
    found = {}
    for r in teardown.plan(run="awsrun", region_list=["us-east-1"]):
        found.setdefault(r.kind, set()).add(r.id)
    assert found == made
    assert cli.main(["teardown", "--target", "aws", "--yes", "--run", "awsrun", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Target: REAL AWS account {ACCOUNT}")
    assert "(nothing: the course has left nothing behind)" in out
    assert teardown.scan(run="awsrun", region_list=["us-east-1"]) == []
