"""The store's contract on SQLite, and on PostgreSQL when HOSTMATCH_TEST_DATABASE_URL names one
(e.g. postgresql+psycopg://postgres@127.0.0.1/hostmatch_test; the database is emptied first)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from matcher.errors import IndexMismatch
from matcher.generation import INITIAL
from matcher.records import read_hosts, read_researchers, sample_path
from matcher.store import AUDIT_ATTEMPTS, Base, Store
from models.profiles import HostLab
from tests.conftest import host_record, stored_hosts

URLS = ["sqlite"] + (["postgres"] if os.environ.get("HOSTMATCH_TEST_DATABASE_URL") else [])


@pytest.fixture(params=URLS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    else:
        store = Store(os.environ["HOSTMATCH_TEST_DATABASE_URL"])
        Base.metadata.drop_all(store.engine)
    store.create_all()
    yield store
    store.engine.dispose()


def test_profiles_round_trip_exactly(store: Store) -> None:
    hosts = read_hosts(sample_path("hosts"))[:20]
    researchers = read_researchers(sample_path("researchers"))[:10]
    with store.session() as session:
        store.put_hosts(session, hosts)
        store.put_researchers(session, researchers)
    assert list(stored_hosts(store).values()) == sorted(hosts, key=lambda h: h.id)
    assert store.get_researcher(researchers[3].id) == researchers[3]
    assert store.count("publications") == sum(len(h.publications) for h in hosts) + sum(
        len(r.publications) for r in researchers
    )


def test_a_host_page_is_stored(store: Store) -> None:
    host = HostLab.model_validate(host_record("h-page", url="https://www.example.ac.jp/lab/"))
    with store.session() as session:
        store.put_hosts(session, [host])
    assert store.get_host("h-page") == host and stored_hosts(store)["h-page"].url == "https://www.example.ac.jp/lab/"
    with store.session() as session:
        store.put_hosts(session, [host.model_copy(update={"url": None})])
    assert store.get_host("h-page").url is None  # type: ignore[union-attr]


def test_updates_replace_publications_and_deletes_cascade(store: Store) -> None:
    host = read_hosts(sample_path("hosts"))[0]
    with store.session() as session:
        store.put_hosts(session, [host])
    shorter = host.model_copy(update={"publications": host.publications[:1]})
    with store.session() as session:
        store.put_hosts(session, [shorter])
    assert store.get_host(host.id) == shorter
    assert store.count("publications") == 1
    with store.session() as session:
        assert store.delete_host(session, host.id)
        assert not store.delete_host(session, host.id)
    assert store.count("publications") == 0


def test_a_failed_transaction_stores_nothing(store: Store) -> None:
    hosts = read_hosts(sample_path("hosts"))[:3]
    with pytest.raises(RuntimeError), store.session() as session:
        store.put_hosts(session, hosts)
        session.flush()
        raise RuntimeError("fails after the rows were written")
    assert stored_hosts(store) == {}


def test_the_audit_trail(store: Store) -> None:
    store.record_run(actor="anonymous", kind="match", subject="inline:abc", parameters={"top": 3}, results=[["h", 0.5]])
    (run,) = store.audit_runs(limit=100)[0]
    assert run["actor"] == "anonymous" and run["parameters"] == {"top": 3} and run["results"] == [["h", 0.5]]


def test_ids_are_unique(store: Store) -> None:
    host = read_hosts(sample_path("hosts"))[0]
    from matcher.store import HostRow

    with pytest.raises(IntegrityError), store.session() as session:
        session.add(HostRow(id=host.id, lab_name="a", institution="b", prefecture="c", profile={}))
        session.add(HostRow(id=host.id, lab_name="a", institution="b", prefecture="c", profile={}))
        session.flush()


def test_hosts_are_read_a_batch_at_a_time_in_id_order(store: Store) -> None:
    papers = [{"title": f"Paper {t}", "year": 2020 + t, "coauthors": [f"C. Author {t}"]} for t in (3, 1, 2)]
    hosts = [HostLab.model_validate(host_record(f"h-{i:02d}", publications=papers[: i % 4])) for i in (5, 1, 9, 3, 7)]
    with store.session() as session:
        store.put_hosts(session, hosts)
    for batch in (1, 2, 5, 10):
        assert [h.id for h in store.iter_hosts(batch=batch)] == ["h-01", "h-03", "h-05", "h-07", "h-09"]
    assert list(store.iter_hosts(batch=2)) == sorted(hosts, key=lambda h: h.id)  # publications whole, in order
    assert list(store.iter_hosts(batch=2)) == list(stored_hosts(store).values())
    assert store.host_ids() == ["h-01", "h-03", "h-05", "h-07", "h-09"]


def test_the_generation_advances_only_from_the_one_committed(store: Store) -> None:
    assert store.generation() == INITIAL
    with store.session() as session:
        first = store.advance_generation(session, INITIAL)
    assert store.generation() == first and first.number == 1
    with pytest.raises(RuntimeError), store.session() as session:  # rolled back: not committed
        store.advance_generation(session, first)
        raise RuntimeError("the write failed")
    assert store.generation() == first
    with pytest.raises(IndexMismatch, match="changed since generation"), store.session() as session:
        store.advance_generation(session, INITIAL)  # another writer committed `first` since
    with store.session() as session:
        second = store.advance_generation(session, first)
    assert store.generation() == second and second.number == 2 and second.stamp != first.stamp


def test_an_audit_insert_is_tried_again_while_the_database_is_busy(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = OperationalError("INSERT INTO match_runs ...", {}, Exception("database is locked"))
    real = store.session
    failures = [busy, busy]

    @contextmanager
    def flaky() -> Iterator[Session]:
        with real() as session:
            if failures:
                raise failures.pop()
            yield session

    monkeypatch.setattr(store, "session", flaky)
    monkeypatch.setattr("matcher.store.AUDIT_PAUSE_S", 0)
    store.record_run(actor="a", kind="match", subject="s", parameters={}, results=[])
    assert not failures and len(store.audit_runs(limit=100)[0]) == 1
    failures.extend([busy] * AUDIT_ATTEMPTS)
    with pytest.raises(OperationalError):
        store.record_run(actor="a", kind="match", subject="s", parameters={}, results=[])
    assert len(store.audit_runs(limit=100)[0]) == 1
