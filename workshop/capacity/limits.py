"""Availability and connection limits the capacity model states beside its CPU figures, each with its page.

Availability: AWS's service-level agreements give the monthly uptime AWS commits to for one
EC2 instance, for EC2 spread over two or more Availability Zones, and for RDS Single-AZ or
Multi-AZ. They do not scale a design's users: the peak figure holds while the design is up;
the SLA says for how much of a month it is promised (`availability(topology)`, a product of
the tiers in series), and the kit compares it with its target (`TARGET`).

Users served at the target: a figure is only worth what the design keeps up. A design that
meets the target by its SLAs does so because it spans two or more AZs; it keeps the target's
promise only if what is left after losing one AZ carries the users (static stability: AWS
Well-Architected Framework, Reliability Pillar, REL11-BP05 "Use static stability to prevent
bimodal behavior", `STATIC_STABILITY`), so its figure at the target is its peak with the worst
AZ lost (an Auto Scaling group relaunching in the AZ left, up to its max: a looser reading than
REL11-BP05's, which counts only what already runs). A design below the target spends the month's outage budget faster: one instance's
99.5% allows five times the 43 minutes the target does, so it is credited the share of its peak
that the same outage budget in user-minutes covers (`served_at_target`).

Connections: a database accepts at most `max_connections` sessions. RDS for MySQL sets it
from the instance class's memory; a self-managed MySQL (the day-1 box) starts at MySQL's
default. The model counts the connections users hold with Little's law (requests reaching
the origin per second x the time each holds a connection, `db_connection_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import instance_types

EC2_SLA = "https://aws.amazon.com/compute/sla/"
RDS_SLA = "https://aws.amazon.com/rds/sla/"
API_GATEWAY_SLA = "https://aws.amazon.com/api-gateway/sla/"
LAMBDA_SLA = "https://aws.amazon.com/lambda/sla/"
DYNAMODB_SLA = "https://aws.amazon.com/dynamodb/sla/"
RDS_MAX_CONNECTIONS = ("https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html"
                       "#RDS_Limits.MaxConnections")
STATIC_STABILITY = ("https://docs.aws.amazon.com/wellarchitected/latest/reliability-pillar/"
                    "rel_withstand_component_failures_static_stability.html")
MYSQL_MAX_CONNECTIONS = ("https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html"
                         "#sysvar_max_connections")


@dataclass(frozen=True)
class Figure:
    value: float
    what: str
    source: str

    def cite(self) -> str:
        return f"{100 * self.value:g}% {self.what} ({self.source})"


#: monthly uptime AWS commits to (Service Level Agreements)
SLA = {
    "ec2-instance": Figure(0.995, "EC2 instance-level uptime, one instance", EC2_SLA),
    "ec2-multi-az": Figure(0.9999, "EC2 region-level uptime, instances in two or more AZs", EC2_SLA),
    "rds-single-az": Figure(0.995, "RDS Single-AZ instance uptime", RDS_SLA),
    "rds-multi-az": Figure(0.9995, "RDS Multi-AZ instance uptime", RDS_SLA),
    "api-gateway": Figure(0.9995, "API Gateway uptime", API_GATEWAY_SLA),
    "lambda": Figure(0.9995, "Lambda uptime", LAMBDA_SLA),
    "dynamodb": Figure(0.9999, "DynamoDB (standard table) uptime", DYNAMODB_SLA),
}

#: kit default: "three nines", 43 minutes down a month at most; a design below it has a single point of failure
TARGET = 0.999

#: RDS for MySQL's default parameter group: max_connections = {DBInstanceClassMemory/12582880}
RDS_BYTES_PER_CONNECTION = 12_582_880
#: MySQL's own default max_connections, what a self-managed MySQL on the day-1 box starts with
MYSQL_DEFAULT_CONNECTIONS = 151

MINUTES_PER_MONTH = 30 * 24 * 60


def rds_max_connections(instance_class: str) -> int:
    """RDS for MySQL's default max_connections for a class: its memory / 12,582,880 bytes (an upper bound:
    DBInstanceClassMemory is the class's memory less what the OS and RDS keep)."""
    return int(instance_types.get(instance_class).memory_gib * 2**30 // RDS_BYTES_PER_CONNECTION)


def downtime_minutes(availability: float) -> float:
    """Minutes a month a design with this availability may be down."""
    return (1.0 - availability) * MINUTES_PER_MONTH


@dataclass(frozen=True)
class Availability:
    value: float  # the product of the tiers' SLAs in series
    parts: tuple[str, ...]  # the SLA keys multiplied

    @property
    def meets_target(self) -> bool:
        return self.value >= TARGET

    def short(self) -> str:
        """'99.50% available by AWS's SLAs, below the kit's 99.9% target'"""
        verdict = "meets" if self.meets_target else "below"
        return f"{100 * self.value:.2f}% available by AWS's SLAs, {verdict} the kit's {100 * TARGET:g}% target"

    def describe(self) -> str:
        """'99.5% available (EC2 SLA, one instance): up to 3.6 h down a month, below the kit's 99.9% target'"""
        names = " x ".join(f"{SLA[p].what} {100 * SLA[p].value:g}%" for p in self.parts)
        down = downtime_minutes(self.value)
        when = f"{down / 60:.1f} h" if down >= 60 else f"{down:.0f} min"
        verdict = "meets" if self.meets_target else "below"
        return (f"{100 * self.value:.2f}% available by AWS's SLAs ({names}): up to {when} down a month, "
                f"{verdict} the kit's {100 * TARGET:g}% target")


def served_at_target(peak: float, az_down: float | None, availability: Availability | None) -> tuple[int, str]:
    """(users, how): the users a design serves at the kit's availability target, and how that figure was reached.

    - the design meets the target (two or more AZs): the users it keeps with its worst AZ lost (static stability);
    - it does not: its peak × target downtime / its own downtime (the same outage budget, in user-minutes);
    - no availability known: the peak.
    """
    if availability is None:
        return int(peak), "its peak"
    if availability.meets_target:
        if az_down is None:
            return int(peak), "its peak"
        return int(min(peak, az_down)), "what it keeps with an AZ lost"
    share = (1.0 - TARGET) / (1.0 - availability.value)
    return int(peak * share), (f"{share:.0%} of its peak: {100 * availability.value:.2f}% spends the "
                               f"{100 * TARGET:g}% target's outage budget {1 / share:.1f}× as fast")


def availability(topo, web_multi_az: bool) -> Availability:
    """The SLA availability of the design's request path: web tier, then its database, in series."""
    parts: list[str] = []
    serving = [i for i in topo.running()] or topo.auto_scaling_groups
    if serving:
        parts.append("ec2-multi-az" if web_multi_az else "ec2-instance")
        primaries = [d for d in topo.databases if d.role != "replica"]
        if primaries:
            parts.append("rds-multi-az" if all(d.multi_az for d in primaries) else "rds-single-az")
    elif topo.functions and topo.apis:
        parts += ["api-gateway", "lambda", "dynamodb"]
    value = 1.0
    for p in parts:
        value *= SLA[p].value
    return Availability(value, tuple(parts))
