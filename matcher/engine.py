"""The engine: the one place where the embedder, the index and the host records meet.

    researcher -> query texts -> embed (cached) -> FAISS top documents per text -> candidate hosts
      -> exact similarity to every document of each candidate -> aggregate per host -> weight the texts
      -> order -> evidence

Everything heavy is injected: any `Embedder`, a `HostIndex`, and the host records. Scoring and ordering are
the pure functions of `matcher.similarity` and `matcher.ranking`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.documents import Document, host_documents, researcher_texts
from matcher.embedding import Embedder
from matcher.errors import UnknownHost
from matcher.index import HostIndex
from matcher.ranking import best_pairs, order
from matcher.similarity import DEFAULT_AGGREGATION, DEFAULT_TOP_K, Aggregation, aggregate, pad_segments
from models.profiles import HostLab, ResearcherProfile
from models.results import Evidence, Match, MatchResult


@dataclass(frozen=True)
class MatchSettings:
    aggregation: Aggregation = DEFAULT_AGGREGATION
    top_k_docs: int = DEFAULT_TOP_K
    pool: int = 256  # documents FAISS returns per query text; their hosts are scored exactly
    evidence: int = 3  # evidence pairs per match


@dataclass(frozen=True)
class UpsertReport:
    added: int
    updated: int
    unchanged: int
    texts_embedded: int


class Engine:
    def __init__(
        self,
        embedder: Embedder,
        index: HostIndex,
        hosts: dict[str, HostLab] | None = None,
        *,
        settings: MatchSettings | None = None,
    ) -> None:
        if index.fingerprint != embedder.fingerprint:
            raise ValueError("the index and the embedder were made with different models")
        self.embedder = embedder
        self.index = index
        self.hosts: dict[str, HostLab] = dict(hosts or {})
        self.settings = settings or MatchSettings()

    # -- persistence -----------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path, embedder: Embedder, *, settings: MatchSettings | None = None) -> Engine:
        """Load the index and host records saved in `folder`, or start empty when there is none."""
        try:
            index, payloads = HostIndex.load(folder, fingerprint=embedder.fingerprint)
        except FileNotFoundError:
            return cls(embedder, HostIndex(embedder.dim, embedder.fingerprint), settings=settings)
        records = json.loads(payloads.get("hosts", b"[]"))
        hosts = {h.id: h for h in (HostLab.model_validate(r) for r in records)}
        return cls(embedder, index, hosts, settings=settings)

    def save(self, folder: Path) -> None:
        """Save index and host records together, atomically (one manifest names both)."""
        records = [self.hosts[h].model_dump(mode="json") for h in sorted(self.hosts)]
        self.index.save(folder, payloads={"hosts": json.dumps(records, ensure_ascii=False).encode()})

    # -- changes ---------------------------------------------------------------------------------------

    def upsert_hosts(self, hosts: Iterable[HostLab], *, progress: bool = False) -> UpsertReport:
        """Add or replace hosts. Only documents whose text changed are embedded (and the cache may know
        even those); hosts that did not change at all are left untouched."""
        added = updated = unchanged = 0
        changed: list[tuple[HostLab, list[Document]]] = []
        for host in hosts:
            docs = host_documents(host)
            if host.id in self.hosts and self.hosts[host.id] == host:
                unchanged += 1
                continue
            if host.id in self.hosts:
                updated += 1
            else:
                added += 1
            changed.append((host, docs))
        texts = [d.text for _, docs in changed for d in docs]
        vectors = self.embedder.encode(texts, progress=progress)
        misses = int(getattr(self.embedder, "last_misses", len(texts)))
        items, start = [], 0
        for _, docs in changed:
            items.append((docs, vectors[start : start + len(docs)]))
            start += len(docs)
        self.index.upsert(items)
        self.hosts.update((host.id, host) for host, _ in changed)
        return UpsertReport(added, updated, unchanged, misses if changed else 0)

    def remove_hosts(self, host_ids: Sequence[str]) -> None:
        for host_id in host_ids:
            if host_id not in self.hosts:
                raise UnknownHost(host_id)
        self.index.remove(host_ids)
        for host_id in host_ids:
            del self.hosts[host_id]

    def replace_all(self, hosts: Sequence[HostLab], *, progress: bool = False) -> UpsertReport:
        """Make the host set exactly `hosts`: upsert them and remove every other host."""
        stale = sorted(set(self.hosts) - {h.id for h in hosts})
        if stale:
            self.remove_hosts(stale)
        return self.upsert_hosts(hosts, progress=progress)

    # -- matching --------------------------------------------------------------------------------------

    def match(self, researcher: ResearcherProfile, *, top: int = 10) -> MatchResult:
        """Rank hosts for a researcher, best first, with evidence."""
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        texts = researcher_texts(researcher)
        queries = self.embedder.encode([t.text for t in texts])
        weights = np.array([t.weight for t in texts], dtype=np.float32)
        host_ids = self._candidates(queries)
        if not host_ids:
            return MatchResult(matches=(), candidates=0)
        segments = [self.index.host_rows(h) for h in host_ids]
        rows = np.concatenate(segments)
        sims = queries @ self.index.vectors()[rows].T  # (m, R): exact cosine, candidates only
        offsets = np.cumsum([0] + [len(s) for s in segments[:-1]])
        block, lengths = pad_segments(sims, [np.arange(o, o + len(s)) for o, s in zip(offsets, segments, strict=True)])
        per_text = aggregate(block, lengths, method=self.settings.aggregation, k=self.settings.top_k_docs)
        similarity = weights @ per_text  # (H,)
        matches = []
        for i in order(host_ids, similarity)[:top]:
            host = self.hosts[host_ids[i]]
            evidence = [
                self._evidence(texts[q].key, texts[q].title, segments[i][d], sim)
                for q, d, sim in best_pairs(block[:, i, :], int(lengths[i]), n=self.settings.evidence)
            ]
            score = float(similarity[i])
            matches.append(
                Match(
                    host_id=host.id,
                    lab_name=host.lab_name,
                    pi_name=host.pi_name,
                    institution=host.institution,
                    score=round(score, 6),
                    similarity=round(score, 6),
                    evidence=tuple(evidence),
                )
            )
        return MatchResult(matches=tuple(matches), candidates=len(host_ids))

    def _candidates(self, queries: np.ndarray) -> list[str]:
        """Hosts owning any of the top `pool` documents of any query text, sorted by id."""
        _, rows = self.index.search(queries, self.settings.pool)
        return sorted(set(self.index.host_of_rows(rows.ravel())))

    def _evidence(self, text_key: str, text_title: str, row: int, sim: float) -> Evidence:
        meta = self.index.meta(int(row))
        return Evidence(
            researcher_text=text_key,
            researcher_title=text_title,
            host_document=meta.key,
            document_title=meta.title,
            similarity=round(sim, 4),
        )
