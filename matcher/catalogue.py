"""The hosts of record (the store) and the searchable index (the engine), kept in step.

The database is the record; an index snapshot on disk holds the hosts of one generation of it
(`matcher.generation`) and names it in its manifest.

A host write (`upsert_hosts`, `replace_all`, `delete_host`) publishes the new hosts and their index as one
step:

1. embed the changed texts, through the cache, holding no lock of any kind (the slow part);
2. under the data folder's write lock (a lock file: one writer at a time across processes), starting from
   the committed generation (`_catch_up`), in one transaction: advance the generation, write the rows; put
   the hosts into the index; save the snapshot naming the new generation beside the committed one (new
   files, the old manifest kept as `manifest.previous.json`, `manifest.json` replaced atomically); commit.

If anything fails before the commit, the transaction rolls back, and the index is put back as it was and
saved again under the committed generation. A crash before the commit (kill -9, power cut) can leave a
current snapshot whose generation the database never committed, and the committed one as the previous;
nothing loads the former:

- readers (`refresh`, which every request of every gunicorn worker calls, and the command line's
  `committed_engine`) load a snapshot only when it names the generation the database has committed: the
  current one, or else the previous one. Between a writer's save and its commit they keep serving what
  they hold; after a crash there, they serve the committed snapshot, never the crashed write's hosts;
- start-up (`open`) and every write first catch up under the write lock (where no writer is between its
  save and its commit): load the snapshot of the committed generation and save it again as the current one,
  or, when there is none (an older index, a database restored from a backup, another model), rebuild the
  index from the store, with cached embeddings, and save it under the committed generation. Start-up then
  also compares every stored host with the index, and rebuilds if they differ.

The database's write lock is held only in step 2: the rows, the index update and the save; a match's audit
insert waits that long at most (and tries again, `Store.record_run`).

SQLite and PostgreSQL alike: the generation is a row the host write's transaction updates first (SQLite's
write lock, PostgreSQL's row lock make other writers queue there), and readers read the committed row
(SQLite's WAL and PostgreSQL's read committed never make them wait). The lock file serialises the writers of
one data folder. Several data folders on one PostgreSQL database (several machines) are not supported yet:
a write from another folder leaves this folder's snapshot behind the database; its readers keep serving
it, its next write finds the generation moved and rebuilds from the store first.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from matcher.crashpoints import crash_point
from matcher.encoders.embedding import Embedder
from matcher.engine import EmbeddedHosts, Engine, MatchSettings, UpsertReport
from matcher.errors import IndexMismatch, UnknownHost
from matcher.generation import Generation
from matcher.hosts import HostRecords
from matcher.index import HostIndex, read_manifest
from matcher.progress import Progress
from matcher.store import Store
from models.profiles import HostLab

log = logging.getLogger(__name__)


class Catalogue:
    def __init__(self, engine: Engine, store: Store, *, index_dir: Path | None = None, serving: bool = False) -> None:
        self.engine = engine
        self.store = store
        self.index_dir = index_dir
        self.serving = serving  # build what requests need (term statistics) whenever an engine is (re)loaded
        self.generation: Generation | None = None  # the committed generation the engine holds; None: unknown
        self._lock = threading.RLock()
        self._signature: tuple[int, int, int] | None = None  # the manifest last looked at (see `refresh`)

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
        multilingual: Embedder | None = None,
    ) -> Catalogue:
        """Open the store and the index in `index_dir` (None: in memory), rebuilding the index if needed.

        `serving=True` (the service) builds the term statistics for explanations now, and again after each
        reload, so no request pays for them; command-line writes leave them to the first match. `progress`
        hears of the embedding a rebuild does (after a crash, a restored database or another model, every
        stored host's texts not in the cache). `multilingual`: the multilingual encoder, when one is enabled
        (an index saved without it, or with another, is rebuilt, as one saved with another model is).
        """
        store.create_all()
        side = Engine.new_multilingual(multilingual, embedder)
        empty = Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint), settings=settings, multilingual=side)
        catalogue = cls(empty, store, index_dir=index_dir, serving=serving)
        catalogue.sync(progress=progress)
        catalogue._warm(catalogue.engine)
        return catalogue

    @classmethod
    def committed_engine(
        cls,
        store: Store,
        embedder: Embedder,
        *,
        index_dir: Path,
        settings: MatchSettings | None = None,
        multilingual: Embedder | None = None,
    ) -> Engine:
        """The engine of the committed hosts, for a process that only reads (the command line's `match`):
        the saved snapshot that names the committed generation (the current one, or the one it replaced),
        without comparing every host with the store; else what `open` makes (which repairs the index)."""
        store.create_all()
        found = _committed_manifest(index_dir, store.generation())
        if found is not None:
            try:
                return Engine.open(index_dir, embedder, settings=settings, manifest=found[0], multilingual=multilingual)
            except IndexMismatch as exc:
                log.warning("index not usable (%s); opening the catalogue to rebuild it", exc)
        return cls.open(store, embedder, index_dir=index_dir, settings=settings, multilingual=multilingual).engine

    # -- keeping in step -------------------------------------------------------------------------------

    def sync(self, *, progress: Progress | None = None) -> UpsertReport | None:
        """Make the index hold exactly the committed hosts: the saved snapshot that names the committed
        generation if it holds exactly the stored hosts, else rebuilt from the store. None when no rebuild
        was needed."""
        with self._exclusive():
            report = self._catch_up(progress=progress, warm=False)  # warmed by `open`, once it is in step
            if report is None and not self._in_step():
                report = self._rebuild(progress=progress)
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
        """Load the snapshot another process published, once the database has committed it. Cheap when
        nothing changed (one stat)."""
        if self.index_dir is None or self._disk_signature() == self._signature:
            return False
        with self._lock:
            return self._load_committed()

    def _load_committed(self, *, warm: bool = True) -> bool:
        """Load the saved snapshot that names the generation the database has committed, if the engine holds
        another: the current snapshot, or else the one it replaced (the current one is then a write's
        between its save and its commit, or one that crashed there). True when it loaded one. `warm=False`
        leaves warming (`_warm`) to the caller: `open` warms after comparing the store's hosts with the
        index, so the memory that comparison leaves behind is freed by the same step (done before it, the
        comparison left a serving process over 10,000 labs 15 MB larger)."""
        if self.index_dir is None:
            return False
        signature = self._disk_signature()
        if signature == self._signature:
            return False
        committed = self.store.generation()
        found = _committed_manifest(self.index_dir, committed)
        if found is None:
            return False
        manifest, current = found
        if current:  # loaded or not, it is not tried again; otherwise look again at the next request
            self._signature = signature
        if committed == self.generation:
            return False
        try:
            engine = Engine.open(
                self.index_dir,
                self.engine.embedder,
                settings=self.engine.settings,
                manifest=manifest,
                multilingual=self.engine.multilingual_embedder,
            )
        except IndexMismatch as exc:  # damaged, or its files already replaced by two newer saves
            log.warning("the committed index snapshot could not be loaded (%s); keeping the one held", exc)
            return False
        if warm:
            self._warm(engine)
        self.engine, self.generation = engine, committed
        return True

    def _rebuild(self, *, progress: Progress | None = None) -> UpsertReport:
        """Rebuild the index from the stored hosts (embeddings from the cache) and save it under the
        committed generation. Called under the write lock."""
        committed, stored = self._committed_hosts()
        log.info(
            "index (%d hosts, generation %s) is not the store's (%d hosts, generation %s); rebuilding",
            len(self.engine.hosts),
            self.generation,
            len(stored),
            committed,
        )
        report = self.engine.apply(self.engine.embed(stored, progress=progress), replace=True)
        self.generation = committed
        self._save(committed)
        return report

    def _catch_up(self, *, progress: Progress | None = None, warm: bool = True) -> UpsertReport | None:
        """Make the engine hold the committed generation, and `manifest.json` name it: the saved snapshot
        that names it (the current one, or the one a crashed write replaced: saved again as the current),
        else rebuilt from the store (its report). Called under the write lock, where no other writer of this
        folder is between its save and its commit."""
        committed = self.store.generation()
        if self.generation != committed:
            self._load_committed(warm=warm)
        if self.generation != committed:
            return self._rebuild(progress=progress)
        if self.index_dir is not None and _current_generation(self.index_dir) != committed:
            log.warning(
                "the index snapshot names a generation the database never committed; saving generation %s again",
                committed,
            )
            self._save(committed)
        return None

    def _committed_hosts(self, attempts: int = 3) -> tuple[Generation, list[HostLab]]:
        """The committed generation and its hosts: read again if a write committed while they were read."""
        for _ in range(attempts):
            committed = self.store.generation()
            stored = list(self.store.iter_hosts())
            if self.store.generation() == committed:
                return committed, stored
        raise IndexMismatch("the hosts kept changing while the index was rebuilt from the store; try again")

    # -- writes ----------------------------------------------------------------------------------------

    def upsert_hosts(self, hosts: Sequence[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Add or replace hosts in the store and the index together; all or nothing."""
        embedded = self._embed(hosts, progress=progress)
        with self._publishing() as session:
            self.store.put_hosts(session, hosts)
            return self.engine.apply(embedded)

    def replace_all(self, hosts: Sequence[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Make the stored and indexed hosts exactly `hosts`; all or nothing."""
        embedded = self._embed(hosts, progress=progress)
        keep = {h.id for h in hosts}
        with self._publishing() as session:
            for host_id in sorted(set(self.store.host_ids(session)) - keep):
                self.store.delete_host(session, host_id)
            self.store.put_hosts(session, hosts)
            return self.engine.apply(embedded, replace=True)

    def delete_host(self, host_id: str) -> None:
        """Remove a host from the store and the index together.

        Raises:
            UnknownHost: no such host.
        """
        with self._publishing() as session:
            if not self.store.delete_host(session, host_id):
                raise UnknownHost(host_id)
            if host_id in self.engine.hosts:
                self.engine.remove_hosts([host_id])

    def _embed(self, hosts: Sequence[HostLab], *, progress: Progress | None) -> EmbeddedHosts:
        """Step 1 of a write: embed what changed, holding no lock."""
        embedded = self.engine.embed(hosts, progress=progress)
        crash_point("embedded")
        return embedded

    @contextmanager
    def _publishing(self) -> Iterator[Session]:
        """Step 2 of a write, around the caller's changes to the rows and the engine: under the write lock,
        from the committed generation, in one transaction: advance the generation, (the caller's changes),
        save the snapshot naming the new generation, commit. On failure the transaction rolls back and the
        index is put back."""
        with self._exclusive():
            self._catch_up()
            assert self.generation is not None  # set by catching up
            before, committed = self.engine.hosts.copy(), self.generation
            try:
                with self.store.session() as session:
                    generation = self.store.advance_generation(session, committed)
                    yield session
                    session.flush()
                    crash_point("rows-written")
                    self._save(generation)
                    crash_point("snapshot-saved")
            except BaseException:
                self._restore(before, committed)
                raise
            self.generation = generation
            crash_point("committed")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Exclusive against other threads and, through a lock file, other processes on the same folder."""
        with self._lock:
            if self.index_dir is None:
                yield
                return
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with (self.index_dir.parent / "write.lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _warm(self, engine: Engine) -> None:
        """What a serving process does after (re)loading, before the engine answers: build what requests
        need (term statistics, conflict keys, host mean vectors), then hand the memory loading freed back to
        the system."""
        if self.serving:
            engine.warm()
            _release_freed_memory()

    # -- internals -------------------------------------------------------------------------------------

    def _save(self, generation: Generation) -> None:
        if self.index_dir is not None:
            self.engine.save(self.index_dir, generation=generation.as_json())
            self._signature = self._disk_signature()

    def _restore(self, hosts: HostRecords, generation: Generation) -> None:
        """Put the index back to `hosts`, the committed `generation`, after a failed write (embeddings come
        from the cache), and save it again if the write had changed it or saved its own snapshot."""
        try:
            changed = self.engine.hosts != hosts
            if changed:
                self.engine.apply(self.engine.embed(list(hosts.values())), replace=True)
            if changed or _current_generation(self.index_dir) not in (None, generation):
                self._save(generation)
        except Exception:  # the original error matters more; the next write or start rebuilds from the store
            log.exception("could not restore the index after a failed write")
            self.generation = None

    def _disk_signature(self) -> tuple[int, int, int] | None:
        if self.index_dir is None:
            return None
        try:
            stat = (self.index_dir / "manifest.json").stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _release_freed_memory() -> None:
    """Hand the memory freed by loading back to the system. Loading an index builds and drops large
    temporaries (the parsed JSON of every host, term sets, sort buffers); glibc keeps much of that freed
    memory mapped for reuse, so a serving process that had loaded 10,000 hosts stayed ~170 MB larger than what
    it holds (`python -m scripts.bench`); `malloc_trim(0)` returns it. Elsewhere than glibc it does nothing."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _committed_manifest(index_dir: Path, committed: Generation) -> tuple[dict[str, Any], bool] | None:
    """The manifest of the snapshot in `index_dir` that names the `committed` generation, and whether it is
    the current one (else the previous one, which a newer snapshot not committed yet, or never, replaced);
    None when neither names it."""
    for previous in (False, True):
        manifest = _manifest(index_dir, previous=previous)
        if manifest is not None and Generation.from_json(manifest.get("generation")) == committed:
            return manifest, not previous
    return None


def _current_generation(index_dir: Path | None) -> Generation | None:
    """The generation `manifest.json` names; None without a readable one."""
    manifest = _manifest(index_dir) if index_dir is not None else None
    return Generation.from_json(manifest.get("generation")) if manifest is not None else None


def _manifest(index_dir: Path, *, previous: bool = False) -> dict[str, Any] | None:
    try:
        return read_manifest(index_dir, previous=previous)
    except (FileNotFoundError, IndexMismatch):
        return None
