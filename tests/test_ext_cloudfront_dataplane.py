"""CloudFront distributions answer on loopback with a cache (workshop/localaws/ext/cloudfront_dataplane.py)."""

from __future__ import annotations

import uuid

import pytest
from routing_helpers import build_cdn, build_site, get, health, wait_for

from workshop.localaws.ext import _cloudfront_cache as cache


def _ready(local_aws, policy=True):
    from workshop import aws

    site = build_site(local_aws)
    assert wait_for(lambda: {s for s, _ in health(aws.client("elbv2"), site.tg_arn).values()} == {"healthy"}, 3)
    return build_cdn(local_aws, site, policy=policy)


def test_static_path_from_s3_is_a_miss_then_a_hit(local_aws):
    """/static/* is read from the bucket through the OAC: first a Miss, then a Hit with an Age."""
    cdn = _ready(local_aws)
    url = f"http://127.0.0.1:{cdn.port}/static/app.css"
    status, headers, body = get(url)
    assert (status, body, headers["X-Cache"]) == (200, b"body { color: red }", "Miss from cloudfront")
    assert headers["Content-Type"].startswith("text/css") and "Age" not in headers
    status, headers, body = get(url)
    assert (status, body, headers["X-Cache"]) == (200, b"body { color: red }", "Hit from cloudfront")
    assert int(headers["Age"]) >= 0 and headers["Via"].endswith(".cloudfront.net (CloudFront)")


def test_dynamic_path_goes_to_the_load_balancer_uncached(local_aws):
    """The default behaviour (CachingDisabled) forwards every request to the ALB, which alternates its targets."""
    cdn = _ready(local_aws)
    answers = [get(f"http://127.0.0.1:{cdn.port}/") for _ in range(4)]
    assert [h["X-Cache"] for _, h, _ in answers] == ["Miss from cloudfront"] * 4
    assert {h["X-Instance-Id"] for _, h, _ in answers} == {i.instance_id for i in cdn.site.instances}
    status, _, body = get(f"http://127.0.0.1:{cdn.port}/messages", method="POST", data=b"hi")
    assert status == 201 and b'"stored": 2' in body


def test_without_the_oac_bucket_policy_s3_says_access_denied(local_aws):
    """No bucket policy for the distribution: CloudFront passes S3's 403 AccessDenied on."""
    cdn = _ready(local_aws, policy=False)
    status, headers, body = get(f"http://127.0.0.1:{cdn.port}/static/app.css")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert headers["X-Cache"] == "Error from cloudfront"


def test_a_missing_key_is_403_without_list_bucket(local_aws):
    """Without s3:ListBucket a missing object is S3's 403, not a 404 (S3 API Reference, GetObject)."""
    cdn = _ready(local_aws)
    assert get(f"http://127.0.0.1:{cdn.port}/static/nothing.css")[0] == 403


