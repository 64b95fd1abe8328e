"""How fast do the local DB instances and cache nodes answer, and what does each one cost in memory?

In one process with a local AWS of its own: creates a MySQL DB instance (db.m5.large) and a
two-node Redis replication group (cache.m5.large), then measures
- PyMySQL simple queries per second against one endpoint: `SELECT 1` and a primary-key read,
  one connection and four, through the capacity gate (2 vCPUs x 1,000 reads/s at scale 1),
  and against a bare `mysql_server.serve` endpoint without a gate (the protocol's own cost);
- redis-py GET per second on one connection, and GETs per second in pipelines of 100;
- the process's resident memory added per DB instance and per cache node (50 of each, measured
  first, after one of each has loaded the modules).

    .venv/bin/python benchmarks/data_endpoints.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymysql

from workshop import aws, config, reach
from workshop.localaws.server import LocalAWS

SECONDS = 3.0


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rate(fn, seconds: float = SECONDS, threads: int = 1) -> float:
    counts = [0] * threads

    def work(i):
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            counts[i] += fn(i)

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def mysql_figures(target, rds) -> None:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    rds.create_db_instance(DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.m5.large",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20, DBName="shop")
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    conns = [reach.mysql_connect(db, "password123", target=target) for _ in range(4)]
    with conns[0].cursor() as cur:
        cur.execute("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40))")
        cur.executemany("INSERT INTO items (name) VALUES (%s)", [(f"item-{i}",) for i in range(1000)])

    def query(sql):
        def run(i):
            with conns[i].cursor() as cur:
                cur.execute(sql)
                cur.fetchall()
            return 1
        return run

    print(f"PyMySQL, gated (db.m5.large, scale 1): SELECT 1 x1 conn {rate(query('SELECT 1')):,.0f}/s; "
          f"PK read x1 {rate(query('SELECT name FROM items WHERE id = 17')):,.0f}/s; "
          f"PK read x4 conns {rate(query('SELECT name FROM items WHERE id = 17'), threads=4):,.0f}/s")
    for c in conns:
        c.close()


def bare_mysql_figures(server) -> None:
    from workshop.localaws.mysql_server import Engine, serve

    endpoint = server.dataplane.run(serve(Engine(databases=("shop",)), user="u", password="p"))
    conn = pymysql.connect(host="127.0.0.1", port=endpoint.port, user="u", password="p", database="shop",
                           autocommit=True)

    def one(_):
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        return 1

    print(f"PyMySQL, bare endpoint (no gate): SELECT 1 x1 conn {rate(one):,.0f}/s")
    conn.close()
    server.dataplane.run(endpoint.close())


def redis_figures(target, ec) -> None:
    group = ec.create_replication_group(ReplicationGroupId=f"bench-{uuid.uuid4().hex[:6]}",
                                        ReplicationGroupDescription="bench", Engine="redis",
                                        CacheNodeType="cache.m5.large", NumCacheClusters=2)["ReplicationGroup"]
    client = reach.redis_client(group, target=target)
    client.set("k", "v")

    def get(_):
        client.get("k")
        return 1

    def pipelined(_):
        pipe = client.pipeline(transaction=False)
        for _ in range(100):
            pipe.get("k")
        pipe.execute()
        return 100

    print(f"redis-py: GET x1 conn {rate(get):,.0f}/s; pipelined GETs {rate(pipelined):,.0f}/s")


def memory_figures(server, target, rds, ec, count: int = 50) -> None:
    """Run first, in a fresh process: one DB instance and one group warm the modules up, then `count` more
    of each are measured."""
    import gc

    def settle(predicate):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not predicate():
            time.sleep(0.1)
        gc.collect()
        time.sleep(0.5)

    rds.create_db_instance(DBInstanceIdentifier="warm", Engine="mysql", DBInstanceClass="db.t3.micro",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)
    ec.create_replication_group(ReplicationGroupId="warm", ReplicationGroupDescription="m", Engine="redis",
                                CacheNodeType="cache.t3.micro", NumCacheClusters=1)
    settle(lambda: server.dataplane.of_kind("db-instance") and server.dataplane.of_kind("cache-node"))
    before = rss_mib()
    tag = uuid.uuid4().hex[:4]
    for i in range(count):
        rds.create_db_instance(DBInstanceIdentifier=f"m{tag}-{i}", Engine="mysql", DBInstanceClass="db.t3.micro",
                               MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                               DBName="shop")
    settle(lambda: len(server.dataplane.of_kind("db-instance")) >= count + 1)
    after_db = rss_mib()
    for i in range(count // 2):
        ec.create_replication_group(ReplicationGroupId=f"m{tag}-{i}", ReplicationGroupDescription="m", Engine="redis",
                                    CacheNodeType="cache.t3.micro", NumCacheClusters=2)
    settle(lambda: len(server.dataplane.of_kind("cache-node")) >= count + 1)
    after_cache = rss_mib()
    print(f"RSS: +{(after_db - before) / count * 1024:,.0f} KiB per DB instance (API record, engine, listener), "
          f"+{(after_cache - after_db) / count * 1024:,.0f} KiB per cache node ({count} of each; "
          f"process {after_cache:,.0f} MiB)")


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        server = LocalAWS(port=0).start()
        try:
            target = config.target(kind="local", endpoint=server.endpoint, home=home)
            rds, ec = aws.client("rds", target=target), aws.client("elasticache", target=target)
            memory_figures(server, target, rds, ec)
            mysql_figures(target, rds)
            bare_mysql_figures(server)
            redis_figures(target, ec)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
