"""The talk's web app: its routes, sessions in memory or DynamoDB, data through MySQL, cache-aside through Redis."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from datetime import datetime, timezone

import boto3
import pytest
from _webapp_servers import FakeRedis, SqliteMysql
from aiohttp import web
from moto import mock_aws

from workshop.errors import BadInput
from workshop.localaws.dataplane import DataPlane
from workshop.webapp import create_app, userdata

WRITER, READER = "sbs-t-db.abc.us-east-1.rds.amazonaws.com", "db-reader.t.example"
CACHE = "sbs-t-cache.abc.use1.cache.amazonaws.com"


class Served:
    """The app on a loopback port of its own data-plane loop; `get`/`post` return (status, headers, body)."""

    def __init__(self, config, **kwargs):
        self.plane = DataPlane()
        kwargs.setdefault("instance_id", "i-0123456789abcdef0")
        kwargs.setdefault("az", "us-east-1a")
        self.app = create_app(config, **kwargs)

        async def start():
            self.runner = web.AppRunner(self.app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]

        self.port = self.plane.run(start())

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.headers, r.read().decode()
        finally:
            conn.close()

    def get(self, path, cookie=None):
        return self.request("GET", path, headers={"Cookie": f"sbs_session={cookie}"} if cookie else {})

    def post(self, text):
        return self.request("POST", "/messages", body=urllib.parse.urlencode({"text": text}),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def stop(self):
        self.plane.run(self.runner.cleanup())
        self.plane.stop()


def _cookie(headers) -> str:
    return headers["Set-Cookie"].split("sbs_session=", 1)[1].split(";", 1)[0]


@pytest.fixture
def mysql():
    server = SqliteMysql()
    yield server
    server.stop()


@pytest.fixture
def redis_server():
    server = FakeRedis()
    yield server
    server.stop()


def _resolver(table):
    return lambda name, port: table.get(name)


def test_page_names_instance_and_az_and_counts_visits_per_session():
    """GET / says who served it, sets sbs_session, and counts that session's visits (memory sessions)."""
    app = Served({"sessions": "memory", "db": None}, instance_id="i-aaa", az="us-east-1b")
    try:
        status, headers, body = app.get("/")
        assert status == 200 and headers["X-Instance-Id"] == "i-aaa" and headers["X-Availability-Zone"] == "us-east-1b"
        assert 'id="instance">i-aaa<' in body and 'id="az">us-east-1b<' in body and 'id="views">1<' in body
        sid = _cookie(headers)
        assert 'id="views">2<' in app.get("/", sid)[2]
        assert json.loads(app.get("/whoami", sid)[2]) == {"instance_id": "i-aaa", "az": "us-east-1b", "session_views": 3}
        assert 'id="views">1<' in app.get("/")[2]  # no cookie: a new session
        assert json.loads(app.get("/whoami", "x")[2])["session_views"] == 1  # a malformed id is replaced
    finally:
        app.stop()


def test_health_static_and_headers_on_every_response():
    """/health is a plain 200 ok; static assets are served; 404s carry the instance headers too."""
    app = Served({"sessions": "memory", "db": {"writer": WRITER}}, resolve=_resolver({}))
    try:
        assert app.get("/health")[0::2] == (200, "ok")
        for name, kind in (("app.css", "text/css"), ("app.js", "javascript"), ("logo.svg", "image/svg+xml")):
            status, headers, body = app.get(f"/static/{name}")
            assert status == 200 and kind in headers["Content-Type"] and body
        status, headers, _ = app.get("/static/nope.css")
        assert status == 404 and headers["X-Instance-Id"] == "i-0123456789abcdef0"
        assert app.get("/static/../app.py")[0] in (403, 404)
    finally:
        app.stop()


def test_database_down_still_renders_and_says_so():
    """No database answers at the writer's name: the page is a 200 that says so, /health stays 200, a post is 503."""
    app = Served({"sessions": "memory", "db": {"writer": WRITER, "port": 3306}}, resolve=_resolver({}))
    try:
        status, headers, body = app.get("/")
        assert status == 200 and "The database is unavailable: the writer " + WRITER in body
        assert app.get("/health")[0] == 200
        status, _, body = app.post("hello")
        assert status == 503 and "not saved" in body
    finally:
        app.stop()


def test_messages_write_to_writer_read_from_reader(mysql):
    """POST /messages inserts on the writer and redirects 303; GET / reads the reader name and lists them newest first."""
    names = {WRITER: ("127.0.0.1", mysql.port), READER: ("127.0.0.1", mysql.port)}
    asked = []

    def resolve(name, port):
        asked.append(name)
        return names.get(name)

    clock = lambda: datetime(2026, 12, 7, 6, 0, tzinfo=timezone.utc)  # noqa: E731
    app = Served({"db": {"writer": WRITER, "reader": READER, "user": "admin", "database": "sbs"}},
                 resolve=resolve, clock=clock)
    try:
        status, headers, _ = app.post("first")
        assert status == 303 and headers["Location"] == "/"
        app.post("second <b>")
        status, headers, body = app.get("/")
        assert status == 200 and headers["X-Data-Source"] == "reader"
        assert body.index("second &lt;b&gt;") < body.index("first") and "2026-12-07 06:00:00" in body
        assert set(asked) == {WRITER, READER}
        assert app.post("")[0] == 400 and app.post("x" * 501)[0] == 400
    finally:
        app.stop()


