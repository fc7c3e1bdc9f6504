"""`HostIndex`: document vectors tagged with host ids, searchable by inner product (cosine on unit vectors).

Each host contributes several unit vectors (its description and each publication); row i of the FAISS
index is described by row i of the metadata (`matcher.index.rows`). Two structures, chosen by size:

- below `ann_threshold` documents, an exact `IndexFlatIP`. Removing hosts compacts the remaining rows in
  order (`remove_ids`) and the metadata the same way, so row numbers stay aligned without a rebuild;
- from `ann_threshold` documents on, an HNSW graph (M=16) over vectors stored as 8-bit codes
  (`IndexHNSWSQ`, QT_8bit: each component one of 256 steps of a range learnt per dimension): a search costs
  well under a millisecond at 200,000 documents where an exact scan costs ~13 ms, more than encoding the
  query, and the vectors take a quarter of float32's memory, which the service's memory target needs.
  The ranges are learnt once, from the documents the graph starts with (at least `ann_threshold` of
  them), widened by `RANGE_MARGIN` at both ends, and kept from then on, so a score never depends on which
  documents came later; a later component outside its range is clipped to it. `python -m
  scripts.bench.storage` (real abstracts; ranges learnt from one half, scores measured on the other) puts
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
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from matcher.errors import UnknownHost
from matcher.index import snapshot
from matcher.index.rows import DocMeta, Rows, Unread
from matcher.text.documents import Document

ANN_THRESHOLD = 20_000  # documents; an exact scan of this many costs ~1.3 ms here, an HNSW build ~0.5 s
HNSW_M = 16  # graph degree
EF_SEARCH = 128  # candidates an HNSW search keeps, raised to k when k is larger (see `search`)
DEAD_FRACTION = 0.2  # rebuild the graph when this share of its rows are tombstones
SIMILARITY_BLOCK = 1024  # rows decoded at a time when scoring (1.5 MB of float32)
RANGE_MARGIN = 0.1  # each dimension's learnt range is widened by this share of it at both ends


class HostIndex:
    """Document vectors tagged with host ids, searchable by inner product."""

    def __init__(self, dim: int, fingerprint: str, *, ann_threshold: int = ANN_THRESHOLD) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.fingerprint = fingerprint
        self.ann_threshold = ann_threshold
        self._faiss: Any = faiss.IndexFlatIP(dim)  # or faiss.IndexHNSWSQ (see the module docstring)
        self._rows = Rows()
        self._rows_by_host: dict[str, np.ndarray] = {}
        self._dead = 0  # tombstone rows (graph mode only)
        self._centroids: _Centroids | None = None  # host mean vectors: built on first use, kept up to date after
        self._excluded: Any = None  # an ID selector that leaves the tombstones out, when there are any
        self._excluded_parts: Any = None  # what that selector points into; SWIG does not keep it alive

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

    # -- vectors ---------------------------------------------------------------------------------------

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these rows as float32, (len(rows), dim): a copy (decoded by FAISS in the
        graph)."""
        vectors: np.ndarray = self._faiss.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        return vectors

    def similarities(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of queries (m, dim) with the stored vectors of these rows: (m, len(rows)).

        `SIMILARITY_BLOCK` rows at a time: a match's ~7,000 candidate documents would otherwise take 11 MB of
        float32 per request, which the allocator keeps once freed. In the graph, the 8-bit codes themselves
        (`_scaled_codes`)."""
        queries = np.asarray(queries, dtype=np.float32)
        rows = np.asarray(rows, dtype=np.int64)
        sims = np.empty((len(queries), len(rows)), dtype=np.float32)
        if self.approximate:
            scaled, offset, stored = _scaled_codes(self._faiss, queries)
        else:
            scaled, offset, stored = queries, np.zeros(len(queries), np.float32), self.gather
        for start in range(0, len(rows), SIMILARITY_BLOCK):
            block = rows[start : start + SIMILARITY_BLOCK]
            np.matmul(scaled, stored(block).T, out=sims[:, start : start + len(block)])
        sims += offset[:, None]
        return sims

    # -- changes ---------------------------------------------------------------------------------------

    def upsert(self, items: Iterable[tuple[Sequence[Document], np.ndarray]]) -> None:
        """Add hosts, replacing any already present: each item is (the host's documents, their vectors).

        All documents of an item belong to one host. Replacing many hosts costs one compaction.

        Raises:
            ValueError: vectors of the wrong shape or dtype, or documents of mixed hosts.
        """
        batch = [(list(docs), self._checked(docs, vectors)) for docs, vectors in items]
        self._remove_rows({docs[0].host_id for docs, _ in batch if docs and docs[0].host_id in self})
        batch = [(docs, vectors) for docs, vectors in batch if docs]
        if batch:
            self._faiss.add(np.concatenate([vectors for _, vectors in batch]))
            self._rows.append([(d.host_id, d.key, d.title, d.language) for docs, _ in batch for d in docs])
        changed = [docs[0].host_id for docs, _ in batch]
        self._changed(changed, removed=())

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
        self._changed([], removed=wanted)

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
            self._rows.host[rows] = -1
            self._dead += len(rows)
            return
        self._faiss.remove_ids(rows)  # the SWIG wrapper takes id arrays
        self._rows = self._rows.take(np.setdiff1d(np.arange(len(self._rows)), rows))

    def _changed(self, changed: list[str], removed: Collection[str]) -> None:
        """After rows were added or removed: the right structure, the rows regrouped by host, and the host
        centroids, when in use, brought up to date for the `changed` and `removed` hosts."""
        self._restructure()
        self._reindex_rows()
        if self._centroids is not None:
            self._centroids = self._centroids.replaced(changed, self._means(changed), removed)

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
        vectors = self.gather(keep)
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
        if self._dead:
            batch = faiss.IDSelectorBatch(np.flatnonzero(self._rows.host < 0))
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
            live = self._rows.live()
            sims = self.similarities(queries, live)
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            fill = rows < 0
            scores[fill], rows[fill] = np.take_along_axis(sims, order, axis=1)[fill], live[order][fill]
        return scores, rows

    def nearest_hosts(self, queries: np.ndarray, k: int) -> set[str]:
        """The k hosts whose mean document vector is most similar to each query, together.

        Document search alone misses hosts whose strength is several good documents rather than one
        excellent one, when many near-identical documents of other hosts fill the top ranks: on the
        benchmark's corpus the top-256 documents held half of the true ten best hosts (by top-3 mean), the
        256 nearest centroids nine in ten. A call over more hosts than it scores exactly takes both sets
        (`matcher.calls.batch`); a match chooses among the nearest centroids by estimated total instead.
        """
        order = self.host_order()
        _, positions = self._nearest_centroids(queries, k)
        return {order[i] for i in positions.ravel().tolist() if i >= 0}

    def host_order(self) -> list[str]:
        """Every host's id, in the order `mean_similarities` numbers them: the same list object until the
        hosts change, so what is built over it can tell when it is out of date."""
        return self._built_centroids().ids

    def mean_similarities(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k hosts whose mean document vector has the largest inner product with `query` (one vector of
        any length: a researcher's texts' vectors weighted and summed give the weighted sum of their
        similarities), as positions in `host_order()`, and those products; best first."""
        sims, positions = self._nearest_centroids(np.reshape(query, (1, -1)), k)
        found = positions[0] >= 0
        return positions[0][found], sims[0][found]

    def _nearest_centroids(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, positions in `host_order()`), each (len(queries), min(k, hosts)), -1 padded."""
        centroids = self._built_centroids()
        k = min(k, len(centroids.ids))
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        sims, positions = centroids.codes.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return sims, positions

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

    # -- persistence (matcher.index.snapshot) ----------------------------------------------------------

    def save(
        self,
        folder: str | Path,
        *,
        payloads: dict[str, bytes] | None = None,
        generation: dict[str, Any] | None = None,
        multilingual: tuple[HostIndex, dict[str, Any]] | None = None,
    ) -> None:
        """Save atomically to `folder` (see `matcher.index.snapshot`), with optional named payloads, the
        generation the manifest names and the multilingual side (its index, row for row the same documents,
        and its calibration), which the manifest names under "multilingual" with its encoder's fingerprint
        (null without one)."""
        side = None
        if multilingual is not None:
            other, calibration = multilingual
            if len(other._rows) != len(self._rows):
                raise ValueError("the multilingual index does not hold the same documents")
            side = (other._saved(), calibration)
        snapshot.save(Path(folder), self._saved(), payloads=payloads or {}, generation=generation, multilingual=side)

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
        saved, payloads = snapshot.load(
            Path(folder), fingerprint=fingerprint, manifest=manifest, multilingual=multilingual
        )
        return cls._of(saved, ann_threshold), payloads

    @classmethod
    def load_multilingual(
        cls, folder: str | Path, manifest: dict[str, Any], *, ann_threshold: int = ANN_THRESHOLD
    ) -> tuple[HostIndex, dict[str, Any]]:
        """The multilingual side a manifest (checked by `load`) names: its index and its calibration."""
        saved, calibration = snapshot.load_multilingual(Path(folder), manifest)
        return cls._of(saved, ann_threshold), calibration

    def _saved(self) -> snapshot.Saved:
        return snapshot.Saved(self.fingerprint, self.dim, self._faiss, self._rows)

    @classmethod
    def _of(cls, saved: snapshot.Saved, ann_threshold: int) -> HostIndex:
        index = cls(saved.dim, saved.fingerprint, ann_threshold=ann_threshold)
        index._faiss, index._rows = saved.vectors, saved.rows
        index._dead = len(saved.rows) - saved.count
        index._restructure()  # a threshold other than the saver's moves the index to the right structure
        index._reindex_rows()
        return index


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

    def replaced(self, changed: list[str], means: np.ndarray, removed: Collection[str]) -> _Centroids:
        """These centroids with `changed` hosts set to `means` and `removed` ones dropped."""
        gone = set(changed).union(removed)
        keep = [i for i, h in enumerate(self.ids) if h not in gone]
        kept = self.codes.reconstruct_n(0, len(self.ids))[keep] if keep else means[:0]
        return _Centroids.of([self.ids[i] for i in keep] + list(changed), np.concatenate([kept, means]), self.codes.d)


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


def _scaled_codes(
    graph: faiss.IndexHNSWSQ, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The graph's inner products as a product with its 8-bit codes themselves, not decoded: FAISS reads code
    c of dimension d as low_d + (c + 1/2) step_d (step = span / 255), so q.x = s.c + q.low + (1/2) sum_d s_d
    with s = q * step. Returns s, (m, dim); the offset q.low + (1/2) sum_d s_d, (m,); and a function giving
    rows' codes as float32 (the same numbers as decoding first, to float32 rounding).

    FAISS's public API gives the vectors only decoded (`reconstruct_batch`, `sa_decode`), so this reads its
    code array in place through `rev_swig_ptr`. What that buys, over 200,000 documents (scripts.bench's
    corpus): 4,800 candidate rows scored in 2.5 ms instead of 8.2 with `reconstruct_batch` (5.2 decoding
    contiguous runs with `reconstruct_n`), a cached match's p50 8.9 ms instead of 13.4: a whole match 9%
    faster.
    """
    store: Any = faiss.downcast_index(graph.storage)
    n = int(graph.ntotal)
    codes = faiss.rev_swig_ptr(store.codes.data(), n * store.code_size).reshape(n, store.code_size)
    low, span = np.split(_ranges(graph).astype(np.float32), 2)
    scaled = queries * (span / 255)
    # as float32: numpy multiplies mixed types without BLAS, five times slower than this copy
    return scaled, queries @ low + 0.5 * scaled.sum(axis=1), lambda rows: codes[rows].astype(np.float32)


def _ranges(graph: faiss.IndexHNSWSQ) -> np.ndarray:
    """What a graph's 8-bit codes learnt: each dimension's lower end, then each one's span."""
    quantiser: Any = faiss.downcast_index(graph.storage).sq  # type: ignore[attr-defined]
    ranges: np.ndarray = faiss.vector_to_array(quantiser.trained)
    return ranges
