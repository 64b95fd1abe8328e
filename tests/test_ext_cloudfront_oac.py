"""CloudFront origins keep their origin access control (workshop/localaws/ext/cloudfront_oac.py)."""

from __future__ import annotations

import uuid


def test_s3_origin_keeps_its_origin_access_control(local_aws):
    """GetDistributionConfig shows the OriginAccessControlId the S3 origin was created with (moto drops it)."""
    from workshop import aws

    cf, tag = aws.client("cloudfront"), uuid.uuid4().hex[:8]
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"oac-{tag}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": tag, "Comment": tag, "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"b-{tag}.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    config = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == oac