def test_cache_aside_hits_then_a_write_writes_through(mysql, redis_server):
    """The second read comes from Redis without a SELECT; a write puts the new list in the cache."""
    names = {WRITER: ("127.0.0.1", mysql.port), CACHE: ("127.0.0.1", redis_server.port)}
    app = Served({"db": {"writer": WRITER}, "cache": {"host": CACHE, "port": 6379, "ttl": 60}}, resolve=_resolver(names))
    try:
        assert app.get("/")[1]["X-Data-Source"] == "writer"  # a miss: read, then cached
        app.post("one")
        selects = sum(s.lstrip().upper().startswith("SELECT") for s in mysql.statements)
        status, headers, body = app.get("/")
        assert headers["X-Data-Source"] == "cache" and "one" in body
        assert sum(s.lstrip().upper().startswith("SELECT") for s in mysql.statements) == selects
        app.post("two")
        status, headers, body = app.get("/")
        assert headers["X-Data-Source"] == "cache" and "two" in body and "one" in body
    finally:
        app.stop()


def test_a_replica_lagging_a_write_cannot_hide_it_behind_the_cache(mysql, redis_server):
    """A replica that has not got the new row yet: the next page still shows it (the write put the writer's
    list in the cache; deleting the key would have cached the replica's list without it for the TTL)."""
    lagging = SqliteMysql()
    try:
        seed = Served({"db": {"writer": READER}}, resolve=_resolver({READER: ("127.0.0.1", lagging.port)}))
        seed.post("old")  # the replica: the table, and only what it had before the write
        seed.stop()
        names = {WRITER: ("127.0.0.1", mysql.port), READER: ("127.0.0.1", lagging.port),
                 CACHE: ("127.0.0.1", redis_server.port)}
        app = Served({"db": {"writer": WRITER, "reader": READER}, "cache": {"host": CACHE, "ttl": 60}},
                     resolve=_resolver(names))
        try:
            app.post("new")
            status, headers, body = app.get("/")
            assert status == 200 and headers["X-Data-Source"] == "cache" and "new" in body
        finally:
            app.stop()
    finally:
        lagging.stop()


def test_a_cache_that_is_down_is_skipped(mysql):
    """With the cache's name unanswered, reads go to the database and the page renders."""
    app = Served({"db": {"writer": WRITER}, "cache": {"host": CACHE}}, resolve=_resolver({WRITER: ("127.0.0.1", mysql.port)}))
    try:
        assert app.get("/")[1]["X-Data-Source"] == "writer"
    finally:
        app.stop()


@mock_aws
def test_dynamodb_sessions_are_shared_between_instances():
    """With sessions in DynamoDB, a visitor's count continues on another instance; in memory it restarts."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="sbs-t-sessions", KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    config = {"sessions": {"dynamodb": "sbs-t-sessions"}, "db": None}
    a = Served(config, instance_id="i-a", aws_client={"dynamodb": ddb}.get)
    b = Served(config, instance_id="i-b", az="us-east-1b", aws_client={"dynamodb": ddb}.get)
    m1, m2 = Served({"sessions": "memory"}, instance_id="i-m1"), Served({"sessions": "memory"}, instance_id="i-m2")
    try:
        status, headers, _ = a.get("/")
        sid = _cookie(headers)
        assert json.loads(b.get("/whoami", sid)[2]) == {"instance_id": "i-b", "az": "us-east-1b", "session_views": 2}
        item = ddb.get_item(TableName="sbs-t-sessions", Key={"session_id": {"S": sid}})["Item"]
        assert item["views"]["N"] == "2"
        assert 0 < int(item["expires_at"]["N"]) - time.time() <= 24 * 3600  # the table's TTL attribute, a day ahead
        sid = _cookie(m1.get("/")[1])
        assert json.loads(m2.get("/whoami", sid)[2])["session_views"] == 1
    finally:
        for app in (a, b, m1, m2):
            app.stop()


def test_dynamodb_sessions_run_off_the_loop_unless_the_client_says_it_does_not_block():
    """A boto3 client blocks (its calls go to a thread); the local AWS's in-memory client says `blocking = False`
    and is called on the app's loop; anything else that says nothing counts as blocking."""
    from workshop.webapp.sessions import DynamoSessions

    class InMemory:
        blocking = False

    assert DynamoSessions(boto3.client("dynamodb", region_name="us-east-1"), "t").blocking is True
    assert DynamoSessions(InMemory(), "t").blocking is False
    assert DynamoSessions(object(), "t").blocking is True


def test_memory_sessions_are_bounded_least_recent_first():
    """Past the limit the least recently seen session is dropped; a recent one keeps counting."""
    from workshop.webapp.sessions import MemorySessions

    store = MemorySessions(limit=2)
    assert [store.visit(s) for s in ("a", "b", "a", "c")] == [1, 1, 2, 1]
    assert store.visit("a") == 3 and store.visit("b") == 1  # b was dropped when c came


