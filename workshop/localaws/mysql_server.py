"""A MySQL-protocol endpoint over an embedded SQL engine: what a local RDS DB instance answers.

On AWS, a DB instance's endpoint (`<id>.<hash>.<region>.rds.amazonaws.com:3306`) is a MySQL
server that takes the master user's name and password (RDS User Guide, "Connecting to a DB
instance running the MySQL database engine"). Here each DB instance gets one `MySQLEndpoint`
on a loopback port, serving one `Engine`:

- the wire is **mysql-mimic** (3.0.5): a pure-Python, asyncio implementation of the MySQL
  server protocol (handshake, `mysql_native_password`, COM_QUERY, prepared statements, SHOW
  and INFORMATION_SCHEMA from a schema we describe). It runs on the data plane's one event
  loop, so twenty DB instances cost twenty listening sockets, not twenty processes;
- the engine is **sqlite3** (Python's standard library), in memory: MySQL statements arrive
  parsed by sqlglot (mysql-mimic parses them) and are transpiled to SQLite. One database per
  DB instance, each MySQL database an attached SQLite schema.

Why not the alternatives: a real `mysqld` (or MariaDB) per DB instance is 150-400 MB of RAM,
seconds to start, a binary the kit cannot install with pip, and would need a container
runtime; an embedded MySQL (`mysql-embedded`) is not maintained; DuckDB speaks no MySQL and
is heavier per instance than sqlite; a hand-written wire protocol would repeat mysql-mimic.
mysql-mimic + sqlite costs ~1 MB per DB instance and starts in milliseconds.

What learners and the course's web app use is supported: CREATE/DROP DATABASE, USE, SHOW
DATABASES/TABLES/COLUMNS, DESCRIBE, CREATE TABLE (IF NOT EXISTS; AUTO_INCREMENT, PRIMARY
KEY, UNIQUE; inline INDEX/KEY definitions are created as separate indexes), CREATE INDEX,
DROP TABLE, TRUNCATE, INSERT (also INSERT IGNORE), REPLACE is not, SELECT with WHERE /
JOIN / GROUP BY / ORDER BY / LIMIT, UPDATE, DELETE, COUNT and the usual functions, `SELECT 1`,
`SELECT @@version`, `VERSION()`, `DATABASE()`, `LAST_INSERT_ID()`, and what PyMySQL and the
`mysql` client send when they connect (SET NAMES, @@ variables, SELECT @@version_comment).
Every statement commits on its own (BEGIN/COMMIT/ROLLBACK are accepted and do nothing).
What the engine cannot run answers a MySQL error (1064 syntax, 1146 no such table, 1235
not supported, ...), never a hang; a statement running longer than `STATEMENT_TIMEOUT_S`
is interrupted with MySQL's error 3024 (the loop is shared with every other endpoint).

This module relies on mysql-mimic 3.0.5's `Connection` and `MysqlStream` to accept a
connection itself (`MySQLEndpoint._accept`), so it can count and drop connections and
return affected rows and the last insert id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mysql_mimic import Session, packets
from mysql_mimic import utils as mysql_utils
from mysql_mimic.auth import Forbidden, IdentityProvider, NativePasswordAuthPlugin, Success, User
from mysql_mimic.connection import Connection
from mysql_mimic.constants import DEFAULT_SERVER_CAPABILITIES
from mysql_mimic.control import LocalControl
from mysql_mimic.errors import SQLSTATES, MysqlError
from mysql_mimic.stream import MysqlStream
from sqlglot import errors as sqlglot_errors
from sqlglot import exp

log = logging.getLogger("workshop.localaws.mysql")
# a learner's wrong SQL is answered to the learner as a MySQL error, not logged by the server
logging.getLogger("mysql_mimic").setLevel(logging.CRITICAL)
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: what `SELECT @@version` answers unless the DB instance's engine version says otherwise
DEFAULT_VERSION = "8.0.35"
#: a statement running longer than this on the shared loop is interrupted (MySQL error 3024)
STATEMENT_TIMEOUT_S = 2.0
#: databases every MySQL server lists, besides the learner's own
SYSTEM_DATABASES = ("information_schema", "mysql", "performance_schema", "sys")

# MySQL server error codes (MySQL 8.0 Reference Manual, "Server Error Message Reference")
ER_ACCESS_DENIED = 1045
ER_NO_DB = 1046
ER_DB_CREATE_EXISTS = 1007
ER_DB_DROP_EXISTS = 1008
ER_BAD_DB = 1049
ER_TABLE_EXISTS = 1050
ER_BAD_FIELD = 1054
ER_DUP_ENTRY = 1062
ER_PARSE = 1064
ER_UNKNOWN = 1105
ER_NO_SUCH_TABLE = 1146
ER_NOT_SUPPORTED_YET = 1235
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_BAD_NULL = 1048
ER_QUERY_TIMEOUT = 3024
SQLSTATES.update({ER_DB_CREATE_EXISTS: b"HY000", ER_BAD_DB: b"42000", ER_TABLE_EXISTS: b"42S01",
                  ER_BAD_FIELD: b"42S22", ER_DUP_ENTRY: b"23000", ER_NO_SUCH_TABLE: b"42S02",
                  ER_BAD_NULL: b"23000", ER_OPTION_PREVENTS_STATEMENT: b"HY000"})

_READS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Describe, exp.Show)


def kind_of(expression: exp.Expression) -> str:
    """"read" for a statement that only reads (SELECT, SHOW, DESCRIBE), else "write"."""
    return "read" if isinstance(expression, _READS) else "write"


@dataclass(frozen=True)
class Write:
    """One change the primary made, as the SQLite statement a replica replays."""

    seq: int
    at: float  # time.monotonic() when the primary committed it
    sql: str


@dataclass(frozen=True)
class Snapshot:
    """A copy of an engine's data up to write `seq`: each schema serialized."""

    seq: int
    schemas: dict[str, bytes]


