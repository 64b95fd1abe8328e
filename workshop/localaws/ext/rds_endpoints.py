"""RDS DB instances answer MySQL on their endpoints, with read replicas, failover and metrics.

moto 5.2.5 keeps DB instances as API records: nothing answers on `Endpoint.Address:3306`.
Here every MySQL or MariaDB DB instance gets a MySQL endpoint on a loopback port
(`workshop/localaws/mysql_server.py`), published in the data plane as
`Endpoint("db-instance", <DBInstanceIdentifier>, port, names=(<Endpoint.Address>,),
details={"role", "az", "source", "instance_class", ...})`; `workshop.reach.address(<address>,
3306)` turns the AWS name into that port. What answers follows the API's state, checked
after every RDS request and every RECONCILE_S seconds:

- `available` answers; `stopped` (StopDBInstance) refuses connections; a deleted instance's
  listener closes and its data is gone. The data outlives a stop and a failover.
- The master user is `MasterUsername` with `MasterUserPassword`, or, with
  `ManageMasterUserPassword`, the password in the Secrets Manager secret RDS created (RDS User
  Guide, "Password management with Amazon RDS and AWS Secrets Manager"); anything else is
  MySQL's 1045 "Access denied".
- A read replica (CreateDBInstanceReadReplica) starts as a copy of its source and then
  receives the source's writes asynchronously: each write is replayed `replica_lag_s` seconds
  after the source committed it (REPLICA_LAG_S, 1 s unless `POST /_workshop/rds/replica-lag`
  `{"seconds": s}` says otherwise). A write then an immediate read on the replica is stale;
  a moment later it is not (RDS User Guide, "Working with DB instance read replicas": "read
  replicas are updated asynchronously"). A replica refuses writes with MySQL's 1290
  (--read-only, as RDS sets `read_only=1` on MySQL replicas). PromoteReadReplica makes it a
  standalone, writable primary that no longer follows its source.
- A Multi-AZ forced failover (`reboot_db_instance(ForceFailover=True)`, see `rds_multiaz.py`)
  drops every connection at once and refuses new ones while the API says `rebooting`, then the
  same endpoint answers with the same data (the standby was synchronous: RDS User Guide,
  "Multi-AZ DB instance deployments for Amazon RDS"). On AWS "Failover times are typically
  60-120 seconds" (RDS User Guide, "Failing over a Multi-AZ DB instance for Amazon RDS"); here
  the window is `rds_multiaz.REBOOTING_S` (1 s), the time the API shows `rebooting`, so the
  outage shows without stalling the course, and API and wire never disagree. A plain reboot
  drops connections too (the engine restarts).
- Capacity: an instance has one slot per vCPU of its class (`slots.py`; one local query puts `scale`
  queries' work on them); a read holds one for
  1/db_reads_per_vcpu s, a write 1/db_writes_per_vcpu s (`workshop/capacity/assumptions.py`),
  and beyond that statements queue.
- Every METRICS_PERIOD_S seconds each instance publishes `AWS/RDS` CPUUtilization (%, from
  its booked slot time), DatabaseConnections (count) and, for replicas, ReplicaLag (seconds:
  the age of the oldest write not yet applied), dimension DBInstanceIdentifier (RDS User
  Guide, "Amazon CloudWatch metrics for Amazon RDS").

PostgreSQL and other engines keep no endpoint (nothing local speaks their protocol).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from .. import metrics
from ..dataplane import Endpoint
from ..mysql_server import Engine, MySQLEndpoint, serve
from ..slots import Slots, slot_count

log = logging.getLogger("workshop.localaws.rds")

#: seconds between checks of the API's state (and after every RDS request)
RECONCILE_S = 0.2
#: seconds between two publications of the AWS/RDS metrics
METRICS_PERIOD_S = 5.0
#: seconds after the source commits a write until a read replica applies it
REPLICA_LAG_S = 1.0
#: the most a replica lag may be set to (POST /_workshop/rds/replica-lag)
MAX_REPLICA_LAG_S = 600.0
#: engines whose instances answer MySQL
MYSQL_ENGINES = ("mysql", "mariadb")


@dataclass(frozen=True)
class _Want:
    """One DB instance as the API describes it."""

    account: str
    region: str
    identifier: str
    status: str
    role: str
    source: str | None
    instance_class: str
    az: str
    address: str
    engine: str
    engine_version: str
    db_name: str | None
    user: str
    password: str
    failovers: float  # changes when a forced failover starts (rds_multiaz's marker)
    standby_az: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.account, self.region, self.identifier

    @property
    def answering(self) -> bool:
        return self.status == "available"


@dataclass
class _Db:
    want: _Want
    engine: Engine
    endpoint: MySQLEndpoint
    slots: Slots
    source: _Db | None = None
    follower: int | None = None
    replicator: asyncio.Task | None = None
    lag_s: float = 0.0
    closed: bool = False
    metrics_at: float = field(default_factory=time.monotonic)


def _password(db) -> str:
    """The master password: the instance's own, or the current value of its managed secret."""
    if getattr(db, "manage_master_user_password", False):
        try:
            secret = db.master_user_secret.secret
            version = secret.versions.get(secret.default_version_id) or {}
            return json.loads(version.get("secret_string") or secret.secret_string)["password"]
        except Exception:
            log.warning("no readable master secret for %s", db.db_instance_identifier)
            return ""
    return db.__dict__.get("_master_user_password") or ""  # moto's property refuses to tell it


