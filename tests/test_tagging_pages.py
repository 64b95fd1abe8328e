"""The tagging API lists everything that stood for the whole listing, whatever changes between its pages
(localaws/ext/tagging_pages.py): moto's own pages lost the rest of the account after a change."""

import boto3
import pytest

TAG = [{"Key": "sbs-pages", "Value": "x"}]


@pytest.fixture
def clients(local_aws):
    kw = dict(endpoint_url=local_aws.endpoint, region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test")
    return boto3.client("ec2", **kw), boto3.client("resourcegroupstaggingapi", **kw)


def _vpc(ec2, n: int) -> str:
    spec = [{"ResourceType": "vpc", "Tags": TAG + [{"Key": "n", "Value": str(n)}]}]
    return ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16", TagSpecifications=spec)["Vpc"]["VpcId"]


def _listed(tagging, between=lambda: None, per_page: int = 3) -> list[str]:
    first = tagging.get_resources(TagFilters=[{"Key": "sbs-pages"}], ResourcesPerPage=per_page)
    arns, token = [r["ResourceARN"] for r in first["ResourceTagMappingList"]], first.get("PaginationToken")
    between()
    while token:
        page = tagging.get_resources(TagFilters=[{"Key": "sbs-pages"}], ResourcesPerPage=per_page,
                                     PaginationToken=token)
        assert 0 < len(page["ResourceTagMappingList"]) <= per_page
        arns += [r["ResourceARN"] for r in page["ResourceTagMappingList"]]
        token = page.get("PaginationToken")
    return arns


def test_a_resource_created_between_pages_loses_none_that_stood(clients):
    ec2, tagging = clients
    stood = {_vpc(ec2, n) for n in range(8)}
    arns = _listed(tagging, between=lambda: _vpc(ec2, 99))
    assert {a.rsplit("/", 1)[1] for a in arns} >= stood  # moto alone: 4 of the 8
    assert len(arns) == len(set(arns))


def test_pages_cover_the_listing_once_and_a_spent_token_is_refused(clients):
    ec2, tagging = clients
    made = {_vpc(ec2, n) for n in range(20, 27)}
    arns = _listed(tagging, per_page=2)
    assert {a.rsplit("/", 1)[1] for a in arns} >= made and len(arns) == len(set(arns))
    first = tagging.get_resources(TagFilters=[{"Key": "sbs-pages"}], ResourcesPerPage=2)
    tagging.get_resources(PaginationToken=first["PaginationToken"], ResourcesPerPage=2)
    with pytest.raises(tagging.exceptions.PaginationTokenExpiredException):
        tagging.get_resources(PaginationToken=first["PaginationToken"], ResourcesPerPage=2)
