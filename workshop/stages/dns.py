"""The kit's own DNS resolver over Route 53 zone records (moto has no TestDNSAnswer).

`resolve(ctx, "www.demo.scale-baby-scale.net")` finds the most specific hosted zone of the
run for the name, reads its record sets and answers as an authoritative server would:
A records give addresses, a CNAME is followed (within the zone, at most 8 hops), an alias
gives its target's DNS name (a load balancer's name is resolved no further: on AWS its
addresses change, and the local AWS has none). Nothing is sent to a real DNS server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import infra


@dataclass
class Answer:
    name: str
    addresses: list[str] = field(default_factory=list)  # from A records
    alias: str | None = None  # an alias record's target DNS name
    chain: list[str] = field(default_factory=list)  # the names followed, first to last

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name} -> alias {self.alias}"
        return f"{self.name} -> {', '.join(self.addresses) or '(no address)'}"


def _records(ctx, zone_id: str) -> dict[tuple[str, str], dict]:
    r53 = infra.client(ctx, "route53")
    out = {}
    for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for rr in page["ResourceRecordSets"]:
            out[(rr["Name"].lower(), rr["Type"])] = rr
    return out


def resolve(ctx, name: str, zone_id: str | None = None) -> Answer | None:
    """The answer for `name` (type A) from the run's zone, or None when the name has no record."""
    zone_id = zone_id or infra.find_zone(ctx)
    if zone_id is None:
        return None
    records = _records(ctx, zone_id)
    current = name.lower().rstrip(".") + "."
    answer = Answer(name.rstrip("."))
    for _ in range(8):
        answer.chain.append(current)
        rr = records.get((current, "A"))
        if rr is not None:
            if "AliasTarget" in rr:
                target = rr["AliasTarget"]["DNSName"].lower().rstrip(".") + "."
                if (target, "A") in records and target != current:  # alias to a record of the zone
                    current = target
                    continue
                answer.alias = target.rstrip(".")
                return answer
            answer.addresses = [r["Value"] for r in rr.get("ResourceRecords", [])]
            return answer
        cname = records.get((current, "CNAME"))
        if cname is None:
            return None
        current = cname["ResourceRecords"][0]["Value"].lower().rstrip(".") + "."
    return None
