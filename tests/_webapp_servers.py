"""Test helpers: a MySQL server (mysql-mimic over SQLite) and a Redis server (fakeredis), on loopback."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading

from fakeredis import TcpFakeServer
from mysql_mimic import MysqlServer, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SqliteMysql:
    """A MySQL wire endpoint whose statements run on one SQLite database (sqlglot translates);
    any user, no password (mysql-mimic's SimpleIdentityProvider)."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.statements: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        owner = self

        class _Session(Session):
            async def query(self, expression, sql, attrs):
                owner.statements.append(sql)
                cur = owner.db.execute(expression.sql(dialect="sqlite"))
                owner.db.commit()
                columns = [d[0] for d in cur.description or []]
                return cur.fetchall(), columns

        self.server = MysqlServer(session_factory=_Session)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start_server(host="127.0.0.1", port=self.port), self.loop).result(5)

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FakeRedis:
    """fakeredis's TCP server in a thread."""

    def __init__(self):
        self.port = free_port()
        self.server = TcpFakeServer(("127.0.0.1", self.port), server_type="redis")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
