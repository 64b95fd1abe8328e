"""RDS DB instances answer MySQL on their endpoints (localaws/ext/rds_endpoints.py), reached with workshop.reach."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pymysql
import pytest

from workshop import aws, config, reach
from workshop.localaws.ext import rds_endpoints, rds_multiaz

PASSWORD = "password123"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A local AWS of this module's own, and a target pointing at it."""
    from workshop.localaws.server import LocalAWS

    server = LocalAWS(port=0).start()
    target = config.target(kind="local", endpoint=server.endpoint, home=tmp_path_factory.mktemp("rds-home"))
    yield server, target
    server.stop()


@pytest.fixture(scope="module")
def subnet_group(local):
    _, target = local
    ec2, rds = aws.client("ec2", target=target), aws.client("rds", target=target)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    rds.create_db_subnet_group(DBSubnetGroupName="rds-ep", DBSubnetGroupDescription="two AZs", SubnetIds=subnets)
    return "rds-ep"


def _create(local, subnet_group, **extra) -> dict:
    _, target = local
    rds = aws.client("rds", target=target)
    name = extra.pop("name", f"db-{uuid.uuid4().hex[:8]}")
    params = dict(DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.m5.large", MasterUsername="admin",
                  AllocatedStorage=20, DBSubnetGroupName=subnet_group, AvailabilityZone="us-east-1a", DBName="shop")
    params.update(extra)
    if not params.get("ManageMasterUserPassword"):
        params["MasterUserPassword"] = PASSWORD
    rds.create_db_instance(**params)
    return _describe(local, name)


def _describe(local, name: str) -> dict:
    _, target = local
    return aws.client("rds", target=target).describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def _connect(local, db: dict, **kwargs):
    _, target = local
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("read_timeout", 5)
    return reach.mysql_connect(db, target=target, **kwargs)