@dataclass
class Outcome:
    """What a statement returned: rows and column names, or affected rows and the last insert id."""

    rows: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    affected: int = 0
    last_insert_id: int = 0


class Engine:
    """One DB instance's data: an in-memory SQLite database, each MySQL database an attached schema.

    Thread-safe (one lock). A primary keeps the log of its writes since the oldest position a
    follower (read replica) has not applied yet; `snapshot()` + `writes_since(seq)` +
    `apply(write)` is how a replica copies it."""

    def __init__(self, databases: tuple[str, ...] = (), read_only: bool = False):
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.create_function("NOW", 0, lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
        self._db.create_function("CONCAT", -1, lambda *a: None if None in a else "".join(map(str, a)))
        self._lock = threading.RLock()
        self._schemas: list[str] = []
        self._log: list[Write] = []
        self._seq = 0
        self._followers: dict[int, int] = {}
        self.read_only = read_only
        self.applied = 0  # on a replica: the primary's last write applied here
        for name in databases:
            self.create_database(name, if_not_exists=True)

    # --- databases --------------------------------------------------------------------
    def databases(self) -> list[str]:
        with self._lock:
            return list(self._schemas)

    def has_database(self, name: str) -> bool:
        return name.lower() in (s.lower() for s in self.databases())

    def create_database(self, name: str, if_not_exists: bool = False) -> None:
        with self._lock:
            if self.has_database(name):
                if if_not_exists:
                    return
                raise MysqlError(f"Can't create database '{name}'; database exists", ER_DB_CREATE_EXISTS)
            if name.lower() in SYSTEM_DATABASES or name.lower() in ("main", "temp"):
                raise MysqlError(f"Can't create database '{name}': the name is reserved here", ER_DB_CREATE_EXISTS)
            if not re.fullmatch(r"[A-Za-z0-9_$]{1,64}", name):
                raise MysqlError(f"Incorrect database name '{name}' (letters, digits, _ and $ only here)", 1102)
            self._write(f'ATTACH DATABASE \':memory:\' AS "{name}"')
            self._schemas.append(name)

    def drop_database(self, name: str, if_exists: bool = False) -> None:
        with self._lock:
            found = next((s for s in self._schemas if s.lower() == name.lower()), None)
            if found is None:
                if if_exists:
                    return
                raise MysqlError(f"Can't drop database '{name}'; database doesn't exist", ER_DB_DROP_EXISTS)
            self._write(f'DETACH DATABASE "{found}"')
            self._schemas.remove(found)

    def schema(self) -> dict:
        """{database: {table: {column: type}}}, as mysql-mimic answers SHOW and INFORMATION_SCHEMA from."""
        out: dict = {}
        with self._lock:
            for name in self._schemas:
                tables = {}
                for (table,) in self._db.execute(
                        f'SELECT name FROM "{name}".sqlite_master WHERE type = \'table\' '
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
                    columns = self._db.execute(f'PRAGMA "{name}".table_info("{table}")').fetchall()
                    tables[table] = {c[1]: _mysql_type(c[2]) for c in columns}
                out[name] = tables
        return out

    # --- statements -------------------------------------------------------------------
    def execute(self, expression: exp.Expression, database: str | None, writable: bool = True) -> Outcome:
        """Run one parsed MySQL statement against `database` (the session's current one)."""
        if isinstance(expression, exp.Create) and expression.kind in ("DATABASE", "SCHEMA"):
            self._check_writable(writable)
            self.create_database(expression.this.name, bool(expression.args.get("exists")))
            return Outcome(affected=1)
        if isinstance(expression, exp.Drop) and expression.kind in ("DATABASE", "SCHEMA"):
            self._check_writable(writable)
            self.drop_database(expression.this.name, bool(expression.args.get("exists")))
            return Outcome()
        if isinstance(expression, exp.Command):
            raise MysqlError(f"This version of MySQL doesn't yet support '{_head(expression)}' "
                             "(the local DB instance runs a subset of MySQL: docs/local-database-cache.md)",
                             ER_NOT_SUPPORTED_YET)
        kind = kind_of(expression)
        if kind == "write":
            self._check_writable(writable)
        statements = _to_sqlite(expression, self._qualifier(database))
        with self._lock:
            outcome = Outcome()
            for sql in statements:
                outcome = self._run(sql, kind == "write")
            return outcome

    def _check_writable(self, writable: bool) -> None:
        if self.read_only or not writable:
            raise MysqlError("The MySQL server is running with the --read-only option so it cannot execute "
                             "this statement (a read replica: write to the primary's endpoint)",
                             ER_OPTION_PREVENTS_STATEMENT)

    def _qualifier(self, database: str | None) -> Callable[[], str]:
        def current() -> str:
            if not database:
                raise MysqlError("No database selected (USE <database>, or connect with database=...)", ER_NO_DB)
            found = next((s for s in self.databases() if s.lower() == database.lower()), None)
            if found is None:
                raise MysqlError(f"Unknown database '{database}'", ER_BAD_DB)
            return found
        return current

    def _run(self, sql: str, write: bool) -> Outcome:
        deadline = time.monotonic() + STATEMENT_TIMEOUT_S
        self._db.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            before = self._db.total_changes
            cursor = self._db.execute(sql)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise _mysql_error(exc, sql) from None
        finally:
            self._db.set_progress_handler(None, 0)
        if cursor.description:
            return Outcome(rows=rows, columns=[d[0] for d in cursor.description])
        outcome = Outcome(affected=self._db.total_changes - before, last_insert_id=cursor.lastrowid or 0)
        if write:
            self._log_write(sql)
        return outcome

    def _write(self, sql: str) -> None:
        try:
            self._db.execute(sql)
        except sqlite3.Error as exc:
            raise _mysql_error(exc, sql) from None
        self._log_write(sql)

    # --- replication ------------------------------------------------------------------
    def _log_write(self, sql: str) -> None:
        self._seq += 1
        if self._followers:
            self._log.append(Write(self._seq, time.monotonic(), sql))

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._seq, {name: self._db.serialize(name=name) for name in self._schemas})

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, read_only: bool = True) -> Engine:
        engine = cls(read_only=read_only)
        for name, data in snapshot.schemas.items():
            engine._db.execute(f'ATTACH DATABASE \':memory:\' AS "{name}"')
            engine._db.deserialize(data, name=name)
            engine._schemas.append(name)
        engine.applied = snapshot.seq
        return engine

    def follow(self) -> tuple[int, Engine]:
        """A new follower (read replica) of this engine: its id and its copy (read-only), from a
        snapshot; then `writes_since(copy.applied)`, `apply`, `acknowledge(id, seq)`, `unfollow(id)`."""
        with self._lock:
            copy = Engine.from_snapshot(self.snapshot())
            follower = id(copy)
            self._followers[follower] = copy.applied
            return follower, copy

    def unfollow(self, follower: int) -> None:
        with self._lock:
            self._followers.pop(follower, None)
            self._trim()

    def acknowledge(self, follower: int, seq: int) -> None:
        with self._lock:
            if follower in self._followers:
                self._followers[follower] = seq
                self._trim()

    def _trim(self) -> None:
        oldest = min(self._followers.values(), default=self._seq)
        if self._log and self._log[0].seq <= oldest:
            self._log = [w for w in self._log if w.seq > oldest]

    def writes_since(self, seq: int) -> list[Write]:
        with self._lock:
            return [w for w in self._log if w.seq > seq]

    def apply(self, write: Write) -> None:
        """Replay one of the primary's writes (a replica); a failure is logged, not raised (as a
        MySQL replica's SQL thread stops on an error, the next writes are still applied here)."""
        with self._lock:
            try:
                self._db.execute(write.sql)
                match = re.match(r'(ATTACH|DETACH) DATABASE (?:\':memory:\' AS )?"(.+)"$', write.sql)
                if match and match.group(1) == "ATTACH":
                    self._schemas.append(match.group(2))
                elif match:
                    self._schemas.remove(match.group(2))
            except (sqlite3.Error, ValueError) as exc:
                log.warning("replica could not apply %r: %s", write.sql, exc)
            self.applied = write.seq

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _head(expression: exp.Expression) -> str:
    return expression.sql(dialect="mysql")[:60]


