"""The app's data: a `messages` table through PyMySQL, read cache-aside through Redis.

Writes go to the writer endpoint; reads to the reader endpoint when one is configured (stage 5's
read replicas behind one name), else to the writer. With a cache (stage 6 on), the latest
messages are read from Redis first and, on a miss, from the database and stored for `ttl`
seconds ("cache-aside" or lazy loading); a write puts the writer's new list in the cache
("write-through"; both from the Amazon ElastiCache User Guide, "Caching strategies"). Only
deleting the key would let the next miss read a replica that lags the write (~1 s) and cache
the list without it for the whole TTL: a learner would post a message and not see it. Everything here blocks: the app calls it from a thread pool.

`resolve(name, port) -> (host, port)` turns the AWS names in the config into an address to
connect to (identity on AWS; the local AWS's data plane maps them to loopback ports).
The password is `db["password"]`, or read from the Secrets Manager secret `db["password_secret"]`
names (RDS keeps the master password there with ManageMasterUserPassword: a JSON string with
"username" and "password"; Amazon RDS User Guide, "Password management with Amazon RDS and
AWS Secrets Manager"). A database named in the config that does not exist yet is created
(RDS creates none unless DBName is given).
"""

from __future__ import annotations

import json
import queue
import threading

import pymysql

LATEST = 5  # messages shown on the page
ER_BAD_DB = 1049  # MySQL's "Unknown database"
#: client errors of a connection the server dropped: 2006 "gone away", 2013 "lost connection" (MySQL
#: Reference Manual, "Client Error Message Reference"); a kept connection that fails so is retried once
LOST = (2006, 2013)
LOOKUPS = 8  # name lookups before a connect gives up (a weighted name with 1 of 4 servers gone: 4^-8)
CACHE_KEY = "sbs:messages:latest"
SCHEMA = ("CREATE TABLE IF NOT EXISTS messages (id INT AUTO_INCREMENT PRIMARY KEY, "
          "text VARCHAR(500) NOT NULL, created_at DATETIME NOT NULL)")


class Unavailable(Exception):
    """The database (or its name) cannot be reached; the message says which and why."""


def identity(name: str, port: int) -> tuple[str, int]:
    return name, port


