"""A notebook's verify() judges what its traffic demos just measured instead of sending the same
traffic again (context.StageContext.witness); `workshop check N` and any other caller measure."""

import pytest

from workshop import context, stages
from workshop.context import StageContext
from workshop.stages import s06_proof, s08_proof


@pytest.fixture
def ctx():
    return StageContext.of(stages.get(6), "witness", "us-east-1")


def _offload(via, hit_ratio, web_requests, cpu):
    return {"via": via, "requests": 400, "failures": 0, "hit_ratio": hit_ratio, "web_requests": web_requests,
            "cpu": cpu}


def _no_traffic(*args, **kwargs):
    raise AssertionError("the check sent traffic although the demo had just measured")


def test_a_measurement_counts_only_while_verifying_and_while_fresh(ctx, monkeypatch):
    ctx.witness("k", {"v": 1})
    assert ctx.witnessed("k") is None  # a check run on its own measures
    with ctx.judging_demos():
        found, age = ctx.witnessed("k")
        assert found == {"v": 1} and 0 <= age < 5
        assert ctx.witnessed("other") is None
        monkeypatch.setattr(context, "WITNESS_MAX_AGE_S", -1.0)
        assert ctx.witnessed("k") is None  # too old: measured again
    assert StageContext.of(stages.get(6), "witness", "us-east-1").witnessed("k") is None  # a fresh context knows nothing


def test_offload_check_judges_the_demos_runs_and_fails_a_bad_one(ctx, monkeypatch):
    monkeypatch.setattr(s06_proof, "offload", _no_traffic)
    ctx.witness("offload-alb", _offload("alb", 0.0, 573, 30.4))
    ctx.witness("offload-cloudfront", _offload("cloudfront", 0.77, 134, 8.4))
    with ctx.judging_demos():
        good = s06_proof.offload_check(ctx)
        assert good.ok and good.message.startswith("the demo's runs")
        ctx.witness("offload-cloudfront", _offload("cloudfront", 0.0, 560, 29.0))  # a distribution without caching
        bad = s06_proof.offload_check(ctx)
    assert not bad.ok and "no answer through CloudFront came from its cache" in bad.message


def test_offload_check_measures_when_only_one_run_was_witnessed(ctx, monkeypatch):
    sent = []
    monkeypatch.setattr(s06_proof, "offload", lambda c, via, seconds: sent.append(via) or _offload(
        via, 0.0 if via == "alb" else 0.8, 500 if via == "alb" else 100, 30.0 if via == "alb" else 8.0))
    ctx.witness("offload-cloudfront", _offload("cloudfront", 0.77, 134, 8.4))
    with ctx.judging_demos():
        assert s06_proof.offload_check(ctx).ok
    assert sent == ["alb", "cloudfront"]


def test_serves_500k_judges_the_demo_and_fails_a_slow_one(ctx, monkeypatch):
    monkeypatch.setattr(s08_proof, "whole_picture", _no_traffic)
    picture = {"talk_users": 500_000, "scale": 25, "requests": 1700, "p95_ms": 900.0, "error_pct": 0.0,
               "azs": {"us-east-1a": 850, "us-east-1b": 850}, "instances": {"i-1": 850, "i-2": 850}, "cpu": {}}
    ctx.witness(s08_proof.WITNESS, picture)
    with ctx.judging_demos():
        slow = s08_proof.check(ctx)
        ctx.witness(s08_proof.WITNESS, dict(picture, p95_ms=40.0))
        fast = s08_proof.check(ctx)
    assert not slow.ok and "p95 900 ms > 500 ms" in slow.message and "the demo" in slow.message
    assert fast.ok
