"""The MySQL-protocol endpoint a local DB instance answers on: PyMySQL speaks to it as to RDS."""

import socket
import time

import pymysql
import pytest

from workshop.localaws.dataplane import DataPlane
from workshop.localaws.mysql_server import Engine, serve

USER, PASSWORD = "admin", "s3cret-Passw0rd"


@pytest.fixture
def plane():
    plane = DataPlane()
    yield plane
    plane.stop()


@pytest.fixture
def endpoint(plane):
    engine = Engine(databases=("shop",))
    endpoint = plane.run(serve(engine, user=USER, password=PASSWORD))
    plane.on_stop(endpoint.close)
    return endpoint


def _connect(endpoint, password=PASSWORD, **kwargs):
    kwargs.setdefault("database", "shop")
    return pymysql.connect(host="127.0.0.1", port=endpoint.port, user=USER, password=password,
                           autocommit=True, connect_timeout=2, read_timeout=5, **kwargs)


def _one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_pymysql_connects_with_the_master_password_and_reads_the_version(endpoint):
    """The master user's password opens a session; SELECT 1, @@version and VERSION() answer as MySQL 8 does."""
    with _connect(endpoint) as conn:
        assert _one(conn, "SELECT 1") == ((1,),)
        assert _one(conn, "SELECT @@version")[0][0].startswith("8.0")
        assert _one(conn, "SELECT VERSION()") == _one(conn, "SELECT @@version")
        assert _one(conn, "SELECT DATABASE()") == (("shop",),)


@pytest.mark.parametrize("user, password", [(USER, "wrong"), ("root", PASSWORD), (USER, "")])
def test_a_wrong_password_or_user_is_access_denied_1045(endpoint, user, password):
    """A wrong password, an unknown user or no password is refused with MySQL's 1045 Access denied."""
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=endpoint.port, user=user, password=password, connect_timeout=2)
    code, message = refused.value.args
    assert code == 1045
    assert message.startswith(f"Access denied for user '{user}'")


def test_create_insert_select_update_delete_round_trip(endpoint):
    """A table made the MySQL way (AUTO_INCREMENT, ENGINE=InnoDB, an inline KEY) takes rows and answers queries."""
    with _connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) "
                    "NOT NULL, price DECIMAL(10,2), KEY idx_name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        cur.execute("CREATE TABLE IF NOT EXISTS items (id INT)")  # again: nothing happens
        assert cur.execute("INSERT INTO items (name, price) VALUES (%s, %s), (%s, %s)", ("tea", 2.5, "cake", 4)) == 2
        assert cur.lastrowid == 2
        cur.execute("SELECT LAST_INSERT_ID()")
        assert cur.fetchone() == (2,)
        cur.execute("SELECT name, price FROM items WHERE price > 3 ORDER BY id DESC LIMIT 1")
        assert cur.fetchall() == (("cake", 4.0),)
        assert cur.execute("UPDATE items SET price = price + 1 WHERE name = %s", ("tea",)) == 1
        assert cur.execute("DELETE FROM items WHERE name = 'cake'") == 1
        cur.execute("SELECT COUNT(*), MAX(price) FROM items")
        assert cur.fetchone() == (1, 3.5)
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == (("items",),)


def test_databases_show_use_and_qualified_names(endpoint):
    """CREATE DATABASE, SHOW DATABASES (with MySQL's system schemas), USE, and db.table names work."""
    with _connect(endpoint, database=None) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.OperationalError) as no_db:
            cur.execute("SELECT * FROM items")
        assert no_db.value.args[0] == 1046
        cur.execute("CREATE DATABASE IF NOT EXISTS app")
        cur.execute("SHOW DATABASES")
        names = [row[0] for row in cur.fetchall()]
        assert {"app", "shop", "information_schema", "mysql"} <= set(names)
        cur.execute("USE app")
        cur.execute("CREATE TABLE t (v INT)")
        cur.execute("INSERT INTO t VALUES (7)")
        cur.execute("SELECT v FROM app.t")
        assert cur.fetchall() == ((7,),)
        with pytest.raises(pymysql.err.OperationalError) as unknown:
            cur.execute("USE nowhere")
        assert unknown.value.args[0] == 1049


@pytest.mark.parametrize("sql, code", [
    ("REPLACE INTO items VALUES (1)", 1235),
    ("SELEC 1 FROM items", 1064),
    ("SELECT * FROM missing", 1146),
    ("INSERT INTO items (id) VALUES (1) ON DUPLICATE KEY UPDATE id = 2", 1235),
])
def test_unsupported_or_wrong_sql_is_a_mysql_error_and_the_session_goes_on(endpoint, sql, code):
    """What the engine cannot run answers a MySQL error with a code, and the same connection keeps working."""
    with _connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY)")
        with pytest.raises(pymysql.err.MySQLError) as failed:
            cur.execute(sql)
        assert failed.value.args[0] == code
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_a_runaway_statement_is_interrupted_not_left_to_block_the_loop(endpoint, monkeypatch):
    """A statement that would run forever ends with MySQL's 3024 within the statement timeout."""
    from workshop.localaws import mysql_server

    monkeypatch.setattr(mysql_server, "STATEMENT_TIMEOUT_S", 0.3)
    with _connect(endpoint) as conn, conn.cursor() as cur:
        started = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as interrupted:
            cur.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n")
        assert interrupted.value.args[0] == 3024
        assert time.monotonic() - started < 1.5
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)


def test_pause_refuses_and_drops_then_resume_answers_with_the_same_data(plane, endpoint):
    """pause() drops open sessions and refuses new ones; resume() answers on the same port with the data kept."""
    conn = _connect(endpoint)
    _one(conn, "CREATE TABLE kept (v INT)")
    _one(conn, "INSERT INTO kept VALUES (1)")
    plane.run(endpoint.pause())
    with pytest.raises(pymysql.err.OperationalError):
        _one(conn, "SELECT 1")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=1)
    plane.run(endpoint.resume())
    with _connect(endpoint) as again:
        assert _one(again, "SELECT v FROM kept") == ((1,),)


def test_a_read_only_endpoint_refuses_writes_with_1290(plane, endpoint):
    """A replica's endpoint (not writable) answers reads and refuses writes with MySQL's --read-only error."""
    endpoint.writable = False
    with _connect(endpoint) as conn:
        assert _one(conn, "SELECT 1") == ((1,),)
        with pytest.raises(pymysql.err.MySQLError) as refused:
            _one(conn, "CREATE TABLE t (v INT)")
        assert refused.value.args[0] == 1290


def test_a_follower_copies_the_data_then_replays_later_writes_in_order():
    """follow() copies the primary as it is; the writes after it reach the copy only when applied."""
    from sqlglot import parse_one

    primary = Engine(databases=("shop",))
    run = lambda engine, sql: engine.execute(parse_one(sql, read="mysql"), "shop")  # noqa: E731
    run(primary, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")
    run(primary, "INSERT INTO t (v) VALUES ('before')")
    follower, copy = primary.follow()
    run(primary, "INSERT INTO t (v) VALUES ('after')")
    primary.create_database("more")
    assert run(copy, "SELECT v FROM t").rows == [("before",)]
    pending = primary.writes_since(copy.applied)
    assert len(pending) == 2
    for write in pending:
        copy.apply(write)
    primary.acknowledge(follower, copy.applied)
    assert run(copy, "SELECT v FROM t ORDER BY id").rows == [("before",), ("after",)]
    assert copy.has_database("more") and primary.writes_since(copy.applied) == []
    with pytest.raises(Exception, match="read-only"):
        run(copy, "INSERT INTO t (v) VALUES ('x')")
