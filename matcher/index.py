"""A FAISS multi-vector index of host documents.

Each host contributes several unit vectors (its description and each publication); row i of the FAISS
index is described by row i of the metadata (host id, document key, title, and the language the document
is written in, so an operator can tell how many documents the encoder cannot read: `unread`). Similarity is
inner product, i.e. cosine similarity on unit vectors.

Two structures, chosen by size:

- below `ann_threshold` documents, an exact `IndexFlatIP`. Removing hosts compacts the remaining rows in
  order (`remove_ids`) and the metadata the same way, so row numbers stay aligned without a rebuild;
- from `ann_threshold` documents on, an HNSW graph (M=16) over vectors stored as 8-bit codes
  (`IndexHNSWSQ`, QT_8bit: each component one of 256 steps of a range learnt per dimension): a search costs
  well under a millisecond at 200,000 documents where an exact scan costs ~13 ms, more than encoding the
  query, and the vectors take a quarter of float32's memory, which the service's memory target needs.
  The ranges are learnt once, from the documents the graph starts with (at least `ann_threshold` of
  them), widened by `RANGE_MARGIN` at both ends, and kept from then on, so a score never depends on which
  documents came later; a later component outside its range is clipped to it. `python -m
  scripts.bench_storage` (real abstracts; ranges learnt from one half, scores measured on the other) puts
  the cost at 3.5e-4 of a cosine on average and 1e-2 at most (0.04% of components clipped, with ranges
  learnt from only ~600 texts), 99.5% of each text's ten nearest the same. bfloat16 (QT_bf16) was the
  code before: 7e-5 on average, 5e-4 at most, 99.8% the same, at twice the memory; IEEE half precision
  is eight times closer still but FAISS decodes it ~12 times slower. A graph cannot drop nodes, so removed
  rows become tombstones, left out of every search by an ID selector, and the graph is rebuilt from the
  live rows, with its ranges, once a fifth of its rows are dead (re-encoding a decoded vector gives back
  the same code).

Either way the vectors sit contiguously in one store, so the engine scores every document of its candidate
hosts (`similarities`), not only those a search returned: which hosts become candidates is approximate
above the threshold, their scores are those of the stored vectors.

On disk an index is a folder:

    manifest.json              format, model fingerprint, dim, count, the generation of the database state
                               the snapshot holds (`matcher.generation`; opaque here), each data file
                               with its SHA-256, and the multilingual side or null: its encoder's
                               fingerprint, its calibration and its files (`matcher.multilingual`)
    manifest.previous.json     the manifest `manifest.json` replaced, its files still on disk
    vectors-<sha>.faiss        the FAISS index
    multilingual_vectors-<sha>.faiss   the same documents' multilingual vectors, when there is that side
    docs-<sha>.json            row metadata: {"languages": [code, ...], "rows": [[host id, key, title, language
                               number], ...]}
    <name>-<sha>.json          optional payloads saved with the index (e.g. the host records)

`save` writes the data files under new, content-addressed names, copies `manifest.json` to
`manifest.previous.json`, and then replaces `manifest.json` with `os.replace`, which is atomic: a reader
sees the old snapshot or the new one, never half of each, and a crash mid-save leaves the previous snapshot
intact. The snapshot it replaced stays whole on disk until the next save: a reader may still be loading it,
or choose it over the new one (`load(manifest=read_manifest(folder, previous=True))`); files neither
manifest names are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from matcher.crashpoints import crash_point
from matcher.documents import Document
from matcher.errors import IndexMismatch, UnknownHost
from matcher.languages import reads

FORMAT_VERSION = 6  # 2: graph above ann_threshold, rows without text hashes; 3: bfloat16; 4: 8-bit codes; 5: languages;
# 6: a row's language is a number into the table of languages
ANN_THRESHOLD = 20_000  # documents; an exact scan of this many costs ~1.3 ms here, an HNSW build ~0.5 s
HNSW_M = 16  # graph degree
EF_SEARCH = 128  # candidates an HNSW search keeps, raised to k when k is larger (see `search`)
DEAD_FRACTION = 0.2  # rebuild the graph when this share of its rows are tombstones
SIMILARITY_BLOCK = 1024  # rows decoded at a time when scoring (1.5 MB of float32)
RANGE_MARGIN = 0.1  # each dimension's learnt range is widened by this share of it at both ends
_DEAD = ""  # host id of a tombstone row in the metadata


@dataclass(frozen=True, slots=True)
class DocMeta:
    host_id: str
    key: str
    title: str
    language: str  # ISO 639-1 (matcher.languages)


@dataclass(frozen=True, slots=True)
class Unread:
    """Live documents in languages an encoder does not read, and the hosts that have any."""

    hosts: int
    documents: dict[str, int]  # language -> documents


Row = tuple[str, str, str, str]  # host id, key, title, language


class _Rows:
    """Row metadata in columns: per row a host number, a key number and a language number (into small tables
    of the distinct ids, keys and languages) and a title, the titles held as one UTF-8 buffer with end
    offsets: 17 bytes per row plus its title's bytes. A `DocMeta` object per row cost several small Python
    objects per row, allocated among the temporary ones of loading, which left the interpreter's memory
    fragmented once those were freed."""

    def __init__(self) -> None:
        self.names: list[str] = []  # host ids by number; a number is never reused while the table lives
        self._number: dict[str, int] = {}
        self.keys: list[str] = []
        self._key_number: dict[str, int] = {}
        self.host = np.zeros(0, dtype=np.int32)  # per row: number of its host, -1 for a tombstone
        self.key = np.zeros(0, dtype=np.int32)
        self.languages: list[str] = []  # language codes by number (a few dozen at most: one byte per row)
        self._language_number: dict[str, int] = {}
        self.language = np.zeros(0, dtype=np.uint8)
        self._titles = b""
        self._ends = np.zeros(0, dtype=np.int64)  # per row: end of its title in `_titles`

    def __len__(self) -> int:
        return len(self.host)

    def append(self, rows: Sequence[Row]) -> None:
        """Add rows (host id, key, title, language); the host id `_DEAD` makes a tombstone."""
        if not rows:
            return
        n = len(rows)
        hosts = (-1 if h == _DEAD else _number(self._number, self.names, h) for h, _, _, _ in rows)
        host = np.fromiter(hosts, np.int32, n)
        key = np.fromiter((_number(self._key_number, self.keys, k) for _, k, _, _ in rows), np.int32, n)
        tongues = (_number(self._language_number, self.languages, lang) for _, _, _, lang in rows)
        language = np.fromiter(tongues, np.uint8, n)
        encoded = [t.encode() for _, _, t, _ in rows]
        ends = np.cumsum(np.fromiter(map(len, encoded), np.int64, n)) + len(self._titles)
        self.host = np.concatenate([self.host, host])
        self.key = np.concatenate([self.key, key])
        self.language = np.concatenate([self.language, language])
        self._titles += b"".join(encoded)
        self._ends = np.concatenate([self._ends, ends])

    def title(self, row: int) -> str:
        start = int(self._ends[row - 1]) if row else 0
        return self._titles[start : int(self._ends[row])].decode()

    def meta(self, row: int) -> DocMeta:
        host = int(self.host[row])
        return DocMeta(
            self.names[host] if host >= 0 else _DEAD,
            self.keys[int(self.key[row])],
            self.title(row),
            self.languages[int(self.language[row])],
        )

    def rows(self, rows: Iterable[int]) -> list[Row]:
        return [(m.host_id, m.key, m.title, m.language) for m in map(self.meta, rows)]

    def json(self) -> bytes:
        """Every row as saved: {"languages": [code, ...], "rows": [[host id, key, title, language number],
        ...]}. A language is a number into the table, not its code again: parsing a code per row made 200,000
        strings at load, whose memory a service over 10,000 labs kept (13 MB) once they were freed."""
        numbers = self.language.tolist()
        rows = [[m.host_id, m.key, m.title, numbers[row]] for row, m in enumerate(map(self.meta, range(len(self))))]
        return json.dumps({"languages": self.languages, "rows": rows}, ensure_ascii=False).encode()

    @staticmethod
    def parse(data: bytes) -> list[Any]:
        """The rows of `json()`, each [host id, key, title, language code] (the codes shared, not copied)."""
        saved = json.loads(data)
        table, rows = saved["languages"], saved["rows"]
        for row in rows:
            row[3] = table[row[3]]
        return rows  # type: ignore[no-any-return]

    def kill(self, rows: np.ndarray) -> None:
        self.host[rows] = -1

    def live(self) -> np.ndarray:
        """Rows that are not tombstones, ascending."""
        return np.flatnonzero(self.host >= 0)

    def dead(self) -> np.ndarray:
        return np.flatnonzero(self.host < 0)

    def take(self, rows: np.ndarray) -> _Rows:
        """A table of these rows only, in this order, with fresh host and key tables."""
        taken = _Rows()
        taken.append(self.rows(rows.tolist()))
        return taken

    def read_by(self, read: Collection[str]) -> np.ndarray:
        """Per row, whether an encoder reading `read` reads its document's language."""
        known = np.fromiter((reads(lang, read) for lang in self.languages), dtype=bool, count=len(self.languages))
        return known[self.language] if len(known) else np.zeros(len(self.language), dtype=bool)

    def unread(self, read: Collection[str]) -> Unread:
        """Live rows in languages outside `read` (undetermined ones pass), counted, and their hosts."""
        unread = [i for i, lang in enumerate(self.languages) if not reads(lang, read)]
        mask = np.isin(self.language, unread) & (self.host >= 0)
        counts = np.bincount(self.language[mask], minlength=len(self.languages))
        documents = {self.languages[i]: int(counts[i]) for i in unread if counts[i]}
        return Unread(hosts=len(np.unique(self.host[mask])), documents=documents)

    def host_ids(self, rows: np.ndarray) -> set[str]:
        return {self.names[h] for h in np.unique(self.host[rows]).tolist() if h >= 0}

    def rows_by_host(self) -> dict[str, np.ndarray]:
        """Each live host's rows, ascending."""
        if not len(self.host):
            return {}
        order = np.argsort(self.host, kind="stable")
        codes = self.host[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        runs = np.split(order.astype(np.int64), starts[1:])
        return {self.names[int(codes[s])]: run for s, run in zip(starts.tolist(), runs, strict=True) if codes[s] >= 0}


@dataclass(frozen=True)
class _Centroids:
    """Host mean vectors in a FAISS flat index of bfloat16 codes, searched by inner product: half the memory
    of float32 for a candidate set that is approximate anyway. Replaced whole on a change: the untouched rows
    are decoded and encoded again, which gives back the same bits."""

    ids: list[str]
    codes: Any  # faiss.IndexScalarQuantizer

    @classmethod
    def of(cls, ids: list[str], vectors: np.ndarray, dim: int) -> _Centroids:
        bf16: Any = faiss.ScalarQuantizer.QT_bf16  # an enum value; the type stubs ask for a ScalarQuantizer
        codes = faiss.IndexScalarQuantizer(dim, bf16, faiss.METRIC_INNER_PRODUCT)
        if len(ids):
            codes.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(ids, codes)

    def vectors(self) -> np.ndarray:
        decoded: np.ndarray = self.codes.reconstruct_n(0, len(self.ids)) if self.ids else np.zeros((0, self.codes.d))
        return decoded.astype(np.float32, copy=False)

    def replaced(self, changed: list[str], means: np.ndarray, removed: Iterable[str] = ()) -> _Centroids:
        """These centroids with `changed` hosts set to `means` and `removed` ones dropped."""
        gone = set(changed).union(removed)
        keep = [i for i, h in enumerate(self.ids) if h not in gone]
        vectors = np.concatenate([self.vectors()[keep], means])
        return _Centroids.of([self.ids[i] for i in keep] + list(changed), vectors, self.codes.d)


class HostIndex:
    """Document vectors tagged with host ids, searchable by inner product."""

    def __init__(self, dim: int, fingerprint: str, *, ann_threshold: int = ANN_THRESHOLD) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.fingerprint = fingerprint
        self.ann_threshold = ann_threshold
        self._faiss: Any = faiss.IndexFlatIP(dim)  # or faiss.IndexHNSWSQ (see the module docstring)
        self._rows = _Rows()
        self._rows_by_host: dict[str, np.ndarray] = {}
        self._dead = 0  # tombstone rows (graph mode only)
        self._centroids: _Centroids | None = None  # host mean vectors: built on first use, kept up to date after
        self._excluded: Any = None  # an ID selector that leaves the tombstones out, when there are any
        self._excluded_parts: Any = None  # what that selector points into; SWIG does not keep it alive
        self._scoring: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see _scoring_terms

    # -- size and lookup -------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of documents (live vectors)."""
        return int(self._faiss.ntotal) - self._dead

    def __contains__(self, host_id: object) -> bool:
        return host_id in self._rows_by_host

    @property
    def approximate(self) -> bool:
        """True when searches go through the HNSW graph (the index holds at least `ann_threshold` documents)."""
        return isinstance(self._faiss, faiss.IndexHNSW)

    @property
    def tombstones(self) -> int:
        """Rows of removed documents the graph still holds (always 0 for the flat index)."""
        return self._dead

    @property
    def host_ids(self) -> list[str]:
        return sorted(self._rows_by_host)

    def meta(self, row: int) -> DocMeta:
        return self._rows.meta(row)

    def unread(self, read: Collection[str]) -> Unread:
        """How many live documents are in languages an encoder reading `read` does not read, by language,
        and how many hosts have any."""
        return self._rows.unread(read)

    def read_by(self, rows: np.ndarray, read: Collection[str]) -> np.ndarray:
        """(len(rows),) bool: whether an encoder reading `read` reads each of these rows' documents (one in
        an undetermined language always passes)."""
        return self._rows.read_by(read)[np.asarray(rows, dtype=np.int64)]

    def languages_of(self, rows: np.ndarray) -> list[str]:
        """The language of each of these rows' documents."""
        table = self._rows.languages
        return [table[i] for i in self._rows.language[np.asarray(rows, dtype=np.int64)].tolist()]

    def rows_not_read(self, read: Collection[str]) -> np.ndarray:
        """The live rows whose documents are in a language an encoder reading `read` does not read,
        ascending."""
        return np.flatnonzero(~self._rows.read_by(read) & (self._rows.host >= 0))

    def host_rows(self, host_id: str) -> np.ndarray:
        """Rows of one host's documents, ascending."""
        try:
            return self._rows_by_host[host_id]
        except KeyError:
            raise UnknownHost(host_id) from None

    def hosts_of_rows(self, rows: np.ndarray) -> set[str]:
        """The hosts these rows belong to (tombstones belong to none)."""
        return self._rows.host_ids(np.asarray(rows, dtype=np.int64))

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these rows as float32, (len(rows), dim): a copy (decoded by FAISS in the
        graph)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = int(self._faiss.ntotal)
        if n == 0:
            empty: np.ndarray = np.zeros((0, self.dim), np.float32)[rows]  # raises IndexError for any row
            return empty
        if not self.approximate:
            flat: np.ndarray = faiss.rev_swig_ptr(self._faiss.get_xb(), n * self.dim).reshape(n, self.dim)[rows]
            return flat
        store: Any = faiss.downcast_index(self._faiss.storage)
        decoded: np.ndarray = store.sa_decode(np.ascontiguousarray(self._codes()[rows]))
        return decoded

    def _codes(self) -> np.ndarray:
        """The graph's 8-bit codes, (rows, dim) uint8: a view of FAISS's own array, no copy."""
        store: Any = faiss.downcast_index(self._faiss.storage)
        n = int(self._faiss.ntotal)
        codes: np.ndarray = faiss.rev_swig_ptr(store.codes.data(), n * store.code_size).reshape(n, store.code_size)
        return codes

    def _scoring_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The graph's codes, each dimension's lower end and its step (span / 255): what `similarities`
        reads, looked up from FAISS once per state of the graph rather than on every request. Forgotten by
        `_reindex_rows`, which every change ends in."""
        if self._scoring is None:
            low, span = np.split(_ranges(self._faiss).astype(np.float32), 2)
            self._scoring = (self._codes(), low, span / 255)
        return self._scoring

    def similarities(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of queries (m, dim) with the stored vectors of these rows: (m, len(rows)).

        `SIMILARITY_BLOCK` rows at a time: a match's ~7,000 candidate documents would otherwise take 11 MB of
        float32 per request, which the allocator keeps once freed. In the graph no vector is decoded: FAISS
        reads code c of dimension d as low_d + (c + 1/2) span_d / 255, so q.x = q.low + (1/2) sum_d s_d + s.c
        with s = q * span / 255, one product of the scaled queries with the codes themselves (the same
        numbers as decoding first, to float32 rounding)."""
        queries = np.asarray(queries, dtype=np.float32)
        rows = np.asarray(rows, dtype=np.int64)
        sims = np.empty((len(queries), len(rows)), dtype=np.float32)
        if self.approximate:
            codes, low, step = self._scoring_terms()
            scaled = queries * step
            for start in range(0, len(rows), SIMILARITY_BLOCK):
                block = rows[start : start + SIMILARITY_BLOCK]
                # as float32: numpy multiplies mixed types without BLAS, five times slower than this copy
                np.matmul(scaled, codes[block].astype(np.float32).T, out=sims[:, start : start + len(block)])
            sims += (queries @ low + 0.5 * scaled.sum(axis=1))[:, None]
            return sims
        for start in range(0, len(rows), SIMILARITY_BLOCK):
            block = rows[start : start + SIMILARITY_BLOCK]
            np.matmul(queries, self.gather(block).T, out=sims[:, start : start + len(block)])
        return sims

    # -- changes ---------------------------------------------------------------------------------------

    def upsert(self, items: Iterable[tuple[Sequence[Document], np.ndarray]]) -> None:
        """Add hosts, replacing any already present: each item is (the host's documents, their vectors).

        All documents of an item belong to one host. Replacing many hosts costs one compaction.

        Raises:
            ValueError: vectors of the wrong shape or dtype, or documents of mixed hosts.
        """
        batch = [(list(docs), self._checked(docs, vectors)) for docs, vectors in items]
        replaced = {docs[0].host_id for docs, _ in batch if docs and docs[0].host_id in self}
        self._remove_rows(replaced)
        batch = [(docs, vectors) for docs, vectors in batch if docs]
        if batch:
            self._faiss.add(np.concatenate([vectors for _, vectors in batch]))
            self._rows.append([(d.host_id, d.key, d.title, d.language) for docs, _ in batch for d in docs])
        self._restructure()
        self._reindex_rows()
        if self._centroids is not None:  # in use: bring the changed hosts' mean vectors up to date now
            changed = [docs[0].host_id for docs, _ in batch]
            self._centroids = self._centroids.replaced(changed, self._means(changed))

    def remove(self, host_ids: Iterable[str]) -> None:
        """Remove hosts and all their documents.

        Raises:
            UnknownHost: one of the hosts is not in the index (nothing is removed then).
        """
        wanted = set(host_ids)
        for host_id in sorted(wanted):
            if host_id not in self:
                raise UnknownHost(host_id)
        self._remove_rows(wanted)
        self._restructure()
        self._reindex_rows()
        if self._centroids is not None:
            self._centroids = self._centroids.replaced([], np.zeros((0, self.dim), np.float32), removed=wanted)

    def _checked(self, docs: Sequence[Document], vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors)
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape != (len(docs), self.dim):
            raise ValueError(
                f"expected float32 vectors of shape ({len(docs)}, {self.dim}), got {vectors.dtype} {vectors.shape}"
            )
        if len({d.host_id for d in docs}) > 1:
            raise ValueError("all documents of one upsert item must belong to the same host")
        return np.ascontiguousarray(vectors)

    def _remove_rows(self, host_ids: set[str]) -> None:
        if not host_ids:
            return
        rows = np.concatenate([self._rows_by_host[h] for h in host_ids]).astype(np.int64)
        if self.approximate:  # a graph keeps its nodes: mark the rows dead
            self._rows.kill(rows)
            self._dead += len(rows)
            return
        self._faiss.remove_ids(rows)  # the SWIG wrapper takes id arrays
        self._rows = self._rows.take(np.setdiff1d(np.arange(len(self._rows)), rows))

    def _restructure(self) -> None:
        """Move to the graph at `ann_threshold` documents, back to the flat index well below it, and rebuild
        the graph without its tombstones once they are `DEAD_FRACTION` of its rows."""
        live = len(self)
        if self.approximate:
            if live < self.ann_threshold // 2 or self._dead > DEAD_FRACTION * self._faiss.ntotal:
                self._rebuild(graph=live >= self.ann_threshold // 2)
        elif live >= self.ann_threshold:
            self._rebuild(graph=True)

    def _rebuild(self, *, graph: bool) -> None:
        keep = self._rows.live()
        vectors = self.gather(keep) if len(keep) else np.zeros((0, self.dim), np.float32)
        if graph:  # a graph rebuilt keeps its ranges, so its codes come back unchanged; a new one learns them
            ranges = _ranges(self._faiss) if self.approximate else None
            self._faiss = _graph(self.dim, vectors if ranges is None else None, ranges)
        else:
            self._faiss = faiss.IndexFlatIP(self.dim)
        self._faiss.add(vectors)
        self._rows = self._rows.take(keep)
        self._dead = 0

    def _reindex_rows(self) -> None:
        self._rows_by_host = self._rows.rows_by_host()
        assert len(self._rows) == self._faiss.ntotal, "metadata and FAISS rows out of step"
        self._excluded = self._excluded_parts = None
        self._scoring = None  # the codes may have moved, the graph been replaced
        if self._dead:
            batch = faiss.IDSelectorBatch(self._rows.dead())
            self._excluded = faiss.IDSelectorNot(batch)
            self._excluded_parts = batch

    # -- search ----------------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k most similar documents for each query.

        Args:
            queries: (m, dim) float32, unit rows.
            k: documents per query; more than the index holds is fine.

        Returns:
            (scores, rows), each (m, min(k, len)); best first. Exact below `ann_threshold` documents, from
            the HNSW graph above it (see the module docstring). No -1 padding: k is capped at the number of
            documents, and a graph search that comes back short is filled from an exact scan.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (m, {self.dim}), got {queries.shape}")
        k = min(k, len(self))
        if k <= 0 or queries.shape[0] == 0:
            return np.zeros((queries.shape[0], 0), np.float32), np.zeros((queries.shape[0], 0), np.int64)
        if not self.approximate:
            scores, rows = self._faiss.search(queries, k)
            return scores, rows
        params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, k), sel=self._excluded)  # type: ignore[attr-defined]
        scores, rows = self._faiss.search(queries, k, params=params)
        if (rows < 0).any():  # the graph found fewer than k live rows: pad with the best exact ones
            exact_scores, exact_rows = self._exact_search(queries, k)
            fill = rows < 0
            scores[fill], rows[fill] = exact_scores[fill], exact_rows[fill]
        return scores, rows

    def nearest_hosts(self, queries: np.ndarray, k: int) -> set[str]:
        """The k hosts whose mean document vector is most similar to each query, together.

        Document search alone misses hosts whose strength is several good documents rather than one
        excellent one, when many near-identical documents of other hosts fill the top ranks: on the
        benchmark's corpus the top-256 documents held half of the true ten best hosts (by top-3 mean), the
        256 nearest centroids nine in ten. The engine takes both candidate sets.
        """
        centroids = self._built_centroids()
        if not centroids.ids or k <= 0:
            return set()
        _, best = centroids.codes.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(centroids.ids)))
        return {centroids.ids[i] for i in best.ravel().tolist() if i >= 0}

    def host_order(self) -> list[str]:
        """Every host's id, in the order `mean_similarities` numbers them: the same list object until the
        hosts change, so what is built over it can tell when it is out of date."""
        return self._built_centroids().ids

    def mean_similarities(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k hosts whose mean document vector has the largest inner product with `query` (one vector of
        any length: a researcher's texts' vectors weighted and summed give the weighted sum of their
        similarities), as positions in `host_order()`, and those products; best first."""
        centroids = self._built_centroids()
        if not centroids.ids or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = np.ascontiguousarray(np.reshape(query, (1, -1)), dtype=np.float32)
        sims, positions = centroids.codes.search(vector, min(k, len(centroids.ids)))
        found = positions[0] >= 0
        return positions[0][found], sims[0][found]

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Host ids and their documents' mean vectors, normalised, as held (bfloat16): (ids, (hosts, dim)
        float32)."""
        centroids = self._built_centroids()
        return list(centroids.ids), centroids.vectors()

    def _built_centroids(self) -> _Centroids:
        if self._centroids is None:
            ids = list(self._rows_by_host)
            self._centroids = _Centroids.of(ids, self._means(ids), self.dim)
        return self._centroids

    def _means(self, host_ids: list[str]) -> np.ndarray:
        """Normalised mean vectors of these hosts' documents, ~1,000 hosts' vectors in memory at a time."""
        means = np.zeros((len(host_ids), self.dim), dtype=np.float32)
        for start in range(0, len(host_ids), 1000):
            chunk = [self._rows_by_host[h] for h in host_ids[start : start + 1000]]
            vectors = self.gather(np.concatenate(chunk))
            offsets = np.cumsum([0] + [len(rows) for rows in chunk[:-1]])
            sums = np.add.reduceat(vectors, offsets, axis=0)
            means[start : start + len(chunk)] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return means

    def _exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        live = self._rows.live()
        sims = self.similarities(queries, live)
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, order, axis=1), live[order]

    # -- persistence -----------------------------------------------------------------------------------

    def save(
        self,
        folder: str | Path,
        *,
        payloads: dict[str, bytes] | None = None,
        generation: dict[str, Any] | None = None,
        multilingual: tuple[HostIndex, dict[str, Any]] | None = None,
    ) -> None:
        """Save atomically to `folder` (see the module docstring), with optional named payloads, the
        generation the manifest names and the multilingual side (its index, row for row the same documents,
        and its calibration), which the manifest names under "multilingual" with its encoder's fingerprint
        (null without one)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = self._write_data(folder, "vectors")
        for name, content in (payloads or {}).items():
            if name in files or name == "multilingual_vectors" or not name.isidentifier():
                raise ValueError(f"payload name {name!r} is reserved or not an identifier")
            files[name] = _write_content(folder, name, content)
        side = None
        if multilingual is not None:
            other, calibration = multilingual
            if len(other._rows) != len(self._rows):
                raise ValueError("the multilingual index does not hold the same documents")
            side = {
                "fingerprint": other.fingerprint,
                "dim": other.dim,
                "count": len(other),
                "calibration": calibration,
                "files": other._write_data(folder, "multilingual_vectors"),
            }
        manifest = {
            "format": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "dim": self.dim,
            "count": len(self),
            "hosts": len(self._rows_by_host),
            "generation": generation,
            "files": files,
            "multilingual": side,
        }
        crash_point("snapshot-files-written")
        _keep_as_previous(folder)
        _atomic_write(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
        keep = _named_files(folder) | _named_files(folder, previous=True) | {"manifest.json", "manifest.previous.json"}
        for stale in folder.iterdir():
            if stale.name not in keep and not stale.name.startswith(".tmp-"):
                stale.unlink(missing_ok=True)

    def _write_data(self, folder: Path, stem: str) -> dict[str, dict[str, str]]:
        """Write the FAISS index (as `stem`-<sha>.faiss) and the row metadata (docs-<sha>.json, shared by
        indexes of the same documents); their manifest entries."""
        files: dict[str, dict[str, str]] = {}
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", suffix=".faiss", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            faiss.write_index(self._faiss, str(tmp_path))
            files["vectors"] = _publish(tmp_path, folder, stem, ".faiss")
        finally:
            tmp_path.unlink(missing_ok=True)
        files["docs"] = _write_content(folder, "docs", self._rows.json())
        return files

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        fingerprint: str,
        ann_threshold: int = ANN_THRESHOLD,
        manifest: dict[str, Any] | None = None,
        multilingual: str | None = None,
    ) -> tuple[HostIndex, dict[str, bytes]]:
        """Load an index saved by `save`, and its payloads: the snapshot `manifest` describes (as
        `read_manifest` gave it), else the one `manifest.json` names now.

        Args:
            multilingual: the fingerprint of the multilingual encoder configured, None when none is: the
                snapshot must have been saved with the same (`load_multilingual` then loads its side).

        Raises:
            FileNotFoundError: there is no index in `folder`.
            IndexMismatch: the index was built by another model, with another multilingual encoder or
                without one (or with one when none is configured), or a file is missing or damaged.
        """
        folder = Path(folder)
        if manifest is None:
            manifest = read_manifest(folder)
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{folder}: index format {manifest.get('format')!r}, expected {FORMAT_VERSION}; rebuild it "
                "(hostmatch index build)"
            )
        if manifest["fingerprint"] != fingerprint:
            raise IndexMismatch(
                f"{folder} was built with model {manifest['fingerprint']}, but the configured model is "
                f"{fingerprint}; rebuild it (hostmatch index build) or configure the same model"
            )
        _check_multilingual(folder, (manifest.get("multilingual") or {}).get("fingerprint"), multilingual)
        entries = dict(manifest["files"])
        vectors = entries.pop("vectors")
        contents = {name: _checked_path(folder, entry).read_bytes() for name, entry in entries.items()}
        index = cls._from_files(folder, vectors, contents.pop("docs"), manifest, fingerprint, ann_threshold)
        return index, contents

    @classmethod
    def load_multilingual(
        cls, folder: str | Path, manifest: dict[str, Any], *, ann_threshold: int = ANN_THRESHOLD
    ) -> tuple[HostIndex, dict[str, Any]]:
        """The multilingual side a manifest (checked by `load`) names: its index and its calibration."""
        folder = Path(folder)
        side = manifest["multilingual"]
        docs = _checked_path(folder, side["files"]["docs"]).read_bytes()
        index = cls._from_files(folder, side["files"]["vectors"], docs, side, side["fingerprint"], ann_threshold)
        return index, dict(side["calibration"])

    @classmethod
    def _from_files(
        cls,
        folder: Path,
        vectors: dict[str, str],
        docs_json: bytes,
        described: dict[str, Any],
        fingerprint: str,
        ann_threshold: int,
    ) -> HostIndex:
        """The index of a vectors file and its rows' JSON. The vectors are read before the rows are parsed:
        parsed first, the rows' temporary lists lay among the index's allocations, and a service over 10,000
        labs kept 15 MB more once they were freed."""
        vectors_path = _checked_path(folder, vectors)
        index = cls(int(described["dim"]), fingerprint, ann_threshold=ann_threshold)
        faiss_index = faiss.read_index(str(vectors_path))  # already the concrete class; no downcast needed
        if not isinstance(faiss_index, faiss.IndexFlatIP | faiss.IndexHNSWSQ):
            raise IndexMismatch(f"{folder}: expected a flat or HNSW index, got {type(faiss_index).__name__}")
        if faiss_index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise IndexMismatch(f"{folder}: the index does not measure inner product")
        docs = _Rows.parse(docs_json)
        dead = sum(1 for row in docs if row[0] == _DEAD)
        if faiss_index.d != index.dim or faiss_index.ntotal != len(docs) or len(docs) - dead != described["count"]:
            raise IndexMismatch(f"{folder}: vectors, metadata and manifest disagree on size")
        index._faiss = faiss_index
        index._rows.append(docs)
        index._dead = dead
        index._restructure()  # a threshold other than the saver's moves the index to the right structure
        index._reindex_rows()
        return index


def _check_multilingual(folder: Path, saved: str | None, configured: str | None) -> None:
    """Refuse a snapshot whose multilingual side is not the configured one: never mix spaces silently."""
    if saved == configured:
        return
    rebuild = "rebuild it (hostmatch index build)"
    if saved is None:
        raise IndexMismatch(
            f"{folder} was built without the multilingual encoder, but it is enabled ({configured}); {rebuild} "
            "so every document is embedded by it too, or disable it (unset HOSTMATCH_MULTILINGUAL)"
        )
    if configured is None:
        raise IndexMismatch(
            f"{folder} was built with the multilingual encoder {saved}, but it is not enabled; {rebuild}, or "
            "enable the same one (HOSTMATCH_MULTILINGUAL or --multilingual)"
        )
    raise IndexMismatch(
        f"{folder} was built with the multilingual encoder {saved}, but the configured one is {configured}; "
        f"{rebuild} or configure the same one"
    )


def _number(numbers: dict[str, int], table: list[str], value: str) -> int:
    """The number of `value` in `table`, appending it the first time."""
    number = numbers.get(value)
    if number is None:
        number = numbers[value] = len(table)
        table.append(value)
    return number


def _graph(dim: int, sample: np.ndarray | None, ranges: np.ndarray | None = None) -> faiss.IndexHNSWSQ:
    """An empty graph over 8-bit codes whose ranges are given, or else learnt from `sample`."""
    eight_bit: Any = faiss.ScalarQuantizer.QT_8bit  # an enum value; the type stubs ask for a ScalarQuantizer
    graph = faiss.IndexHNSWSQ(dim, eight_bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = 40
    quantiser: Any = faiss.downcast_index(graph.storage).sq  # type: ignore[attr-defined]
    if ranges is not None:
        faiss.copy_array_to_vector(ranges, quantiser.trained)
        graph.is_trained = graph.storage.is_trained = True
    elif sample is not None:
        quantiser.rangestat = faiss.ScalarQuantizer.RS_minmax
        quantiser.rangestat_arg = RANGE_MARGIN
        graph.train(sample)
    else:
        raise ValueError("a graph needs its ranges or vectors to learn them from")
    return graph


def _ranges(graph: faiss.IndexHNSWSQ) -> np.ndarray:
    """What a graph's 8-bit codes learnt: each dimension's lower end, then each one's span."""
    quantiser: Any = faiss.downcast_index(graph.storage).sq  # type: ignore[attr-defined]
    ranges: np.ndarray = faiss.vector_to_array(quantiser.trained)
    return ranges