def _rows(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _until(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _answers(local, db) -> bool:
    try:
        with _connect(local, db, connect_timeout=1) as conn:
            return _rows(conn, "SELECT 1") == ((1,),)
    except (pymysql.err.OperationalError, reach.Unreachable):
        return False


def test_a_new_db_instance_answers_mysql_at_its_endpoint_name(local, subnet_group):
    """create_db_instance, then PyMySQL through reach.address(Endpoint.Address) reaches its DBName as the master user."""
    server, target = local
    db = _create(local, subnet_group)
    host, port = reach.address(db["Endpoint"]["Address"], db["Endpoint"]["Port"], target=target)
    assert host == "127.0.0.1" and port != 3306
    with pymysql.connect(host=host, port=port, user="admin", password=PASSWORD, database="shop",
                         autocommit=True, connect_timeout=2) as conn:
        _rows(conn, "CREATE TABLE visits (id INT AUTO_INCREMENT PRIMARY KEY, page VARCHAR(50))")
        _rows(conn, "INSERT INTO visits (page) VALUES ('/'), ('/shop')")
        assert _rows(conn, "SELECT page FROM visits ORDER BY id") == (("/",), ("/shop",))
    listed = server.dataplane.find("db-instance", db["DBInstanceIdentifier"])
    assert listed.details["role"] == "primary" and listed.details["instance_class"] == "db.m5.large"
    assert listed.details["az"] == "us-east-1a" and listed.names == (db["Endpoint"]["Address"],)


def test_wrong_password_is_1045_and_an_unknown_name_is_one_line(local, subnet_group):
    """A wrong master password is MySQL's 1045; a name nothing answers for is a WorkshopError naming what exists."""
    _, target = local
    db = _create(local, subnet_group)
    with pytest.raises(pymysql.err.OperationalError) as denied:
        _connect(local, db, password="not-it")
    assert denied.value.args[0] == 1045
    with pytest.raises(reach.Unreachable) as unknown:
        reach.address("nope.aaaaaaaaaa.us-east-1.rds.amazonaws.com", 3306, target=target)
    message = str(unknown.value)  # the session's local AWS may serve many: the same service's names come first
    assert message.startswith("nothing on the local AWS answers as nope.aaaaaaaaaa.us-east-1.rds.amazonaws.com:3306")
    assert re.match(r"[\w.-]+\.rds\.amazonaws\.com\b", message.split("it serves: ")[1]) and "\n" not in message


def test_on_the_aws_target_the_name_is_unchanged():
    """On a real account reach.address returns the AWS name and port as they are."""
    t = config.target(kind="aws", account="111122223333")
    assert reach.address("db.x.us-east-1.rds.amazonaws.com", 3306, target=t) == ("db.x.us-east-1.rds.amazonaws.com", 3306)


def test_a_managed_master_password_is_read_from_its_secret(local, subnet_group):
    """With ManageMasterUserPassword the endpoint takes the secret's password, which mysql_connect fetches."""
    db = _create(local, subnet_group, ManageMasterUserPassword=True)
    with reach.mysql_connect(db, target=local[1]) as conn:
        assert _rows(conn, "SELECT DATABASE()") == (("shop",),)
    with pytest.raises(pymysql.err.OperationalError) as denied:
        _connect(local, db)  # the default PASSWORD is not the secret's
    assert denied.value.args[0] == 1045


@pytest.mark.slow
def test_a_read_replica_is_stale_at_first_then_converges_and_refuses_writes(local, subnet_group):
    """A write on the primary is missing on the replica right after, there within the lag; the replica is read-only."""
    _, target = local
    db = _create(local, subnet_group)
    primary = _connect(local, db)
    _rows(primary, "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item TEXT)")
    _rows(primary, "INSERT INTO orders (item) VALUES ('first')")
    name = db["DBInstanceIdentifier"] + "-r"
    aws.client("rds", target=target).create_db_instance_read_replica(
        DBInstanceIdentifier=name, SourceDBInstanceIdentifier=db["DBInstanceIdentifier"])
    replica_db = _describe(local, name)
    replica = _connect(local, replica_db)
    assert _rows(replica, "SELECT item FROM orders") == (("first",),), "a replica starts as a copy of its source"
    _rows(primary, "INSERT INTO orders (item) VALUES ('second')")
    written = time.monotonic()
    assert _rows(replica, "SELECT COUNT(*) FROM orders") == ((1,),), "the replica saw the write at once"
    assert _until(lambda: _rows(replica, "SELECT COUNT(*) FROM orders") == ((2,),), rds_endpoints.REPLICA_LAG_S + 3)
    assert time.monotonic() - written >= rds_endpoints.REPLICA_LAG_S * 0.8
    with pytest.raises(pymysql.err.MySQLError) as refused:
        _rows(replica, "INSERT INTO orders (item) VALUES ('on the replica')")
    assert refused.value.args[0] == 1290
    listed = local[0].dataplane.find("db-instance", name)
    assert (listed.details["role"], listed.details["source"]) == ("replica", db["DBInstanceIdentifier"])
    primary.close()
    replica.close()


@pytest.mark.slow
def test_a_promoted_replica_is_a_writable_primary_that_no_longer_follows(local, subnet_group):
    """PromoteReadReplica: the former replica takes writes, and the old source's later writes do not reach it."""
    _, target = local
    rds = aws.client("rds", target=target)
    db = _create(local, subnet_group)
    primary = _connect(local, db)
    _rows(primary, "CREATE TABLE t (v INT)")
    name = db["DBInstanceIdentifier"] + "-p"
    rds.create_db_instance_read_replica(DBInstanceIdentifier=name, SourceDBInstanceIdentifier=db["DBInstanceIdentifier"])
    rds.promote_read_replica(DBInstanceIdentifier=name)
    promoted = _connect(local, _describe(local, name))
    _rows(promoted, "INSERT INTO t VALUES (1)")
    _rows(primary, "INSERT INTO t VALUES (2)")
    time.sleep(rds_endpoints.REPLICA_LAG_S + 0.3)
    assert _rows(promoted, "SELECT v FROM t") == ((1,),)
    assert local[0].dataplane.find("db-instance", name).details["role"] == "primary"


@pytest.mark.slow
def test_forced_failover_drops_refuses_for_the_window_then_answers_with_the_same_data(local, subnet_group):
    """reboot --force-failover: open sessions drop, connecting is refused while rebooting, then the same data answers."""
    _, target = local
    db = _create(local, subnet_group, MultiAZ=True)
    conn = _connect(local, db)
    _rows(conn, "CREATE TABLE kept (v TEXT)")
    _rows(conn, "INSERT INTO kept VALUES ('before the failover')")
    started = time.monotonic()
    aws.client("rds", target=target).reboot_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"],
                                                        ForceFailover=True)
    with pytest.raises(pymysql.err.OperationalError):
        _rows(conn, "SELECT 1")
    assert not _answers(local, db), "a new connection was accepted during the failover"
    assert _until(lambda: _answers(local, db), rds_multiaz.REBOOTING_S + 3)
    assert time.monotonic() - started >= rds_multiaz.REBOOTING_S * 0.8
    with _connect(local, db) as again:
        assert _rows(again, "SELECT v FROM kept") == (("before the failover",),)
    assert local[0].dataplane.find("db-instance", db["DBInstanceIdentifier"]).details["az"] == "us-east-1b"


def test_stop_refuses_within_a_second_start_answers_again_delete_closes(local, subnet_group):
    """stop_db_instance: refused within 1 s, data kept through start; delete_db_instance: refused and unlisted."""
    server, target = local
    rds = aws.client("rds", target=target)
    db = _create(local, subnet_group)
    with _connect(local, db) as conn:
        _rows(conn, "CREATE TABLE t (v INT)")
        _rows(conn, "INSERT INTO t VALUES (42)")
    rds.stop_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"])
    stopped = time.monotonic()
    assert _until(lambda: not _answers(local, db), 1.0)
    assert time.monotonic() - stopped < 1.0
    rds.start_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"])
    assert _until(lambda: _answers(local, db), 2.0)
    with _connect(local, db) as conn:
        assert _rows(conn, "SELECT v FROM t") == ((42,),)
    rds.delete_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    assert _until(lambda: not _answers(local, db), 1.0)
    assert server.dataplane.find("db-instance", db["DBInstanceIdentifier"]) is None


def _datapoints(target, metric: str, name: str) -> list[dict]:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    return aws.client("cloudwatch", target=target).get_metric_statistics(
        Namespace="AWS/RDS", MetricName=metric, Dimensions=[{"Name": "DBInstanceIdentifier", "Value": name}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=60,
        Statistics=["Maximum"])["Datapoints"]


@pytest.mark.slow
def test_cpu_connections_and_replica_lag_metrics_appear_in_cloudwatch(local, subnet_group, monkeypatch):
    """AWS/RDS CPUUtilization and DatabaseConnections per instance, ReplicaLag for a replica, by DBInstanceIdentifier."""
    _, target = local
    monkeypatch.setattr(rds_endpoints, "METRICS_PERIOD_S", 0.5)
    db = _create(local, subnet_group, DBInstanceClass="db.t2.micro")
    name = db["DBInstanceIdentifier"]
    aws.client("rds", target=target).create_db_instance_read_replica(
        DBInstanceIdentifier=name + "-r", SourceDBInstanceIdentifier=name)
    conn = _connect(local, db)
    for _ in range(300):
        _rows(conn, "SELECT 1 + 1")
    connections = _until(lambda: _datapoints(target, "DatabaseConnections", name), 5)
    assert max(p["Maximum"] for p in connections) >= 1
    cpu = _until(lambda: [p for p in _datapoints(target, "CPUUtilization", name) if p["Maximum"] > 0], 5)
    assert cpu and all(0 < p["Maximum"] <= 100 for p in cpu)
    _rows(conn, "CREATE TABLE t (v INT)")  # a write the replica applies REPLICA_LAG_S later: lag shows meanwhile
    assert _until(lambda: any(p["Maximum"] > 0 for p in _datapoints(target, "ReplicaLag", name + "-r")), 5)
    assert not _datapoints(target, "ReplicaLag", name), "a primary has no ReplicaLag"
    conn.close()


@pytest.mark.slow
def test_a_small_instance_queues_reads_beyond_its_vcpus(local, subnet_group):
    """db.t2.micro (1 vCPU, 1,000 reads/s) takes at least 0.4 s for 400 reads from four clients at once."""
    db = _create(local, subnet_group, DBInstanceClass="db.t2.micro")
    conns = [_connect(local, db) for _ in range(4)]

    def read(conn):
        for _ in range(100):
            _rows(conn, "SELECT 1")

    threads = [threading.Thread(target=read, args=(c,)) for c in conns]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.4
    for c in conns:
        c.close()


@pytest.mark.slow
def test_a_replica_of_a_replica_receives_the_writes_too(local, subnet_group):
    """A read replica of a read replica gets the first source's writes, through the middle one."""
    _, target = local
    rds = aws.client("rds", target=target)
    db = _create(local, subnet_group)
    first = _connect(local, db)
    _rows(first, "CREATE TABLE t (v INT)")
    middle, last = db["DBInstanceIdentifier"] + "-m", db["DBInstanceIdentifier"] + "-l"
    rds.create_db_instance_read_replica(DBInstanceIdentifier=middle, SourceDBInstanceIdentifier=db["DBInstanceIdentifier"])
    rds.create_db_instance_read_replica(DBInstanceIdentifier=last, SourceDBInstanceIdentifier=middle)
    _rows(first, "INSERT INTO t VALUES (7)")
    end = _connect(local, _describe(local, last))
    assert _until(lambda: _rows(end, "SELECT v FROM t") == ((7,),), 2 * rds_endpoints.REPLICA_LAG_S + 3)


def test_a_local_aws_that_does_not_answer_is_said_so():
    """reach.address against a local endpoint where nothing listens: LocalAWSDown, not 'no such name'."""
    import socket

    from workshop.errors import LocalAWSDown

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = config.target(kind="local", endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(LocalAWSDown):
        reach.address("db.aaaaaaaaaa.us-east-1.rds.amazonaws.com", 3306, target=t)


def test_a_reboot_drops_sessions_and_a_new_master_password_takes_over(local, subnet_group):
    """reboot_db_instance drops open sessions; modify_db_instance(MasterUserPassword) makes the old one 1045."""
    _, target = local
    rds = aws.client("rds", target=target)
    db = _create(local, subnet_group)
    conn = _connect(local, db)
    _rows(conn, "SELECT 1")
    rds.reboot_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"])
    with pytest.raises(pymysql.err.OperationalError):
        _rows(conn, "SELECT 1")
    rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], MasterUserPassword="n3w-password",
                           ApplyImmediately=True)
    with pytest.raises(pymysql.err.OperationalError) as denied:
        _connect(local, db)
    assert denied.value.args[0] == 1045
    with _connect(local, db, password="n3w-password") as again:
        assert _rows(again, "SELECT 1") == ((1,),)


@pytest.mark.slow
def test_stopping_the_local_aws_closes_every_database_and_cache_port(local, subnet_group, tmp_path):
    """A local AWS's stop() closes its MySQL and Redis listeners: nothing it opened outlives it."""
    import socket

    from workshop.localaws.server import LocalAWS

    _create(local, subnet_group)
    aws.client("elasticache", target=local[1]).create_cache_cluster(
        CacheClusterId=f"cc-{uuid.uuid4().hex[:6]}", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    other = LocalAWS(port=0).start()  # moto's state is per process: it serves the same instances
    ports = []
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (other.dataplane.of_kind("db-instance")
                                                   and other.dataplane.of_kind("cache-node")):
            time.sleep(0.1)
        ports = [e.port for kind in ("db-instance", "cache-node") for e in other.dataplane.of_kind(kind)
                 if e.details.get("answering", True)]
        assert ports
        for port in ports:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        other.stop()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
