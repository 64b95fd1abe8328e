"""Stage 5's claims under traffic: reads go to the replicas, the replicas lag, and losing one is no outage.

- **Reads through the reader name.** Stage 5's app reads from `db-reader.<zone>` (weighted CNAMEs,
  one per replica) and writes to `db-writer.<zone>`; every page says where its data came from
  (`X-Data-Source: reader`). `reads` sends GETs through `www`.
- **Replica lag.** A replica replays the primary's writes asynchronously (RDS User Guide, "Working
  with DB instance read replicas"): `lag` writes a row on the primary and reads it back on a replica
  at once (not there yet: stale) and then until it appears (the local AWS replays after ~1 s;
  `POST /_workshop/rds/replica-lag` changes it; AWS's CloudWatch metric `ReplicaLag` shows yours).
- **A replica lost.** `lose_replica` deletes one under a steady probe through `www`: the app's next
  lookup of the reader name that lands on it finds nothing and asks again, so reads go on from the
  others (the weighted record still names it: the `endpoints` check says so until it is rebuilt),
  then rebuilds it (`s05_users_100k.ensure_replicas`, same id, same endpoint).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from .. import config, reach
from ..errors import WorkshopError
from ..traffic import probe
from . import s05_users_100k, webtier, www

#: the database and table the course's web app keeps its messages in (workshop/webapp/data.py)
TABLE = f"{webtier.APP_DATABASE}.messages"
LAG_TIMEOUT_S = 5.0
RATE = 20.0


def primary_and_replicas(ctx) -> tuple[dict, list[dict]]:
    primary = webtier.find_primary_db(ctx)
    if primary is None:
        raise WorkshopError(f"no database {ctx.name('db')}: build stages 3-5 first (ws.build_previous())")
    return primary, webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])


def reads(ctx, n: int = 12) -> list[probe.Sample]:
    """`n` GETs of the home page through www; each says where its messages were read from."""
    return www.get_many(www.where(ctx), n)


@dataclass(frozen=True)
class Lag:
    replica: str
    stale_at_once: bool  # the row was not on the replica when read right after the write
    visible_after_s: float | None  # seconds from the write until the replica had it (None: not within the timeout)


def _ensure_table(conn) -> None:
    from ..webapp.data import SCHEMA

    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{webtier.APP_DATABASE}`")
        cur.execute(SCHEMA.replace("messages", TABLE, 1))


def _count(conn, text: str) -> int | None:
    import pymysql

    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE text = %s", (text,))
            return int(cur.fetchone()[0])
    except pymysql.MySQLError:  # the table itself not replayed yet (a first run)
        return None


def lag(ctx, replica: dict | None = None, timeout_s: float = LAG_TIMEOUT_S) -> Lag:
    """Write a message on the primary, read it on a replica at once, then every 50 ms until it is there."""
    with config.using(ctx.target):
        primary, replicas = primary_and_replicas(ctx)
        if replica is None:
            if not replicas:
                raise WorkshopError(f"no read replica of {primary['DBInstanceIdentifier']}: create them first")
            replica = replicas[0]
        text = f"replica lag probe {uuid.uuid4().hex[:8]}"
        writer, reader = reach.mysql_connect(primary), reach.mysql_connect(replica)
        try:
            _ensure_table(writer)
            with writer.cursor() as cur:
                cur.execute(f"INSERT INTO {TABLE} (text, created_at) VALUES (%s, NOW())", (text,))
            written = time.monotonic()
            stale = not _count(reader, text)
            while time.monotonic() - written < timeout_s:
                if _count(reader, text):
                    return Lag(replica["DBInstanceIdentifier"], stale, time.monotonic() - written)
                time.sleep(0.05)
            return Lag(replica["DBInstanceIdentifier"], stale, None)
        finally:
            writer.close()
            reader.close()


@dataclass
class Loss:
    replica: str
    result: probe.Result  # through www
    lost_at: float
    restored_s: float | None  # seconds to rebuild it (None: not rebuilt)
    wall_s: float = 0.0

    def after(self) -> list[probe.Sample]:
        return self.result.between(self.lost_at)

    def failed(self, t0: float = 0.0) -> list[probe.Sample]:
        return [s for s in self.result.between(t0) if not www.good(s)]

    def sources(self, t0: float = 0.0, t1: float = float("inf")) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.result.between(t0, t1):
            key = s.source or (s.error or "no answer")
            out[key] = out.get(key, 0) + 1
        return out

    def summary(self) -> str:
        before, after = self.sources(0, self.lost_at), self.sources(self.lost_at)
        fmt = ", ".join
        return "\n".join([
            f"{self.replica} deleted at {self.lost_at:.1f} s",
            f"  before: {fmt(f'{k} {v}' for k, v in sorted(before.items()))}",
            f"  after:  {fmt(f'{k} {v}' for k, v in sorted(after.items()))}; {len(self.failed(self.lost_at))} failed",
            (f"  rebuilt in {self.restored_s:.1f} s (same id and endpoint)" if self.restored_s is not None
             else "  NOT rebuilt"),
            f"  wall time {self.wall_s:.1f} s",
        ])


def lose_replica(ctx, replica_id: str | None = None, before_s: float = 1.5, after_s: float = 3.0,
                 rate: float = RATE) -> Loss:
    """Delete one replica (default: the last) under a probe through www, watch the reads, rebuild it."""
    started = time.monotonic()
    with config.using(ctx.target):
        primary, replicas = primary_and_replicas(ctx)
        if len(replicas) < 2:
            raise WorkshopError(f"{len(replicas)} replica(s) of {primary['DBInstanceIdentifier']}: losing one needs "
                                "another left to read from (stage 5 builds 4)")
        replica_id = replica_id or replicas[-1]["DBInstanceIdentifier"]
        site = www.where(ctx)
        rds = ctx.client("rds")
        restored = None
        with probe.Probe(site.url, rate, host_header=site.host_header) as p:
            time.sleep(before_s)
            lost_at = p.elapsed
            rds.delete_db_instance(DBInstanceIdentifier=replica_id, SkipFinalSnapshot=True)
            try:
                time.sleep(after_s)
            finally:
                rebuilt_from = time.monotonic()
                s05_users_100k.ensure_replicas(ctx, len(replicas))
                restored = time.monotonic() - rebuilt_from
    return Loss(replica_id, p.result, lost_at, restored, time.monotonic() - started)
