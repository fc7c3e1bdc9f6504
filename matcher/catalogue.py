"""The hosts of record (the store) and the searchable index (the engine), kept in step.

- A host write goes to the database and to the index in one step: the rows are written in a transaction,
  the index is updated and saved atomically, then the transaction commits. If anything fails, the
  transaction rolls back and the index is put back as it was, so a failed write stores nothing.
- On opening, the index is compared with the store; when they differ (a crash between the two, a database
  restored from backup, another model) the index is rebuilt from the store, with cached embeddings.
- Several processes (gunicorn workers) share one data folder: `refresh()` reloads the index when another
  process has saved a newer one, so every worker answers from the latest hosts.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from matcher.embedding import Embedder
from matcher.engine import Engine, MatchSettings, UpsertReport
from matcher.errors import IndexMismatch, UnknownHost
from matcher.hosts import HostRecords
from matcher.index import HostIndex
from matcher.progress import Progress
from matcher.runtime import release_freed_memory
from matcher.store import Store
from models.profiles import HostLab

log = logging.getLogger(__name__)


class Catalogue:
    def __init__(self, engine: Engine, store: Store, *, index_dir: Path | None = None, serving: bool = False) -> None:
        self.engine = engine
        self.store = store
        self.index_dir = index_dir
        self.serving = serving  # build what requests need (term statistics) whenever an engine is (re)loaded
        self._lock = threading.RLock()
        self._signature = self._disk_signature()

    @classmethod
    def open(
        cls,
        store: Store,
        embedder: Embedder,
        *,
        index_dir: Path | None,
        settings: MatchSettings | None = None,
        serving: bool = False,
        progress: Progress | None = None,
    ) -> Catalogue:
        """Open the store and the index in `index_dir` (None: in memory), rebuilding the index if needed.

        `serving=True` (the service) builds the term statistics for explanations now, and again after each
        reload, so no request pays for them; command-line writes leave them to the first match. `progress`
        hears of the embedding a rebuild does (after a crash, a restored database or another model, every
        stored host's texts not in the cache).
        """
        store.create_all()
        engine = None
        if index_dir is not None:
            try:
                engine = Engine.open(index_dir, embedder, settings=settings)
            except IndexMismatch as exc:
                log.warning("index not usable (%s); rebuilding it from the store", exc)
        if engine is None:
            engine = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint), settings=settings)
        catalogue = cls(engine, store, index_dir=index_dir, serving=serving)
        catalogue.sync(progress=progress)
        catalogue._warm()
        return catalogue

    # -- keeping in step -------------------------------------------------------------------------------

    def sync(self, *, progress: Progress | None = None) -> UpsertReport | None:
        """Make the index hold exactly the stored hosts; None when it already did."""
        with self._writing():
            if self._in_step():
                return None
            stored = self.store.hosts()
            log.info("index differs from the store (%d vs %d hosts); rebuilding", len(self.engine.hosts), len(stored))
            report = self.engine.replace_all(list(stored.values()), progress=progress)
            self._save()
            return report

    def _in_step(self) -> bool:
        """Whether the index holds exactly the stored hosts, comparing them a batch at a time."""
        seen = 0
        for host in self.store.iter_hosts():
            if not self.engine.hosts.unchanged(host):
                return False
            seen += 1
        return seen == len(self.engine.hosts)

    def refresh(self) -> bool:
        """Reload the index if another process saved a newer one. Cheap when nothing changed (one stat)."""
        if self.index_dir is None or self._disk_signature() == self._signature:
            return False
        with self._lock:
            return self._reload_if_newer()

    def _reload_if_newer(self) -> bool:
        if self.index_dir is None or self._disk_signature() == self._signature:
            return False
        self.engine = Engine.open(self.index_dir, self.engine.embedder, settings=self.engine.settings)
        self._warm()
        self._signature = self._disk_signature()
        return True

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Exclusive against other threads and, through a lock file, other processes on the same folder;
        starts from the newest saved index so no process overwrites another's write."""
        with self._lock:
            if self.index_dir is None:
                yield
                return
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with (self.index_dir.parent / "write.lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    self._reload_if_newer()
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # -- writes ----------------------------------------------------------------------------------------

    def upsert_hosts(self, hosts: Sequence[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Add or replace hosts in the store and the index together; all or nothing."""
        with self._transaction() as session:
            self.store.put_hosts(session, hosts)
            session.flush()
            return self.engine.upsert_hosts(hosts, progress=progress)

    def replace_all(self, hosts: Sequence[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Make the stored and indexed hosts exactly `hosts`; all or nothing."""
        keep = {h.id for h in hosts}
        with self._transaction() as session:
            for host_id in sorted(set(self.store.host_ids(session)) - keep):
                self.store.delete_host(session, host_id)
            self.store.put_hosts(session, hosts)
            session.flush()
            return self.engine.replace_all(hosts, progress=progress)

    def delete_host(self, host_id: str) -> None:
        """Remove a host from the store and the index together.

        Raises:
            UnknownHost: no such host.
        """
        with self._transaction() as session:
            if not self.store.delete_host(session, host_id):
                raise UnknownHost(host_id)
            if host_id in self.engine.hosts:
                self.engine.remove_hosts([host_id])

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One write to store and index: rows in a transaction; the index saved before it commits; on any
        failure the transaction rolls back and the index is put back as it was."""
        with self._writing():
            before = self.engine.hosts.copy()
            try:
                with self.store.session() as session:
                    yield session
                    self._save()
            except BaseException:
                self._restore(before)
                raise

    def _warm(self) -> None:
        """What a serving process does after (re)loading: build what requests need (term statistics,
        conflict keys, host mean vectors), then hand the memory loading freed back to the system."""
        if self.serving:
            self.engine.warm()
            release_freed_memory()

    # -- internals -------------------------------------------------------------------------------------

    def _save(self) -> None:
        if self.index_dir is not None:
            self.engine.save(self.index_dir)
            self._signature = self._disk_signature()

    def _restore(self, hosts: HostRecords) -> None:
        """Put the index back to `hosts` after a failed write (embeddings come from the cache)."""
        try:
            if self.engine.hosts != hosts:
                self.engine.replace_all(list(hosts.values()))
                self._save()
        except Exception:  # the original error matters more; the next open() rebuilds from the store
            log.exception("could not restore the index after a failed write")

    def _disk_signature(self) -> tuple[int, int, int] | None:
        if self.index_dir is None:
            return None
        try:
            stat = (self.index_dir / "manifest.json").stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
