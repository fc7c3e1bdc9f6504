"""The SQLite storage for `limits` (service.ratelimit_store): counters shared through one file, windows that
expire, and the strategy Flask-Limiter uses by default on top of it. The clock is the test's."""

from __future__ import annotations

from pathlib import Path

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

import service.ratelimit_store as module
from service.ratelimit_store import SQLiteStorage


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000_000.0]
    monkeypatch.setattr(module.time, "time", lambda: now[0])
    return now


def test_the_sqlite_scheme_is_registered_with_limits(tmp_path: Path) -> None:
    storage = storage_from_string(f"sqlite:///{tmp_path / 'limits.sqlite3'}")
    assert isinstance(storage, SQLiteStorage) and storage.check()


def test_two_storages_over_one_file_count_together_and_windows_expire(tmp_path: Path, clock: list[float]) -> None:
    uri = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    first, second = SQLiteStorage(uri), SQLiteStorage(uri)  # as two gunicorn workers hold them
    assert first.incr("k", 60) == 1
    assert second.incr("k", 60, amount=5) == 6
    assert first.get("k") == 6 and first.get_expiry("k") == clock[0] + 60
    clock[0] += 59
    assert second.incr("k", 60) == 7  # the window does not move with later hits
    clock[0] += 1
    assert first.get("k") == 0  # expired ...
    assert first.incr("k", 60) == 1 and second.get_expiry("k") == clock[0] + 60  # ... and starts again
    second.clear("k")
    assert first.get("k") == 0
    first.incr("a", 60)
    first.incr("b", 60)
    assert second.reset() == 2 and first.get("a") == 0


def test_the_fixed_window_strategy_charges_costs(tmp_path: Path, clock: list[float]) -> None:
    limiter = FixedWindowRateLimiter(SQLiteStorage(f"sqlite:///{tmp_path / 'limits.sqlite3'}"))
    texts = parse("200/minute")
    assert limiter.test(texts, "client") and limiter.hit(texts, "client", cost=150)
    assert limiter.test(texts, "client")  # 50 left: a match may run, and is charged what it embeds
    limiter.hit(texts, "client", cost=120)
    assert not limiter.test(texts, "client")
    assert limiter.get_window_stats(texts, "client").reset_time == clock[0] + 60
    assert limiter.test(texts, "another client")
    clock[0] += 60
    assert limiter.test(texts, "client")


def test_a_uri_that_is_not_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        SQLiteStorage("sqlite://relative-without-a-slash")
