"""The client factory: local by default whatever the environment holds; real AWS only with opt-in."""

from __future__ import annotations

import pytest

from workshop import aws
from workshop.errors import LocalAWSDown, NotOptedIn, Unsupported

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "AWS_ENDPOINT_URL": "https://sts.amazonaws.com",
}


def test_local_target_ignores_real_credentials_and_profiles(local_aws, monkeypatch, tmp_path):
    """With real-looking keys, a profile and ~/.aws files set, a local client still talks only to loopback."""
    for key, value in REAL_LOOKING.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "config").write_text("[profile production]\nregion = eu-west-3\nendpoint_url = https://example.com\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    sts = aws.client("sts")
    assert sts.meta.endpoint_url.startswith("http://127.0.0.1:")
    assert sts.meta.region_name == "us-east-1"
    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert aws.resource("s3").meta.client.meta.endpoint_url == local_aws.endpoint


@pytest.mark.parametrize("account", [None, "", "12345", "not-a-number"])
def test_aws_target_without_account_confirmation_is_refused_before_any_call(monkeypatch, account):
    """WORKSHOP_TARGET=aws without a 12-digit WORKSHOP_AWS_ACCOUNT refuses before any request, naming the variable."""
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    if account is None:
        monkeypatch.delenv("WORKSHOP_AWS_ACCOUNT", raising=False)
    else:
        monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", account)
    monkeypatch.setattr("boto3.Session", _no_session)
    with pytest.raises(NotOptedIn, match="WORKSHOP_AWS_ACCOUNT"):
        aws.client("ec2")


def test_aws_target_with_another_accounts_credentials_is_refused(monkeypatch):
    """A confirmed account that differs from what STS reports is refused, saying both accounts."""
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "111122223333")
    monkeypatch.setattr("boto3.Session", lambda **kw: _FakeSession("444455556666"))
    with pytest.raises(NotOptedIn, match="111122223333.*444455556666"):
        aws.client("ec2")


def test_local_aws_down_is_one_line_naming_the_fix(monkeypatch):
    """A dead endpoint gives 'the local AWS at … is not answering; run workshop up', not a traceback."""
    monkeypatch.setenv("WORKSHOP_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(LocalAWSDown) as caught:
        aws.client("sts").get_caller_identity()
    assert str(caught.value) == "the local AWS at http://127.0.0.1:9 is not answering; run 'workshop up'"


def test_unimplemented_call_names_the_operation(local_aws):
    """moto's HTML 500 for an unimplemented call becomes a sentence naming service and operation."""
    with pytest.raises(Unsupported, match=r"sqs\.ListMessageMoveTasks"):
        aws.client("sqs").list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:123456789012:q")


def _no_session(*args, **kwargs):
    raise AssertionError("a real-AWS session was created before the opt-in was checked")


class _FakeSession:
    def __init__(self, account):
        self.account = account

    def client(self, service, **kwargs):
        assert service == "sts", f"{service} called before the account was confirmed"
        account = self.account

        class _Sts:
            def get_caller_identity(self):
                return {"Account": account}

        return _Sts()


def test_expired_credentials_say_what_to_refresh(monkeypatch):
    """Expired credentials on the aws target give one line naming the profile and how to refresh."""
    from botocore.exceptions import ClientError

    class _Expired(_FakeSession):
        def client(self, service, **kwargs):
            class _Sts:
                def get_caller_identity(self):
                    raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "GetCallerIdentity")

            return _Sts()

    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "111122223333")
    monkeypatch.setenv("AWS_PROFILE", "course")
    monkeypatch.setattr("boto3.Session", lambda **kw: _Expired("x"))
    with pytest.raises(NotOptedIn, match=r"credentials for profile course are expired or invalid \(ExpiredToken\); refresh"):
        aws.client("ec2")