@pytest.mark.parametrize("sessions", ["redis", {"dynamo": "t"}, {"dynamodb": ""}])
def test_bad_session_config_is_refused(sessions):
    """A sessions value that is neither "memory" nor {"dynamodb": table} is refused with the accepted forms."""
    with pytest.raises(ValueError, match='"memory" or'):
        create_app({"sessions": sessions}, instance_id="i-1", az="us-east-1a")


def test_user_data_round_trips_and_fits():
    """build() embeds the config and the app within 16 KB, run at every boot; parse() reads it back, from text,
    bytes or base64."""
    import base64

    config = {"sessions": "memory", "db": {"writer": WRITER, "reader": READER}, "cache": None}
    script = userdata.build(config, title="stage 5")
    assert script.startswith("Content-Type: multipart/mixed") and len(script.encode()) <= userdata.MAX_BYTES
    assert "- [scripts-user, always]" in script and "\n#!/bin/bash\n" in script  # runs at every boot
    assert "systemctl restart sbs-webapp" in script and "pip3 install aiohttp pymysql redis boto3" in script
    assert userdata.parse(script) == config
    assert userdata.parse(script.encode()) == config
    assert userdata.parse(base64.b64encode(script.encode()).decode()) == config
    assert userdata.parse("#!/bin/bash\ndnf install -y nginx\n") is None and userdata.parse(None) is None
    with pytest.raises(BadInput, match="never closes"):
        userdata.parse(script.split(f"\n{userdata.MARKER}\n")[0])
    with pytest.raises(BadInput, match='"db"'):
        userdata.build({"db": {"reader": READER}})


def test_shipped_app_unpacks_and_imports_without_the_kit(tmp_path):
    """The app embedded in the user data unpacks to a package that imports nothing from `workshop`."""
    import base64
    import io
    import subprocess
    import sys
    import tarfile

    script = userdata.build({"sessions": "memory"})
    code = script.split("<<'SBS-WEBAPP-CODE'\n", 1)[1].split("\nSBS-WEBAPP-CODE", 1)[0]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(code)), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "webapp" / "static" / "app.css").exists()
    probe = ("import sys, webapp.__main__; from webapp import create_app; "
             "assert not any(m.startswith('workshop') for m in sys.modules), 'imports the kit'")
    subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, check=True, timeout=60)


@mock_aws
def test_password_from_the_rds_secret_and_the_database_is_created():
    """With db.password_secret (RDS's managed master password), the app reads it from Secrets Manager, logs in to
    a password-checking MySQL endpoint, creates the missing database and stores a message; a wrong one says so."""
    from workshop.localaws.mysql_server import Engine, serve

    sm = boto3.client("secretsmanager", region_name="us-east-1")
    good = sm.create_secret(Name="rds!db-1", SecretString=json.dumps({"username": "admin", "password": "Pw-123456"}))["ARN"]
    bad = sm.create_secret(Name="rds!db-2", SecretString=json.dumps({"username": "admin", "password": "nope"}))["ARN"]
    plane = DataPlane()
    try:
        endpoint = plane.run(serve(Engine(), user="admin", password="Pw-123456"))
        plane.on_stop(endpoint.close)
        names = _resolver({WRITER: ("127.0.0.1", endpoint.port)})
        app = Served({"db": {"writer": WRITER, "password_secret": good, "database": "sbs"}}, resolve=names,
                     aws_client={"secretsmanager": sm}.get)
        wrong = Served({"db": {"writer": WRITER, "password_secret": bad, "database": "sbs"}}, resolve=names,
                       aws_client={"secretsmanager": sm}.get)
        try:
            assert app.post("hello")[0] == 303
            status, headers, body = app.get("/")
            assert headers["X-Data-Source"] == "writer" and "hello" in body
            assert "The database is unavailable: the writer" in wrong.get("/")[2]
        finally:
            app.stop()
            wrong.stop()
    finally:
        plane.stop()


def test_a_slow_database_does_not_stall_other_requests():
    """While a page waits 1 s on the database (in the app's threads), /health still answers at once."""
    import threading

    def slow(name, port):
        time.sleep(1.0)
        return None

    app = Served({"db": {"writer": WRITER}}, resolve=slow)
    try:
        page = threading.Thread(target=app.get, args=("/",))
        page.start()
        time.sleep(0.1)
        began = time.monotonic()
        assert app.get("/health")[0::2] == (200, "ok")
        assert time.monotonic() - began < 0.5
        page.join()
    finally:
        app.stop()


def test_a_post_whose_client_left_is_answered_not_logged_as_a_server_error():
    """A load run that ends mid-POST closes the connection before the form arrives: the handler answers 400
    (nobody reads it) instead of raising, which aiohttp logs as 'Error handling request' with a traceback."""
    import asyncio

    from workshop.webapp import app as webapp

    class Gone:
        app = {webapp.STATE: {}}

        async def post(self):
            raise ConnectionResetError("Connection lost")

    response = asyncio.run(webapp.add_message(Gone()))
    assert response.status == 400 and "connection was closed" in response.text