def _mysql_type(sqlite_type: str) -> str:
    t = (sqlite_type or "TEXT").upper()
    if "INT" in t:
        return "BIGINT" if "BIG" in t else "INT"
    if any(k in t for k in ("REAL", "DOUBLE", "FLOAT", "DECIMAL", "NUMERIC")):
        return "DOUBLE"
    if "BLOB" in t:
        return "BLOB"
    if "TIMESTAMP" in t or "DATETIME" in t:
        return "DATETIME"
    return "TEXT"


_SQLITE_ERRORS = [
    (re.compile(r"no such table: (.+)"), ER_NO_SUCH_TABLE, "Table '{0}' doesn't exist"),
    (re.compile(r"table (\S+) already exists"), ER_TABLE_EXISTS, "Table '{0}' already exists"),
    (re.compile(r"no such column: (.+)"), ER_BAD_FIELD, "Unknown column '{0}' in 'field list'"),
    (re.compile(r"UNIQUE constraint failed: (.+)"), ER_DUP_ENTRY, "Duplicate entry for key '{0}'"),
    (re.compile(r"NOT NULL constraint failed: \S+\.(.+)"), ER_BAD_NULL, "Column '{0}' cannot be null"),
    (re.compile(r"interrupted"), ER_QUERY_TIMEOUT,
     "Query execution was interrupted, maximum statement execution time exceeded"),
    (re.compile(r"(near .+: syntax error|.*syntax error.*)"), ER_PARSE,
     "You have an error in your SQL syntax (the local engine said: {0})"),
]


