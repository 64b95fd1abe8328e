"""RDS Multi-AZ: a standby in a second AZ, and a forced failover that swaps them.

moto 5.2.5 accepts `MultiAZ=True` but never sets `SecondaryAvailabilityZone`, and
`reboot_db_instance(ForceFailover=True)` changes nothing. With this extension:

- a Multi-AZ DB instance reports `SecondaryAvailabilityZone`: an AZ of its DB subnet group
  other than the primary's (the region's next AZ without a subnet group), as AWS places
  the synchronous standby in another AZ; single-AZ instances report none;
- `RebootDBInstance` with `ForceFailover=true` swaps `AvailabilityZone` and
  `SecondaryAvailabilityZone`, keeps the endpoint (the DNS name stays; AWS re-points it),
  and records the failover in `describe_events` (category "failover"); on a single-AZ
  instance it is refused with InvalidParameterCombination, as AWS does.

- a forced failover answers, and `describe_db_instances` shows, `DBInstanceStatus` `rebooting`
  for REBOOTING_S seconds, then `available` (AWS: "rebooting" while the standby is promoted,
  typically 60-120 s; locally a second, so the course's waits stay short).

Event messages follow AWS's RDS event list ("Amazon RDS event categories and event
messages", RDS User Guide: RDS-EVENT-0013 "A Multi-AZ failover that resulted in the
promotion of a standby instance has started.", RDS-EVENT-0049 "A Multi-AZ failover has
completed.").
"""

from __future__ import annotations

import time

from werkzeug.wrappers import Request

FAILOVER_STARTED = "A Multi-AZ failover that resulted in the promotion of a standby instance has started."
FAILOVER_COMPLETED = "A Multi-AZ failover has completed."

_SECONDARY = "_workshop_secondary_az"
_STATUS, _REBOOTING_UNTIL = "_workshop_status", "_workshop_rebooting_until"
#: seconds a forced failover shows DBInstanceStatus "rebooting" before "available" again
REBOOTING_S = 1.0


def _secondary_az(db) -> str | None:
    """The standby's AZ: chosen once from the subnet group, kept until a failover swaps it."""
    if not getattr(db, "multi_az", False):
        return None
    chosen = db.__dict__.get(_SECONDARY)
    if chosen and chosen != db.availability_zone:
        return chosen
    candidates = []
    group = getattr(db, "db_subnet_group", None)
    for subnet in getattr(group, "subnets", None) or []:
        az = getattr(subnet, "availability_zone", None)
        if az and az not in candidates:
            candidates.append(az)
    if not candidates:  # no subnet group: the region's AZs by letter
        candidates = [f"{db.region}{letter}" for letter in "abc"]
    others = sorted(az for az in candidates if az != db.availability_zone)
    if not others:
        return None
    db.__dict__[_SECONDARY] = others[0]
    return others[0]


def _set_secondary_az(db, value) -> None:
    db.__dict__[_SECONDARY] = value


def _status(db) -> str:
    """DBInstanceStatus: "rebooting" while a failover is under way, else what moto set."""
    if time.monotonic() < db.__dict__.get(_REBOOTING_UNTIL, 0.0):
        return "rebooting"
    return db.__dict__.get(_STATUS, "available")


def _set_status(db, value) -> None:
    db.__dict__[_STATUS] = value


def _region(request: Request) -> str:
    from ..server import signed_scope

    return signed_scope(request).region or "us-east-1"


def _params(request: Request) -> dict[str, str]:
    from urllib.parse import parse_qs

    values = parse_qs(request.get_data(cache=True, as_text=True))
    values.update({k: [v] for k, v in request.args.items()})
    return {k: v[0] for k, v in values.items()}


def _is_forced_failover(request: Request) -> bool:
    from ..server import aws_action

    if aws_action(request) != "RebootDBInstance":
        return False
    return _params(request).get("ForceFailover", "").lower() == "true"


def fail_over(db) -> None:
    """Promote the standby: swap the AZs and record the failover as AWS's events do."""
    from moto.rds.exceptions import InvalidParameterCombination

    standby = _secondary_az(db)
    if not standby:
        raise InvalidParameterCombination(
            f"Cannot force a failover for DB instance {db.db_instance_identifier}: it is not a Multi-AZ instance."
        )
    primary = db.availability_zone
    db.availability_zone, db.__dict__[_SECONDARY] = standby, primary
    db.__dict__[_REBOOTING_UNTIL] = time.monotonic() + REBOOTING_S
    db.add_event("DB_INSTANCE_MULTI_AZ_FAILOVER_STARTED")
    db.add_event("DB_INSTANCE_MULTI_AZ_FAILOVER_COMPLETED")


def _failover(request: Request, match):
    """Swap the AZs, then let moto answer the reboot (it describes the instance as it now is)."""
    from moto.backends import get_backend
    from moto.rds.exceptions import DBInstanceNotFoundError, RDSClientError
    from moto.rds.models import Event

    Event.EVENT_MAP.setdefault("DB_INSTANCE_MULTI_AZ_FAILOVER_STARTED",
                               {"Categories": ["failover"], "Message": FAILOVER_STARTED})
    Event.EVENT_MAP.setdefault("DB_INSTANCE_MULTI_AZ_FAILOVER_COMPLETED",
                               {"Categories": ["failover"], "Message": FAILOVER_COMPLETED})
    from ..server import signed_account

    backend = get_backend("rds")[signed_account(request)][_region(request)]
    identifier = _params(request).get("DBInstanceIdentifier", "")
    try:
        db = backend.databases.get(identifier)
        if db is None:
            raise DBInstanceNotFoundError(identifier)
        fail_over(db)
    except RDSClientError as exc:
        return _error_response(exc)
    return None


def _error_response(exc):
    from werkzeug.wrappers import Response

    body = (
        '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>'
        f"<Code>{exc.code}</Code><Message>{_xml(exc.message)}</Message></Error>"
        "<RequestId>workshop-rds-multiaz</RequestId></ErrorResponse>"
    )
    status = 404 if exc.code == "DBInstanceNotFound" else 400
    return Response(body, status=status, mimetype="text/xml")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.rds.models import DBInstance

    DBInstance.secondary_availability_zone = property(_secondary_az, _set_secondary_az)
    DBInstance.status = property(_status, _set_status)


def install(server) -> None:
    server.intercept(_is_forced_failover, _failover)
