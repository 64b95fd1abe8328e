"""The kinds teardown knows, one module per service, put in waves by what each kind declares.

Adding a service is adding its module here; nothing else names a service. Within a wave,
kinds keep this order (it is also the order `plan` lists them in).
"""

from __future__ import annotations

from . import (
               apigateway,
               autoscaling,
               cloudfront,
               cloudwatch,
               dynamodb,
               ec2,
               elasticache,
               elb,
               firehose,
               iam,
               lambda_,
               logs,
               rds,
               route53,
               s3,
)
from .kind import Kind

SERVICES = (cloudfront, apigateway, route53, cloudwatch, lambda_, firehose, autoscaling, elb, elasticache, rds,
            dynamodb, s3, logs, ec2, iam)

#: each wave starts all its deletions, then waits for them together (typical_s: AWS's usual time)
WAVES: list[list[Kind]] = [
    [k for m in SERVICES for k in m.KINDS if k.wave == wave]
    for wave in sorted({k.wave for m in SERVICES for k in m.KINDS})
]

KINDS: list[Kind] = [k for wave in WAVES for k in wave]

#: services whose resources the kinds find and delete (as their ARNs name them); anything else
#: the tagging API reports as the course's is listed as "untracked" by `scan`
TRACKED_SERVICES = frozenset(k.arn_service for k in KINDS)