def _mysql_error(exc: sqlite3.Error, sql: str) -> MysqlError:
    text = str(exc)
    for pattern, code, message in _SQLITE_ERRORS:
        match = pattern.search(text)
        if match:
            return MysqlError(message.format(*match.groups()), code)
    return MysqlError(f"{text} (the local engine, SQLite, could not run: {sql[:80]})", ER_UNKNOWN)


def _to_sqlite(expression: exp.Expression, current: Callable[[], str]) -> list[str]:
    """The SQLite statements that do what the MySQL statement asks, tables qualified by database."""
    expression = expression.copy()
    ctes = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    for table in expression.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and not table.args.get("db") \
                and table.name.lower() not in ctes:
            table.set("db", exp.to_identifier(current()))
    extra: list[str] = []
    if isinstance(expression, exp.TruncateTable):
        return [f"DELETE FROM {t.sql(dialect='sqlite')}" for t in expression.expressions]
    if isinstance(expression, exp.Create) and expression.kind == "TABLE":
        extra = _split_indexes(expression)
    if isinstance(expression, exp.Insert) and expression.args.get("ignore"):
        expression.set("ignore", None)
        expression.set("alternative", "IGNORE")
    if isinstance(expression, exp.Insert) and expression.args.get("conflict"):
        raise MysqlError("This version of MySQL doesn't yet support 'INSERT ... ON DUPLICATE KEY UPDATE' "
                         "(the local DB instance runs a subset of MySQL)", ER_NOT_SUPPORTED_YET)
    try:
        main = expression.sql(dialect="sqlite", unsupported_level="RAISE")
    except Exception as exc:  # sqlglot.errors.UnsupportedError
        raise MysqlError(f"This version of MySQL doesn't yet support '{_head(expression)}': {exc}",
                         ER_NOT_SUPPORTED_YET) from None
    return [main, *extra]