class _Pool:
    """A few open connections to one endpoint, reused (connecting costs a round trip or three)."""

    def __init__(self, role: str, name: str, db: dict, resolve, credentials, size: int = 4):
        self.role, self.name, self.db, self.resolve, self.credentials = role, name, db, resolve, credentials
        self._idle: queue.LifoQueue = queue.LifoQueue(size)

    def _connect(self, database: str | None = "config"):
        port = int(self.db.get("port", 3306))
        # a name may stand for several servers (stage 5's reader: weighted records, one answer per lookup):
        # one that is gone is skipped by asking again, as a client retries a connect
        for _ in range(LOOKUPS):
            found = self.resolve(self.name, port)
            if found is not None:
                break
        else:
            raise Unavailable(f"the {self.role} {self.name}:{port} does not answer (no such endpoint)")
        user, password = self.credentials()
        try:
            return pymysql.connect(host=found[0], port=found[1], user=user, password=password,
                                   database=self.db.get("database") if database == "config" else database,
                                   autocommit=True,
                                   connect_timeout=2, read_timeout=5, write_timeout=5)
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == ER_BAD_DB:
                raise
            raise Unavailable(f"the {self.role} {self.name}:{port} refused or failed: {exc.args[-1]}") from None

    def create_database(self) -> None:
        """CREATE DATABASE the config names (RDS made none): once, on the writer."""
        self.close()
        conn = self._connect(database=None)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.db['database']}`")
        finally:
            conn.close()

    def run(self, sql: str, args=(), _retry: bool = True):
        pooled = False
        try:
            try:
                conn, pooled = self._idle.get_nowait(), True
            except queue.Empty:
                conn = self._connect()
            with conn.cursor() as cur:
                cur.execute(sql, args)
                rows = cur.fetchall()
        except pymysql.MySQLError as exc:
            if "conn" in locals():
                conn.close()
            if exc.args and exc.args[0] == ER_BAD_DB and self.role == "writer" and _retry:
                self.create_database()
                return self.run(sql, args, _retry=False)
            if pooled and _retry and (isinstance(exc, pymysql.InterfaceError) or exc.args and exc.args[0] in LOST):
                self.close()  # the server dropped them (a failover, a replica gone): the others are stale too
                return self.run(sql, args, _retry=False)
            raise Unavailable(f"the {self.role} {self.name} failed the query: {exc.args[-1]}") from None
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()
        return rows

    def close(self):
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
            except Exception:
                pass


class Messages:
    """The latest messages and how to add one; `source` of the last read: database, replica or cache."""

    def __init__(self, db: dict | None, cache: dict | None = None, resolve=identity, secrets=None):
        """`secrets`: a boto3 Secrets Manager client, used when `db["password_secret"]` is set."""
        self.db, self.resolve, self.secrets = db, resolve or identity, secrets
        self._credentials = None
        self.writer = _Pool("writer", db["writer"], db, self.resolve, self.credentials) if db else None
        self.reader = (_Pool("reader", db["reader"], db, self.resolve, self.credentials)
                       if db and db.get("reader") else self.writer)
        self.cache_config = cache
        self.ttl = int((cache or {}).get("ttl", 30))
        self._redis = None
        self._schema_ready = False
        self._lock = threading.Lock()

    def credentials(self) -> tuple[str, str]:
        """(user, password) for the database, the password read once from Secrets Manager if so configured."""
        if self._credentials is None:
            user, password = self.db.get("user", "admin"), self.db.get("password") or ""
            arn = self.db.get("password_secret")
            if arn:
                if self.secrets is None:
                    raise Unavailable(f"the password is in the secret {arn}, but no Secrets Manager client was given")
                try:
                    secret = json.loads(self.secrets.get_secret_value(SecretId=arn)["SecretString"])
                except Exception as exc:
                    raise Unavailable(f"the database password could not be read from {arn}: {exc}") from None
                user, password = secret.get("username", user), secret["password"]
            self._credentials = (user, password)
        return self._credentials

    # --- the cache ---------------------------------------------------------------------
    def _cache(self):
        if not self.cache_config:
            return None
        if self._redis is None:
            import redis

            found = self.resolve(self.cache_config["host"], int(self.cache_config.get("port", 6379)))
            if found is None:
                return None
            self._redis = redis.Redis(host=found[0], port=found[1], socket_timeout=1, socket_connect_timeout=1)
        return self._redis

    def _cache_call(self, fn):
        """A cache call; a cache that fails is skipped (the database still answers), never fatal."""
        try:
            client = self._cache()
            return fn(client) if client is not None else None
        except Exception:
            self._redis = None
            return None

    # --- the database ------------------------------------------------------------------
    def _ensure_schema(self):
        if not self._schema_ready:
            with self._lock:
                if not self._schema_ready:
                    self.writer.run(SCHEMA)
                    self._schema_ready = True

    def latest(self) -> tuple[list[dict], str]:
        """(the latest messages, newest first; where they came from: cache, reader or writer)."""
        if self.writer is None:
            raise Unavailable("no database is configured for this app")
        cached = self._cache_call(lambda r: r.get(CACHE_KEY))
        if cached:
            return json.loads(cached), "cache"
        self._ensure_schema()
        found = self._latest_from(self.reader)
        self._cache_call(lambda r: r.set(CACHE_KEY, json.dumps(found), ex=self.ttl))
        return found, self.reader.role

    def _latest_from(self, pool) -> list[dict]:
        rows = pool.run("SELECT id, text, created_at FROM messages ORDER BY id DESC LIMIT %s", (LATEST,))
        return [{"id": int(r[0]), "text": r[1], "created_at": str(r[2])} for r in rows]

    def add(self, text: str, now) -> None:
        """Insert one message on the writer; with a cache, put the writer's new list in it (write-through)."""
        if self.writer is None:
            raise Unavailable("no database is configured for this app")
        self._ensure_schema()
        self.writer.run("INSERT INTO messages (text, created_at) VALUES (%s, %s)",
                        (text, now.strftime("%Y-%m-%d %H:%M:%S")))
        if self.cache_config:
            found = self._latest_from(self.writer)
            self._cache_call(lambda r: r.set(CACHE_KEY, json.dumps(found), ex=self.ttl))

    def close(self):
        for pool in {id(p): p for p in (self.writer, self.reader) if p}.values():
            pool.close()
        if self._redis is not None:
            self._redis.close()