def read_manifest(folder: Path, *, previous: bool = False) -> dict[str, Any]:
    """The manifest of the snapshot in `folder` (`previous`: of the one it replaced).

    Raises:
        FileNotFoundError: there is no such manifest.
        IndexMismatch: the manifest is damaged.
    """
    path = folder / ("manifest.previous.json" if previous else "manifest.json")
    if not path.is_file():
        raise FileNotFoundError(f"no index in {folder} (no {path.name})")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexMismatch(f"{path} is damaged: {exc.msg}") from exc
    return manifest


def _keep_as_previous(folder: Path) -> None:
    """Copy `manifest.json`, when there is one, to `manifest.previous.json`."""
    try:
        content = (folder / "manifest.json").read_bytes()
    except FileNotFoundError:
        return
    _atomic_write(folder / "manifest.previous.json", content)


def _named_files(folder: Path, *, previous: bool = False) -> set[str]:
    """The data files a manifest in `folder` names, its multilingual side's too (none when it is missing or
    damaged)."""
    try:
        manifest = read_manifest(folder, previous=previous)
        side = (manifest.get("multilingual") or {}).get("files") or {}
        entries = list(manifest["files"].values()) + list(side.values())
        return {entry["name"] for entry in entries}
    except (FileNotFoundError, IndexMismatch, KeyError, TypeError, AttributeError):
        return set()


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _publish(tmp_path: Path, folder: Path, stem: str, suffix: str) -> dict[str, str]:
    """fsync a finished temporary file and move it to its content-addressed name."""
    with tmp_path.open("rb") as handle:
        os.fsync(handle.fileno())
    sha = _file_sha(tmp_path)
    name = f"{stem}-{sha[:16]}{suffix}"
    os.replace(tmp_path, folder / name)
    return {"name": name, "sha256": sha}


def _write_content(folder: Path, stem: str, content: bytes) -> dict[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    name = f"{stem}-{sha[:16]}.json"
    if not (folder / name).is_file():
        _atomic_write(folder / name, content)
    return {"name": name, "sha256": sha}


def _atomic_write(path: Path, content: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _checked_path(folder: Path, entry: dict[str, str]) -> Path:
    """The path of a data file named by the manifest, after checking it is there and intact."""
    path = folder / entry["name"]
    if not path.is_file():
        raise IndexMismatch(f"{folder}: {entry['name']} named by the manifest is missing")
    if _file_sha(path) != entry["sha256"]:
        raise IndexMismatch(f"{folder}: {entry['name']} does not match its checksum; the file is damaged")
    return path
