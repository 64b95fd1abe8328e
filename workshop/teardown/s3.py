"""S3 kind: buckets, listed once (globally), emptied of every version, then deleted in their own region."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .kind import GLOBAL_REGION, STANDING, Kind
from .shapes import gone_when_absent, is_gone


def _find_buckets(scope):
    s3 = scope.client("s3")
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        try:
            t = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ClientError:
            t = []  # NoSuchTagSet, or a bucket in another account's hands
        r = scope.owned(t, name, name)
        if r:
            try:
                r.region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or GLOBAL_REGION
            except ClientError:
                pass
            yield r


def _empty_and_delete(scope, r):
    """Delete every object version and delete marker (a versioned bucket keeps them), then the bucket."""
    s3 = scope.client("s3", r.region)
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=r.id):
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=r.id, Delete={"Objects": batch[i:i + 1000], "Quiet": True})
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=r.id):  # unversioned leftovers
            batch = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if batch:
                s3.delete_objects(Bucket=r.id, Delete={"Objects": batch, "Quiet": True})
        for u in s3.list_multipart_uploads(Bucket=r.id).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=r.id, Key=u["Key"], UploadId=u["UploadId"])
        s3.delete_bucket(Bucket=r.id)
    except ClientError as exc:
        if not is_gone(exc):
            raise


KINDS = [
    Kind("s3 bucket", "s3", STANDING, _find_buckets, _empty_and_delete,
         gone_when_absent("s3", "head_bucket", "Bucket", codes=("404",)), typical_s=10, global_=True),
]
