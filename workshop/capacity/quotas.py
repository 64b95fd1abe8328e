"""AWS's published default quotas the course runs into (us-east-1), each with its page.

The one table of them: the capacity model's quota assumptions take their defaults from here
(`assumptions.py`), and stage 10's notebook compares the case studies' rates with them.
Quotas change and many can be raised on request: check the page before quoting a figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Quota:
    value: float
    unit: str  # what the figure counts, e.g. "requests/s per account and Region"
    source: str  # the AWS page it is copied from

    def cite(self) -> str:
        """One line: the figure, its unit and its page."""
        return f"{self.value:,g} {self.unit} ({self.source})"


_DOCS = "https://docs.aws.amazon.com"
CLOUDFRONT = f"{_DOCS}/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html"
APIGATEWAY = f"{_DOCS}/apigateway/latest/developerguide/limits.html"
LAMBDA = f"{_DOCS}/lambda/latest/dg/gettingstarted-limits.html"
DYNAMODB = f"{_DOCS}/amazondynamodb/latest/developerguide/ServiceQuotas.html"
DYNAMODB_PARTITIONS = f"{_DOCS}/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
FIREHOSE = f"{_DOCS}/firehose/latest/dev/limits.html"
FIREHOSE_BATCH = f"{_DOCS}/firehose/latest/APIReference/API_PutRecordBatch.html"

QUOTAS: Mapping[str, Quota] = MappingProxyType({
    "cloudfront_rps": Quota(250_000, "requests/s per distribution", CLOUDFRONT),
    "api_gateway_rps": Quota(10_000, "requests/s per account and Region (throttle)", APIGATEWAY),
    "lambda_concurrency": Quota(1_000, "concurrent executions per Region", LAMBDA),
    "lambda_timeout_ms": Quota(900_000, "ms per invocation at most (15 minutes)", LAMBDA),
    "dynamodb_table_wcu": Quota(40_000, "write capacity units per table (and as many read units)", DYNAMODB),
    "dynamodb_partition_wcu": Quota(1_000, "write capacity units per partition", DYNAMODB_PARTITIONS),
    "firehose_records": Quota(500_000, "records/s per Direct PUT stream (us-east-1)", FIREHOSE),
    "firehose_requests": Quota(2_000, "requests/s per Direct PUT stream (us-east-1)", FIREHOSE),
    "firehose_mib": Quota(5, "MiB/s per Direct PUT stream (us-east-1)", FIREHOSE),
    "firehose_batch": Quota(500, "records per PutRecordBatch call", FIREHOSE_BATCH),
})


def value(name: str) -> float:
    """The figure of quota `name`, as a float (the capacity model's unit)."""
    return float(QUOTAS[name].value)
