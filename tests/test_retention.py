"""`hostmatch db prune`: old audit rows and unneeded cached vectors go; what stored labs and researchers need
stays, whatever its age. Over a fake embedder (no model is loaded)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache, text_key
from matcher.retention import prune
from matcher.store import MatchRunRow, Store
from models.profiles import HostLab, ResearcherProfile
from scripts.cli import cli
from tests.conftest import FakeEmbedder, host_record, researcher_record

DAY = 86400


class Folder:
    """A data folder as the CLI lays it out: a database, an index and an embedding cache."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.store = Store(f"sqlite:///{home / 'hostmatch.sqlite3'}")
        self.cache = EmbeddingCache(home / "cache" / "embeddings.sqlite3")
        self.embedder = CachingEmbedder(FakeEmbedder(), self.cache)
        self.catalogue = Catalogue.open(self.store, self.embedder, index_dir=home / "index")

    def age_vectors(self, days: float) -> None:
        with sqlite3.connect(self.cache.path) as db:
            db.execute("UPDATE vectors SET created = created - ?", (int(days * DAY),))

    def age_runs(self, days: float) -> None:
        with self.store.session() as s:
            s.execute(update(MatchRunRow).values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days)))

    def cached(self, text: str) -> bool:
        fake = self.embedder.inner
        return bool(self.cache.get_many(fake.fingerprint, [text_key(text)], fake.dim))

    def prune(self, *args: str) -> str:
        result = CliRunner().invoke(cli, ["--home", str(self.home), "db", "prune", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    """A lab and a researcher stored; a lab edited since (its old text unneeded); an anonymous query's vector
    from before they stopped reaching the shared cache; all written 40 days ago. Two old audit rows."""
    data = Folder(tmp_path)
    data.catalogue.upsert_hosts([HostLab.model_validate(host_record("h-1", description="Old text of the lab."))])
    data.catalogue.upsert_hosts([HostLab.model_validate(host_record("h-1", description="New text of the lab."))])
    researcher = ResearcherProfile.model_validate(researcher_record("r-1", statement="A stored statement."))
    with data.store.session() as s:
        data.store.put_researchers(s, [researcher])
    data.embedder.encode(["A stored statement.", "An anonymous query of last year."])
    for _ in range(2):
        data.store.record_run(actor="anonymous", kind="match", subject="inline:x", parameters={}, results=[])
    data.age_vectors(40)
    data.age_runs(400)
    return data


def test_prune_removes_old_audit_rows_and_unneeded_vectors_and_keeps_what_records_need(folder: Folder) -> None:
    folder.store.record_run(actor="staff-1", kind="match", subject="r-1", parameters={}, results=[])  # recent
    folder.embedder.encode(["Written today, needed by no one."])
    out = folder.prune()
    assert "removed 2 match runs" in out and "1 kept" in out
    assert "removed 2 vectors" in out
    assert len(folder.store.audit_runs(limit=100)[0]) == 1
    assert not folder.cached("Old text of the lab.") and not folder.cached("An anonymous query of last year.")
    for text in ("New text of the lab.", "A stored statement.", "Written today, needed by no one."):
        assert folder.cached(text), text


def test_a_dry_run_says_what_it_would_remove_and_removes_nothing(folder: Folder) -> None:
    before = folder.cache.count()
    out = folder.prune("--dry-run")
    assert "would remove 2 match runs" in out and "would remove 2 vectors" in out
    assert folder.cache.count() == before and len(folder.store.audit_runs(limit=100)[0]) == 2


def test_the_ages_are_settings(folder: Folder) -> None:
    out = folder.prune("--audit-days", "500", "--cache-days", "50")
    assert "removed 0 match runs" in out and "removed 0 vectors" in out
    out = folder.prune("--cache-days", "0", "--vacuum")
    assert "removed 2 vectors" in out and "is now" in out


def test_the_labs_of_the_saved_index_are_needed_too(folder: Folder) -> None:
    """After a crash between saving the index and committing the database, the index may hold a lab the
    database does not: its vectors stay until the two agree again."""
    with folder.store.session() as s:
        folder.store.delete_host(s, "h-1")  # the database alone, as if its write was lost
    report = prune(folder.store, folder.cache, index_dir=folder.home / "index", cache_days=0)
    assert report.vectors_removed == 2
    assert folder.cached("New text of the lab.") and folder.cached("A stored statement.")


def test_negative_ages_are_refused(folder: Folder) -> None:
    with pytest.raises(ValueError, match="negative"):
        prune(folder.store, folder.cache, audit_days=-1)
    result = CliRunner().invoke(cli, ["--home", str(folder.home), "db", "prune", "--audit-days", "-1"])
    assert result.exit_code == 2