def test_invalidation_empties_the_cache(local_aws):
    """After CreateInvalidation for /static/*, the next request is a Miss and sees the new object."""
    from workshop import aws

    cdn = _ready(local_aws)
    url = f"http://127.0.0.1:{cdn.port}/static/app.css"
    get(url)
    assert get(url)[1]["X-Cache"] == "Hit from cloudfront"
    aws.client("s3").put_object(Bucket=cdn.bucket, Key="static/app.css", Body=b"body { color: blue }",
                                ContentType="text/css")
    assert get(url)[2] == b"body { color: red }"  # still cached
    aws.client("cloudfront").create_invalidation(DistributionId=cdn.dist["Id"], InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/static/*"]}, "CallerReference": uuid.uuid4().hex})
    status, headers, body = get(url)
    assert (headers["X-Cache"], body) == ("Miss from cloudfront", b"body { color: blue }")


def test_a_method_the_behaviour_does_not_allow_is_403(local_aws):
    """/static/* allows GET and HEAD only: a POST there is CloudFront's own 403."""
    cdn = _ready(local_aws)
    status, headers, body = get(f"http://127.0.0.1:{cdn.port}/static/app.css", method="POST", data=b"x")
    assert status == 403 and b"not configured to allow the HTTP request method" in body


def test_path_patterns_and_ttls_follow_cloudfront():
    """PathPattern: * and ? only, case-sensitive; TTL from max-age clamped to the policy, no-store with MinTTL 0 not cached."""
    assert cache.matches("/static/*", "/static/a/b.css") and not cache.matches("/static/*", "/Static/a.css")
    assert cache.matches("images/?.jpg", "/images/a.jpg") and not cache.matches("/images/?.jpg", "/images/ab.jpg")
    assert cache.matches("/a[1].txt", "/a[1].txt") and not cache.matches("/a[1].txt", "/a1.txt")
    optimized = cache.MANAGED["658327ea-f89d-4fab-a63d-7e88639e58f6"]
    assert cache.ttl(optimized, 200, {"Cache-Control": "max-age=600"}) == 600
    assert cache.ttl(optimized, 200, {}) == 86400
    assert cache.ttl(optimized, 200, {"Cache-Control": "max-age=0"}) == 1  # MinTTL 1
    legacy = cache.policy_for("", (0, 60, 3600), False, False)
    assert cache.ttl(legacy, 200, {"Cache-Control": "no-store"}) == 0
    assert cache.ttl(legacy, 200, {"Set-Cookie": "a=b"}) == 0 and cache.ttl(legacy, 404, {}) == 0
    assert cache.ttl(cache.MANAGED["4135ea2d-6df8-44a3-9df3-4b5a84be39ad"], 200, {}) == 0


@pytest.mark.slow  # waits out two 1 s TTLs
def test_an_expired_entry_the_origin_confirms_is_a_refresh_hit(local_aws):
    """Past its TTL (max-age=1), an unchanged object is revalidated with If-None-Match: RefreshHit, Age 0;
    a changed one is fetched again: Miss."""
    import time

    from workshop import aws

    cdn = _ready(local_aws)
    s3 = aws.client("s3")
    s3.put_object(Bucket=cdn.bucket, Key="static/short.css", Body=b"a", ContentType="text/css",
                  CacheControl="max-age=1")
    url = f"http://127.0.0.1:{cdn.port}/static/short.css"
    assert get(url)[1]["X-Cache"] == "Miss from cloudfront"
    assert get(url)[1]["X-Cache"] == "Hit from cloudfront"
    time.sleep(1.1)
    status, headers, body = get(url)
    assert (status, body, headers["X-Cache"], headers["Age"]) == (200, b"a", "RefreshHit from cloudfront", "0")
    s3.put_object(Bucket=cdn.bucket, Key="static/short.css", Body=b"b", ContentType="text/css",
                  CacheControl="max-age=1")
    time.sleep(1.1)
    status, headers, body = get(url)
    assert (body, headers["X-Cache"]) == (b"b", "Miss from cloudfront")


def test_head_is_served_from_the_cached_get(local_aws):
    """Once a GET filled the cache, a HEAD is a Hit with no body and the object's length."""
    import http.client

    cdn = _ready(local_aws)
    get(f"http://127.0.0.1:{cdn.port}/static/app.css")
    conn = http.client.HTTPConnection("127.0.0.1", cdn.port, timeout=5)
    conn.request("HEAD", "/static/app.css")
    reply = conn.getresponse()
    assert (reply.status, reply.read(), reply.getheader("Content-Length"), reply.getheader("X-Cache")) == \
        (200, b"", str(len(b"body { color: red }")), "Hit from cloudfront")
    conn.close()


class _Bucket:
    def __init__(self, statements, restrict=False):
        import json

        self.policy = json.dumps({"Version": "2012-10-17", "Statement": statements}).encode() if statements else None
        self.public_access_block = type("Block", (), {"restrict_public_buckets": restrict})()


@pytest.mark.parametrize("statements, reader, restrict, expected", [
    # the stage 6 policy: this distribution, signed by its OAC
    ([{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"AWS:SourceArn": "arn:d/1"}}}],
     ("arn:d/1", True), True, True),
    # ... another distribution
    ([{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"AWS:SourceArn": "arn:d/1"}}}],
     ("arn:d/2", True), True, False),
    # ... no OAC on the origin: the request is anonymous
    ([{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"AWS:SourceArn": "arn:d/1"}}}],
     ("arn:d/1", False), True, False),
    # a public policy, but the bucket restricts public buckets / and when it does not
    ([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
     ("arn:d/1", False), True, False),
    ([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
     ("arn:d/1", False), False, True),
    # an explicit Deny wins
    ([{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:*",
       "Resource": "arn:aws:s3:::b/*"},
      {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"}],
     ("arn:d/1", True), True, False),
    # no policy at all
    ([], ("arn:d/1", True), True, False),
])
def test_who_may_read_the_bucket(statements, reader, restrict, expected):
    """CloudFront reads an object only as the bucket policy allows it: OAC + SourceArn, or a public bucket."""
    from workshop.localaws.ext import _cloudfront_s3 as s3

    key = "secret/x" if any(s["Effect"] == "Deny" for s in statements) else "static/app.css"
    assert s3.allowed(_Bucket(statements, restrict), "s3:GetObject", f"arn:aws:s3:::b/{key}",
                      s3.Reader(*reader)) is expected