def _split_indexes(create: exp.Create) -> list[str]:
    """Inline INDEX/KEY definitions of a CREATE TABLE, removed and returned as CREATE INDEX."""
    schema = create.this
    if not isinstance(schema, exp.Schema):
        return []
    table = schema.this
    out = []
    for node in list(schema.expressions):
        if isinstance(node, exp.IndexColumnConstraint):
            name = node.this.name if node.this else f"idx_{len(out) + 1}"
            columns = ", ".join(f'"{c.name}"' for c in node.expressions if c.name)
            node.pop()
            db = table.args.get("db")
            prefix = f'"{db.name}".' if db else ""
            out.append(f'CREATE INDEX IF NOT EXISTS {prefix}"{table.name}_{name}" ON "{table.name}" ({columns})')
    # sqlglot drops ENGINE=... and CHARSET=...; nothing else to strip
    props = create.args.get("properties")
    if props is not None:
        props.pop()
    return out


# --- the wire ---------------------------------------------------------------------------
Admit = Callable[[str], Awaitable[None]]


class _Session(Session):
    """One client connection's session: the engine, a current database, the capacity gate."""

    def __init__(self, endpoint: MySQLEndpoint):
        super().__init__()
        self._endpoint = endpoint
        self.variables.set("version", endpoint.version, force=True)
        self.variables.set("version_comment", "Source distribution (workshop local RDS: mysql-mimic + SQLite)", force=True)
        self.last = Outcome()
        self.last_insert_id = 0
        self.middlewares.insert(0, self._last_insert_id_middleware)

    async def _last_insert_id_middleware(self, q):
        if isinstance(q.expression, exp.Select):
            for fn in q.expression.find_all(exp.Anonymous):
                if fn.name.upper() == "LAST_INSERT_ID" and not fn.expressions:
                    fn.replace(exp.Literal.number(self.last_insert_id))
        return await q.next()

    def _parse(self, sql: str):
        try:
            return super()._parse(sql)
        except sqlglot_errors.ParseError as exc:
            near = sql.strip()[:40]
            raise MysqlError("You have an error in your SQL syntax; check the manual that corresponds to your "
                             f"MySQL server version for the right syntax to use near '{near}' ({exc.errors[0]['description'] if exc.errors else exc})",
                             ER_PARSE) from None

    async def query(self, expression: exp.Expression, sql: str, attrs: dict):
        endpoint = self._endpoint
        if endpoint.admit is not None:
            await endpoint.admit(kind_of(expression))
        endpoint.queries += 1
        outcome = endpoint.engine.execute(expression, self.database, writable=endpoint.writable)
        self.last = outcome
        if outcome.last_insert_id and isinstance(expression, exp.Insert):
            self.last_insert_id = outcome.last_insert_id
        return outcome.rows, outcome.columns

    async def schema(self):
        return self._endpoint.engine.schema()

    async def use(self, database: str) -> None:
        if not self._endpoint.engine.has_database(database):
            raise MysqlError(f"Unknown database '{database}'", ER_BAD_DB)
        self.database = database

    async def _show(self, expression: exp.Show):
        if expression.name.upper() == "DATABASES":
            names = sorted([*SYSTEM_DATABASES, *self._endpoint.engine.databases()], key=str.lower)
            return [(n,) for n in names], ["Database"]
        return await super()._show(expression)


