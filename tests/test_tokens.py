"""API tokens: stored hashed, scoped, revocable, expiring, rotated (service.tokens)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from matcher.store import Store
from service.tokens import Tokens


def store_at(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.create_all()
    return store


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    return Tokens(store_at(tmp_path / "db.sqlite3"))


def test_tokens_are_hashed_scoped_and_revocable(tokens: Tokens) -> None:
    token = tokens.create("ops", "admin")
    assert token.startswith("hm_") and tokens.authenticate(token) is not None
    assert token not in str(tokens.entries())
    with pytest.raises(ValueError, match="exists already"):
        tokens.create("ops", "staff")
    with pytest.raises(ValueError, match="scope"):
        tokens.create("x", "root")  # type: ignore[arg-type]
    assert tokens.revoke("ops") and tokens.authenticate(token) is None
    assert not tokens.revoke("ops")


def test_tokens_expire_and_rotation_gives_a_new_secret(tmp_path: Path) -> None:
    tokens = Tokens(store_at(tmp_path / "db.sqlite3"))
    token = tokens.create("ops", "staff", days=30)
    assert tokens.authenticate(token) is not None and tokens.state(token) == "live"
    listed = tokens.entries()[0]
    made = dt.datetime.fromisoformat(listed["created_at"])
    assert dt.datetime.fromisoformat(listed["expires_at"]) - made == pytest.approx(
        dt.timedelta(days=30), abs=dt.timedelta(seconds=5)
    )
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00'")
    assert tokens.authenticate(token) is None and tokens.state(token) == "expired"
    fresh = tokens.rotate("ops")
    assert fresh != token and tokens.authenticate(fresh) is not None and tokens.state(token) == "unknown"
    with pytest.raises(ValueError, match="at most 3,660 days"):
        tokens.create("long", "staff", days=10_000)


def test_a_database_made_before_tokens_expired_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, name VARCHAR(100) UNIQUE, scope VARCHAR(10),"
            " digest VARCHAR(64) UNIQUE, created_at DATETIME, revoked_at DATETIME)"
        )
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
        db.execute(
            "INSERT INTO api_tokens (name, scope, digest, created_at) VALUES ('old', 'staff', 'x', ?)",
            (old.strftime("%Y-%m-%d %H:%M:%S"),),
        )
    assert Tokens(store_at(path)).entries()[0]["state"] == "expired"  # made 100 days ago: past the default 90
