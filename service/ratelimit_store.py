"""A `limits` storage over one SQLite file, so every gunicorn worker of a data folder counts the same hits.

Flask-Limiter keeps its counters in a `limits` storage named by URI. Its in-memory storage is per process:
with 2 gunicorn workers each would allow the full limit, and a client would get twice as much. Redis or
memcached share counters, but the default deployment is one machine with SQLite and no other server. This
backend registers the `sqlite` scheme with `limits`' storage registry (importing this module is enough):

    sqlite:////absolute/path/ratelimit.sqlite3   (as SQLAlchemy writes SQLite URLs)

Each counter is one row (key, count, expires). An increment is one SQL statement, so two processes never
lose a hit; the file is in WAL mode with `synchronous=OFF` (rate-limit counters need not survive a power
cut), so a hit costs a few tens of microseconds and never waits for the disk. Expired rows are deleted now
and then by whichever process is writing. It supports the fixed-window strategy (Flask-Limiter's default).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from limits.storage import Storage

_SWEEP_EVERY = 60.0  # seconds between deletions of expired counters


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file shared by the processes of one machine."""

    STORAGE_SCHEME: list[str] | None = ["sqlite"]  # noqa: RUF012  (the type `limits` declares)

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        if not uri.startswith("sqlite:///"):
            raise ValueError(f"a SQLite rate-limit storage URI starts with sqlite:///, got {uri!r}")
        self.path = Path(uri.removeprefix("sqlite:///"))
        self.timeout = float(options.get("timeout", 5.0))
        self._local = threading.local()
        self._last_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters"
                " (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
            )

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork: SQLite connections must not cross one)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the counter of `key` and return it; a counter past its expiry starts again, to
        expire `expiry` seconds from now."""
        now = time.time()
        db = self._db()
        row = db.execute(
            "INSERT INTO counters (key, count, expires) VALUES (:key, :amount, :expires)"
            " ON CONFLICT (key) DO UPDATE SET"
            "  count = CASE WHEN expires <= :now THEN :amount ELSE count + :amount END,"
            "  expires = CASE WHEN expires <= :now THEN :expires ELSE expires END"
            " RETURNING count",
            {"key": key, "amount": amount, "expires": now + expiry, "now": now},
        ).fetchone()
        if now - self._last_sweep > _SWEEP_EVERY:
            self._last_sweep = now
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return int(row[0])

    def get(self, key: str) -> int:
        row = self._db().execute("SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        found = self._db().execute("SELECT expires FROM counters WHERE key = ? AND expires > ?", (key, now)).fetchone()
        return float(found[0]) if found else now

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return int(self._db().execute("DELETE FROM counters").rowcount)

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))