class _Connection(Connection):
    """mysql-mimic's connection, answering writes with their affected rows and last insert id."""

    async def handle_query(self, data: bytes) -> None:
        com_query = packets.parse_com_query(capabilities=self.capabilities, client_charset=self.client_charset,
                                            data=data)
        self.session.last = Outcome()
        result_set = await self.query(com_query.sql, com_query.query_attrs)
        if not result_set:
            last = self.session.last
            await self.stream.write(self.ok(affected_rows=last.affected, last_insert_id=last.last_insert_id))
            return
        await self.write_text_resultset(result_set)


class _Password(NativePasswordAuthPlugin):
    """mysql_native_password, refusing in MySQL's own words:
    "Access denied for user 'u'@'127.0.0.1' (using password: YES)"."""

    async def auth(self, auth_info=None):
        if auth_info and auth_info.handshake_plugin_name == self.name and auth_info.handshake_auth_data:
            nonce = auth_info.handshake_auth_data.rstrip(b"\x00")
        else:
            nonce = mysql_utils.nonce(20)
            auth_info = yield nonce + b"\x00"
        user = auth_info.user
        if self.password_matches(user=user, scramble=auth_info.data, nonce=nonce):
            yield Success(user.name)
        else:
            using = "YES" if auth_info.data else "NO"
            yield Forbidden(f"Access denied for user '{user.name}'@'127.0.0.1' (using password: {using})")


class _Identity(IdentityProvider):
    """The DB instance's one user: the master username with the master password."""

    def __init__(self, user: str, password: str):
        self._user = user
        self._auth = NativePasswordAuthPlugin.create_auth_string(password)
        # any other name: a hash no password has, so it is refused with 1045 as MySQL does
        self._nobody = hashlib.sha1(b"workshop: no such user").hexdigest()

    def get_plugins(self):
        return [_Password()]

    async def get_user(self, username: str):
        auth = self._auth if username == self._user else self._nobody
        return User(name=username, auth_string=auth, auth_plugin=_Password.name)


class MySQLEndpoint:
    """One DB instance's MySQL listener on loopback: `port`, `pause()`/`resume()` (refuse, then answer
    again on the same port), `drop_connections()`, `close()`; `connections`, `queries` counted."""

    def __init__(self, engine: Engine, user: str, password: str, version: str, admit: Admit | None):
        self.engine = engine
        self.version = version
        self.admit = admit
        self.writable = True
        self.queries = 0
        self.port = 0
        self._identity = _Identity(user, password)
        self._control = LocalControl()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.closed = False

    @property
    def connections(self) -> int:
        return len(self._writers)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        stream = MysqlStream(reader, writer)
        connection = _Connection(stream=stream, session=_Session(self), control=self._control,
                                 server_capabilities=DEFAULT_SERVER_CAPABILITIES,
                                 identity_provider=self._identity)
        connection_id = None
        try:
            connection_id = await self._control.add(connection)
            connection.connection_id = connection_id
            await connection.start()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.debug("MySQL connection ended with an error", exc_info=True)
        finally:
            self._writers.discard(writer)
            if connection_id is not None:
                await self._control.remove(connection_id)
            writer.close()

    def drop_connections(self) -> int:
        """Cut every open connection (the client sees "Lost connection to MySQL server"); how many."""
        dropped = list(self._writers)
        for writer in dropped:
            writer.transport.abort()
        return len(dropped)

    async def pause(self) -> None:
        """Stop listening (connecting is refused) and drop every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_connections()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def resume(self) -> None:
        """Listen again on the same port."""
        if self._server is None and not self.closed:
            await self._listen(self.port)

    async def close(self) -> None:
        self.closed = True
        await self.pause()


async def serve(engine: Engine, *, user: str, password: str, port: int = 0, version: str = DEFAULT_VERSION,
                admit: Admit | None = None) -> MySQLEndpoint:
    """A MySQL endpoint on 127.0.0.1:`port` (0: a free one) serving `engine` to `user`/`password`.

    `admit(kind)`, if given, is awaited before each statement ("read" or "write"): the place
    for a capacity model to queue and to count busy time. Run on the data plane's loop."""
    endpoint = MySQLEndpoint(engine, user, password, version, admit)
    await endpoint._listen(port)
    return endpoint
