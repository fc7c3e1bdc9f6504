"""The catalogue publishes a write's rows and index snapshot as one step (matcher.catalogue): over a fake
embedder, a real index folder, and SQLite, or PostgreSQL too when HOSTMATCH_TEST_DATABASE_URL names one (as
in tests/test_store.py; the database is emptied first). What a process killed mid-write leaves is in
tests/test_crash_safety.py."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import matcher.catalogue as catalogue_module
from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.generation import INITIAL, Generation
from matcher.store import Base, Store
from models.profiles import HostLab
from tests.conftest import FakeEmbedder, host_record, stored_hosts

QUAKE = "Seismic isolation of buildings and earthquake ground motion."
POETRY = "Waka poetry of the Heian court and its manuscripts."
VENTS = "Deep-sea hydrothermal vents and chemosynthetic tubeworms."
URLS = ["sqlite"] + (["postgres"] if os.environ.get("HOSTMATCH_TEST_DATABASE_URL") else [])


def host(host_id: str, text: str) -> HostLab:
    return HostLab.model_validate(host_record(host_id, description=text))


class Folder:
    """A data folder: a database, an index folder and an embedding cache, opened as often as a test likes."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.model = FakeEmbedder()
        self.store = Store(url or f"sqlite:///{root / 'db.sqlite3'}")
        self.index_dir = root / "index"

    def open(self, *, serving: bool = False) -> Catalogue:
        embedder = CachingEmbedder(self.model, EmbeddingCache(self.root / "cache.sqlite3"))
        return Catalogue.open(self.store, embedder, index_dir=self.index_dir, serving=serving)

    def manifest_generation(self) -> Generation:
        manifest = json.loads((self.index_dir / "manifest.json").read_text())
        return Generation.from_json(manifest["generation"])

    def stored(self) -> dict[str, HostLab]:
        return stored_hosts(self.store)


@pytest.fixture(params=URLS)
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Folder]:
    folder = Folder(tmp_path, os.environ["HOSTMATCH_TEST_DATABASE_URL"] if request.param == "postgres" else None)
    Base.metadata.drop_all(folder.store.engine)
    folder.open().upsert_hosts([host("h-quake", QUAKE), host("h-poetry", POETRY)])
    yield folder
    folder.store.engine.dispose()


def pause_at(monkeypatch: pytest.MonkeyPatch, step: str, action: Callable[[], None]) -> list[str]:
    """Run `action` when a write in this process reaches `step` (matcher.crashpoints) instead of crashing."""
    reached: list[str] = []

    def at(name: str) -> None:
        if name == step:
            reached.append(name)
            action()

    monkeypatch.setattr(catalogue_module, "crash_point", at)
    return reached


def test_each_write_commits_a_new_generation_and_saves_the_snapshot_naming_it(folder: Folder) -> None:
    catalogue = folder.open()
    first = folder.store.generation()
    assert first != INITIAL and folder.manifest_generation() == first == catalogue.generation
    catalogue.upsert_hosts([host("h-vents", VENTS)])
    second = folder.store.generation()
    assert second.number == first.number + 1 and folder.manifest_generation() == second
    catalogue.delete_host("h-vents")
    assert folder.store.generation().number == first.number + 2 == folder.manifest_generation().number