def _read_api() -> dict[tuple[str, str, str], _Want]:
    """Every MySQL-family DB instance of every account and region moto holds."""
    from moto.rds.models import rds_backends

    wants: dict = {}
    for account, region, backend in list(rds_backends.iter_backends()):
        for identifier, db in list(backend.databases.items()):
            engine = (getattr(db, "engine", "") or "").lower()
            if engine not in MYSQL_ENGINES or getattr(db, "db_cluster_identifier", None):
                continue
            source = db.source_db_instance_identifier if db.is_replica else None
            want = _Want(account, region, identifier, str(db.status), "replica" if db.is_replica else "primary",
                         source, db.db_instance_class or "", db.availability_zone or "", db.address, engine,
                         str(db.engine_version or ""), db.db_name, db.master_username or "", _password(db),
                         db.__dict__.get("_workshop_rebooting_until", 0.0),
                         getattr(db, "secondary_availability_zone", None))
            wants[want.key] = want
    return wants


class RdsEndpoints:
    """What the local AWS's DB instances answer: the reconciler between moto's records and listeners."""

    def __init__(self, server):
        self.server = server
        self.replica_lag_s = REPLICA_LAG_S
        self._dbs: dict[tuple[str, str, str], _Db] = {}
        self._lock = threading.Lock()
        from ...capacity.assumptions import defaults

        values = defaults()
        self._read_cost = 1.0 / values["db_reads_per_vcpu"]
        self._write_cost = 1.0 / values["db_writes_per_vcpu"]

    # --- driven from the server's threads -----------------------------------------------
    def reconcile(self, drop: tuple[str, str, str] | None = None) -> None:
        """Make the listeners match the API (and drop the connections of `drop`, a rebooted instance)."""
        if self.server.stopping.is_set():
            return
        with self._lock:
            wants = _read_api()
            if not wants and not self._dbs:
                return
            due = self._apply(wants, drop)
            figures = self.server.dataplane.run(due, timeout=10)
        for (account, region), data in figures.items():
            metrics.publish(account, region, "AWS/RDS", data)

    def after_request(self, request: Request, response: Response) -> None:
        from ..server import aws_action, signed_account, signed_scope

        drop = None
        if aws_action(request) == "RebootDBInstance" and response.status_code < 400:
            params = {**request.args, **request.form}
            drop = (signed_account(request), signed_scope(request).region or "us-east-1",
                    params.get("DBInstanceIdentifier", ""))
        self.reconcile(drop)

    # --- on the data plane's loop ---------------------------------------------------------
    async def _apply(self, wants: dict, drop) -> dict:
        for key in [k for k in self._dbs if k not in wants]:
            await self._remove(key)
        # sources before their replicas (moto lists in creation order; a restart of the reconciler may not)
        for key, want in sorted(wants.items(), key=lambda item: item[1].role == "replica"):
            db = self._dbs.get(key)
            if db is None:
                db = await self._add(want)
                if db is None:
                    continue
            await self._update(db, want, dropped=key == drop)
        return self._metrics()

    async def _add(self, want: _Want) -> _Db | None:
        source = self._dbs.get((want.account, want.region, want.source)) if want.source else None
        follower = None
        if source is not None:
            follower, engine = source.engine.follow()
        else:
            engine = Engine(databases=(want.db_name,) if want.db_name else (), read_only=want.role == "replica")
        slots = Slots(slot_count(want.instance_class),
                      scale=lambda name=want.identifier: self.server.dataplane.scale_for(name=name))
        db = _Db(want, engine, None, slots, source, follower)  # type: ignore[arg-type]

        async def admit(kind: str) -> None:
            await slots.hold(self._read_cost if kind == "read" else self._write_cost)

        db.endpoint = await serve(engine, user=want.user, password=want.password,
                                  version=want.engine_version or "8.0.35", admit=admit)
        db.endpoint.writable = want.role == "primary"
        if source is not None:
            db.replicator = asyncio.ensure_future(self._replicate(db))
        if not want.answering:
            await db.endpoint.pause()
        self._dbs[want.key] = db
        return db

    async def _update(self, db: _Db, want: _Want, dropped: bool) -> None:
        before, db.want = db.want, want
        endpoint = db.endpoint
        if (want.user, want.password) != (before.user, before.password):
            endpoint.set_credentials(want.user, want.password)
        if before.role == "replica" and want.role == "primary":
            self._stop_following(db)
            db.engine.read_only = False
            endpoint.writable = True
            log.info("%s promoted: a standalone primary now", want.identifier)
        if want.failovers != before.failovers or dropped:
            endpoint.drop_connections()
        if want.answering and not endpoint.listening:
            await endpoint.resume()
        elif not want.answering and endpoint.listening:
            await endpoint.pause()
        db.slots.resize(slot_count(want.instance_class))
        self._publish(db)

    def _publish(self, db: _Db) -> None:
        want = db.want
        details = {"role": want.role, "az": want.az, "standby_az": want.standby_az, "source": want.source if db.source is not None else None,
                   "instance_class": want.instance_class, "engine": want.engine, "status": want.status,
                   "answering": db.endpoint.listening, "database": want.db_name}
        current = self.server.dataplane.find("db-instance", want.identifier)
        endpoint = Endpoint("db-instance", want.identifier, db.endpoint.port, account=want.account,
                            region=want.region, names=(want.address,), details=details)
        if current != endpoint:
            self.server.dataplane.publish(endpoint)

    async def _remove(self, key) -> None:
        db = self._dbs.pop(key)
        db.closed = True
        self._stop_following(db)
        await db.endpoint.close()
        self.server.dataplane.withdraw("db-instance", db.want.identifier)
        db.engine.close()

    def _stop_following(self, db: _Db) -> None:
        if db.replicator is not None:
            db.replicator.cancel()
            db.replicator = None
        if db.source is not None and db.follower is not None:
            db.source.engine.unfollow(db.follower)
        db.source = db.follower = None
        db.lag_s = 0.0

    async def _replicate(self, db: _Db) -> None:
        """Apply the source's writes `replica_lag_s` after each was committed, in order."""
        try:
            await self._replay(db)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replication into %s stopped", db.want.identifier)

    async def _replay(self, db: _Db) -> None:
        while True:
            await asyncio.sleep(0.05)
            source = db.source
            if source is None or source.closed:
                db.lag_s = 0.0
                return
            now = time.monotonic()
            pending = source.engine.writes_since(db.engine.applied)
            for write in pending:
                if write.at + self.replica_lag_s > now:
                    break
                db.engine.apply(write)
            source.engine.acknowledge(db.follower, db.engine.applied)
            waiting = [w for w in pending if w.seq > db.engine.applied]
            db.lag_s = now - waiting[0].at if waiting else 0.0

    def _metrics(self) -> dict:
        """The AWS/RDS datapoints that are due, by (account, region)."""
        out: dict = {}
        now = time.monotonic()
        for db in self._dbs.values():
            period = now - db.metrics_at
            if period < METRICS_PERIOD_S:
                continue
            db.metrics_at = now
            want = db.want
            dims = {"DBInstanceIdentifier": want.identifier}
            data = [metrics.datum("CPUUtilization", db.slots.utilisation(db.slots.take_busy(), period), "Percent", dims),
                    metrics.datum("DatabaseConnections", db.endpoint.connections, "Count", dims)]
            if want.role == "replica":
                data.append(metrics.datum("ReplicaLag", round(db.lag_s, 3), "Seconds", dims))
            out.setdefault((want.account, want.region), []).extend(data)
        return out

    async def close(self) -> None:
        for key in list(self._dbs):
            await self._remove(key)

    # --- the instructor's knob -------------------------------------------------------------
    def lag_route(self, request: Request, match) -> Response:
        """GET: the replica lag in seconds; POST {"seconds": s}: set it (0..MAX_REPLICA_LAG_S)."""
        if request.method == "POST":
            try:
                seconds = json.loads(request.get_data() or b"{}").get("seconds")
                if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                        or not 0 <= seconds <= MAX_REPLICA_LAG_S:
                    raise ValueError
            except (ValueError, AttributeError):
                return Response(json.dumps({"message": f"seconds must be a number from 0 to {MAX_REPLICA_LAG_S:g}"}),
                                status=400, mimetype="application/json")
            self.replica_lag_s = float(seconds)
        return Response(json.dumps({"seconds": self.replica_lag_s}), mimetype="application/json")


def _keeping_the_source_secret(original):
    """moto copies a source's MasterUserSecret into its replica and deletes that secret with the replica,
    leaving the source without its password; a replica's master user is its source's, so the secret
    belongs to the source and outlives any replica."""
    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        db = self.databases.get(db_instance_identifier)
        managed = db is not None and db.is_replica and db.manage_master_user_password
        if managed:
            db.manage_master_user_password = False
        try:
            return original(self, db_instance_identifier, *args, **kwargs)
        finally:
            if managed:
                db.manage_master_user_password = True

    return delete_db_instance


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.rds.models import RDSBackend

    RDSBackend.delete_db_instance = _keeping_the_source_secret(RDSBackend.delete_db_instance)


def _is_rds(request: Request) -> bool:
    from ..server import signed_scope

    return signed_scope(request).service == "rds"


def install(server) -> None:
    plane = RdsEndpoints(server)
    server.rds_endpoints = plane  # reachable from tests and benchmarks (per-tier CPU)
    server.after(_is_rds, plane.after_request)
    server.background("rds-endpoints", plane.reconcile, RECONCILE_S)
    server.route(None, r"^/_workshop/rds/replica-lag$", plane.lag_route)
    server.dataplane.on_stop(plane.close)