def test_a_reader_keeps_its_snapshot_until_the_database_commits_the_new_one(
    folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer pauses after saving the new snapshot, before committing: the manifest on disk names a
    generation the database does not have yet. A serving reader keeps the old hosts; after the commit it
    loads the new snapshot on its next request."""
    reader = folder.open(serving=True)
    writer = folder.open()
    committed = folder.store.generation()

    def while_uncommitted() -> None:
        assert folder.manifest_generation() != folder.store.generation() == committed
        assert "h-vents" not in folder.stored()
        assert not reader.refresh()
        assert sorted(reader.engine.hosts) == ["h-poetry", "h-quake"] and reader.generation == committed

    reached = pause_at(monkeypatch, "snapshot-saved", while_uncommitted)
    writer.upsert_hosts([host("h-vents", VENTS)])
    assert reached == ["snapshot-saved"]
    assert reader.refresh() and sorted(reader.engine.hosts) == ["h-poetry", "h-quake", "h-vents"]
    assert reader.generation == folder.store.generation() and reader.engine._terms is not None
    assert not reader.refresh()  # nothing newer: one stat


def test_a_write_that_fails_after_saving_its_snapshot_puts_the_committed_one_back(
    folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = folder.open()
    committed = folder.store.generation()

    def fail() -> None:
        raise RuntimeError("the commit never happens")

    pause_at(monkeypatch, "snapshot-saved", fail)
    for hosts in ([host("h-vents", VENTS)], [host("h-quake", QUAKE)]):  # a change, and a write of no change
        with pytest.raises(RuntimeError, match="never happens"):
            catalogue.upsert_hosts(hosts)
        assert folder.store.generation() == committed == catalogue.generation == folder.manifest_generation()
        assert sorted(catalogue.engine.hosts) == sorted(folder.stored()) == ["h-poetry", "h-quake"]
    monkeypatch.undo()
    catalogue.upsert_hosts([host("h-vents", VENTS)])  # and the next write goes through
    assert sorted(folder.open().engine.hosts) == ["h-poetry", "h-quake", "h-vents"]


def test_start_up_after_a_crash_between_saving_and_committing_serves_the_committed_snapshot(folder: Folder) -> None:
    """What a crash between saving and committing leaves: a current snapshot of hosts the database does not
    have, naming a generation it never committed, and the committed snapshot as the previous one. Readers
    and start-up take the previous one (start-up saves it as the current again); with neither committed
    (another crash after that), start-up rebuilds from the store, from cached embeddings."""
    catalogue = folder.open()
    catalogue.engine.upsert_hosts([host("h-ghost", VENTS)])
    orphan = folder.store.generation().next()
    catalogue.engine.save(folder.index_dir, generation=orphan.as_json())
    cli = Catalogue.committed_engine(folder.store, folder.model, index_dir=folder.index_dir)
    assert sorted(cli.hosts) == ["h-poetry", "h-quake"]
    embedded = folder.model.texts_embedded
    assert sorted(folder.open().engine.hosts) == ["h-poetry", "h-quake"]
    assert folder.model.texts_embedded == embedded  # loaded, not rebuilt
    assert folder.manifest_generation() == folder.store.generation() != orphan

    catalogue.engine.save(folder.index_dir, generation=orphan.as_json())
    catalogue.engine.save(folder.index_dir, generation=orphan.next().as_json())
    reader = folder.open()
    assert reader.engine.hosts == folder.stored() and sorted(reader.engine.hosts) == ["h-poetry", "h-quake"]
    assert folder.model.texts_embedded == embedded  # rebuilt from cached embeddings
    assert folder.manifest_generation() == folder.store.generation()


def test_start_up_rebuilds_an_older_snapshot_from_cached_embeddings(folder: Folder) -> None:
    """The index folder is restored from an older backup: its generation is older than the database's."""
    shutil.copytree(folder.index_dir, folder.root / "backup")
    folder.open().upsert_hosts([host("h-vents", VENTS), host("h-quake", POETRY)])
    shutil.rmtree(folder.index_dir)
    shutil.copytree(folder.root / "backup", folder.index_dir)
    embedded = folder.model.texts_embedded
    catalogue = folder.open()
    assert catalogue.engine.hosts == folder.stored()
    assert folder.model.texts_embedded == embedded  # every text came from the cache
    assert folder.manifest_generation() == folder.store.generation()


def test_a_writer_with_an_old_snapshot_catches_up_before_writing(folder: Folder) -> None:
    """Two processes write in turn: each starts from the other's committed hosts, never overwrites them."""
    one, two = folder.open(), folder.open()
    one.upsert_hosts([host("h-vents", VENTS)])
    two.upsert_hosts([host("h-sake", "Sake brewing and koji.")])
    one.delete_host("h-quake")
    assert sorted(folder.stored()) == ["h-poetry", "h-sake", "h-vents"]
    assert two.refresh()
    assert two.engine.hosts == one.engine.hosts == folder.open().engine.hosts == folder.stored()


def test_a_write_embeds_before_it_takes_the_database_lock(folder: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the texts are embedded, another connection that will not wait for a lock writes at once."""
    if folder.store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    catalogue = folder.open()
    encode = folder.model.encode

    def encode_while_another_writes(texts: list[str], **kwargs: object) -> object:
        with sqlite3.connect(folder.root / "db.sqlite3", timeout=0) as other:
            other.execute(
                "INSERT INTO match_runs (at, actor, kind, subject, parameters, results) "
                "VALUES (CURRENT_TIMESTAMP, 'probe', 'match', 's', '{}', '[]')"
            )
        return encode(texts)

    monkeypatch.setattr(folder.model, "encode", encode_while_another_writes)
    catalogue.upsert_hosts([host("h-vents", VENTS)])
    assert [r["actor"] for r in folder.store.audit_runs(limit=100)[0]] == ["probe"]
