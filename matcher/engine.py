"""The engine: the one place where the embedder, the index and the host records meet.

    researcher -> eligibility (a requested programme it cannot use: stop, saying why) -> query texts
      -> embed (cached) -> candidates: the owners of the `pool` nearest documents per text, and the
         `host_pool` hosts of the best estimated totals among the `mean_pool` nearest host means
      -> exact similarity to every document of each candidate -> aggregate per host -> weight the texts
      -> `score_candidates` (conflicts, programme and places refused; the components scored; exact pruning)
      -> order -> evidence and shared terms for the ones shown

`score_candidates` is the one step a match, a staff list (`rank_researchers`) and a call
(`matcher.calls.batch.score_call`) share. Everything heavy is injected: any `Embedder`, a `HostIndex`, and
the host records. Scoring and ordering are the pure functions of `matcher.ranking.similarity` and
`matcher.ranking.components`.

With a multilingual side (`matcher.encoders.multilingual.Multilingual`: its encoder, every document's vector in its
space, a calibration), the pairs in which a text is in a language the default encoder does not read are
scored there, calibrated, and every other pair exactly as without it; its candidates join the default
ones (`Queries` carries a researcher's texts in both spaces).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcher.encoders.embedding import Embedder
from matcher.encoders.multilingual import (
    Calibrations,
    Multilingual,
    cross_language,
    merge_similarities,
    read_by_default,
    same_language,
)
from matcher.errors import UnknownHost
from matcher.hosts import HostRecords
from matcher.index import HostIndex, Unread, read_manifest
from matcher.progress import Progress
from matcher.ranking.components import (
    NO_PLACES,
    NO_PROGRAMME,
    HostFilter,
    HostTerms,
    PairScore,
    ResearcherSide,
    Scorer,
    Weights,
    best_pairs,
    ordered,
)
from matcher.ranking.conflicts import Keys, conflict_between, host_keys, researcher_keys
from matcher.ranking.similarity import DEFAULT_AGGREGATION, DEFAULT_TOP_K, Aggregation, aggregate, pad_runs
from matcher.ranking.terms import QueryTerms, TermStats, researcher_text, terms
from matcher.text.documents import Document, QueryText, host_documents, researcher_texts
from matcher.text.languages import READ_BY_DEFAULT, unread_note
from models.eligibility import eligible_programmes
from models.profiles import HostLab, ResearcherProfile
from models.results import Candidate, CandidateResult, Evidence, Exclusion, Match, MatchResult


@dataclass(frozen=True)
class MatchSettings:
    aggregation: Aggregation = DEFAULT_AGGREGATION
    top_k_docs: int = DEFAULT_TOP_K
    pool: int = 128  # documents FAISS returns per query text; their hosts are scored exactly
    host_pool: int = 128  # and the hosts with the best estimated totals (`Engine.candidates`) ...
    mean_pool: int = 1024  # ... among this many whose mean document vector is nearest
    evidence: int = 3  # evidence pairs per match
    exact_limit: int = 50_000  # with filters, score every allowed host exactly up to this many documents
    languages_read: tuple[str, ...] = tuple(sorted(READ_BY_DEFAULT))  # what the encoder reads; texts in others noted


@dataclass
class Scored:
    """One researcher's candidates scored (`Engine.score_candidates`): the pairs kept, each with its position
    among the candidates, in the order scored; those left out, as (position, reason, detail); how many fell
    below the minimum."""

    pairs: list[tuple[int, PairScore]]
    left_out: list[tuple[int, str, str]]
    below: int = 0

    def exclusions(self, ids: Sequence[str]) -> list[Exclusion]:
        """Those left out as results show them, under these ids (of the candidates, by position)."""
        return [Exclusion(id=ids[i], reason=reason, detail=detail) for i, reason, detail in self.left_out]


@dataclass(frozen=True)
class UpsertReport:
    added: int
    updated: int
    unchanged: int
    texts_embedded: int


@dataclass(frozen=True)
class EmbeddedHosts:
    """Hosts with their documents' vectors, embedded before the write that stores them (`Engine.embed`): the
    slow part of a write, done before it takes any lock."""

    hosts: tuple[HostLab, ...]
    vectors: dict[str, np.ndarray]  # document text -> its vector, for the hosts that differed when embedded
    texts_embedded: int  # texts the models embedded (the others came from the cache)
    multilingual: dict[str, np.ndarray] = field(default_factory=dict)  # the same texts' multilingual vectors


@dataclass(frozen=True)
class Queries:
    """A researcher's texts (or several researchers', one after another) as the engine compares them."""

    default: np.ndarray  # (m, d) the default encoder's vectors
    languages: tuple[str, ...]  # (m,) each text's language
    multilingual: np.ndarray | None = None  # (m, d') the multilingual encoder's vectors, zero where not embedded
    embedded: np.ndarray | None = None  # (m,) bool: the rows `multilingual` holds

    @classmethod
    def of(cls, vectors: np.ndarray) -> Queries:
        """Default vectors alone, every text taken as English (no pair crosses a language)."""
        return cls(np.asarray(vectors, dtype=np.float32), ("en",) * len(vectors))

    @property
    def read(self) -> np.ndarray:
        """(m,) bool: whether the default encoder reads each text's language."""
        return read_by_default(self.languages)

    def __len__(self) -> int:
        return len(self.default)

    def part(self, start: int, stop: int) -> Queries:
        """Texts start..stop-1."""
        if self.multilingual is None or self.embedded is None:
            return Queries(self.default[start:stop], self.languages[start:stop])
        return Queries(
            self.default[start:stop],
            self.languages[start:stop],
            self.multilingual[start:stop],
            self.embedded[start:stop],
        )


class Engine:
    def __init__(
        self,
        embedder: Embedder,
        index: HostIndex,
        hosts: dict[str, HostLab] | None = None,
        *,
        settings: MatchSettings | None = None,
        multilingual: Multilingual | None = None,
    ) -> None:
        if index.fingerprint != embedder.fingerprint:
            raise ValueError("the index and the embedder were made with different models")
        if multilingual is not None and (
            len(multilingual.index) != len(index) or multilingual.index.host_ids != index.host_ids
        ):
            raise ValueError("the multilingual index does not hold the documents of the index")
        self.embedder = embedder
        self.index = index
        self.multilingual = multilingual
        self.hosts = HostRecords((hosts or {}).values())
        self.settings = settings or MatchSettings()
        self._terms: TermStats | None = None
        self._host_terms: HostTerms | None = None
        self._conflict_keys: dict[str, Keys] = {}
        self._rows_not_read: np.ndarray | None = None  # see `rows_not_read`

    @property
    def languages_read(self) -> frozenset[str]:
        """The languages a match reads: the default encoder's (`MatchSettings.languages_read`), and the
        multilingual encoder's when there is one."""
        read = frozenset(self.settings.languages_read)
        return read | self.multilingual.languages if self.multilingual is not None else read

    @property
    def multilingual_embedder(self) -> Embedder | None:
        """The multilingual encoder, to open another engine with (None without one)."""
        return self.multilingual.embedder if self.multilingual is not None else None

    @staticmethod
    def new_multilingual(embedder: Embedder | None, default: Embedder) -> Multilingual | None:
        """An empty multilingual side for `embedder` (None: none), its calibration fitted with `default` when
        first needed."""
        if embedder is None:
            return None
        return Multilingual(embedder, HostIndex(embedder.dim, embedder.fingerprint), calibration_source=default)

    # -- persistence -----------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        folder: Path,
        embedder: Embedder,
        *,
        settings: MatchSettings | None = None,
        manifest: dict[str, Any] | None = None,
        multilingual: Embedder | None = None,
    ) -> Engine:
        """Load the index and host records saved in `folder` (the snapshot `manifest` describes, else the
        current one), or start empty when there is none.

        Args:
            multilingual: the multilingual encoder, when one is enabled: the snapshot must hold its side.

        Raises:
            IndexMismatch: the snapshot was saved with another model, or with another multilingual side (or
                none, or one when none is enabled).
        """
        try:
            manifest = manifest if manifest is not None else read_manifest(folder)
            configured = multilingual.fingerprint if multilingual is not None else None
            index, payloads = HostIndex.load(
                folder, fingerprint=embedder.fingerprint, manifest=manifest, multilingual=configured
            )
        except FileNotFoundError:
            empty = HostIndex(embedder.dim, embedder.fingerprint)
            return cls(embedder, empty, settings=settings, multilingual=cls.new_multilingual(multilingual, embedder))
        side = None
        if multilingual is not None:
            vectors, calibration = HostIndex.load_multilingual(folder, manifest)
            side = Multilingual(multilingual, vectors, calibration_given=Calibrations.from_json(calibration))
        engine = cls(embedder, index, settings=settings, multilingual=side)
        engine.hosts = HostRecords(HostLab.model_validate(r) for r in json.loads(payloads.get("hosts", b"[]")))
        return engine

    def save(self, folder: Path, *, generation: dict[str, Any] | None = None) -> None:
        """Save index and host records together, atomically (one manifest names both, and `generation`), with
        the multilingual side and its calibration when there is one."""
        side = self.multilingual
        self.index.save(
            folder,
            payloads={"hosts": self.hosts.json_array()},
            generation=generation,
            multilingual=(side.index, side.calibration.as_json()) if side is not None else None,
        )

    # -- changes ---------------------------------------------------------------------------------------

    def upsert_hosts(self, hosts: Iterable[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Add or replace hosts. Only documents whose text changed are embedded (and the cache may know
        even those); hosts that did not change at all are left untouched."""
        return self.apply(self.embed(hosts, progress=progress))

    def embed(self, hosts: Iterable[HostLab], *, progress: Progress | None = None) -> EmbeddedHosts:
        """Embed the documents of the hosts that differ from those held, changing nothing: what `apply` then
        puts into the index without embedding (the slow part of a write, which needs no lock)."""
        hosts = tuple(hosts)
        texts = list(dict.fromkeys(d.text for h in hosts if not self.hosts.unchanged(h) for d in host_documents(h)))
        vectors = self.embedder.encode(texts, progress=progress)
        misses = int(getattr(self.embedder, "last_misses", len(texts))) if texts else 0
        foreign: dict[str, np.ndarray] = {}
        if self.multilingual is not None:  # every document: any of them may pair across languages
            embedder = self.multilingual.embedder
            foreign = dict(zip(texts, embedder.encode(texts, progress=progress), strict=True))
            misses += int(getattr(embedder, "last_misses", len(texts))) if texts else 0
        return EmbeddedHosts(hosts, dict(zip(texts, vectors, strict=True)), misses, foreign)

    def apply(self, embedded: EmbeddedHosts, *, replace: bool = False) -> UpsertReport:
        """Add or replace the embedded hosts (`replace`: and remove every other host). Hosts are compared
        with those held now, which may have changed since `embed`: a document it did not embed then is
        embedded here (through the cache, which holds it unless another process wrote the same host in the
        meantime)."""
        if replace:
            stale = sorted(set(self.hosts) - {h.id for h in embedded.hosts})
            if stale:
                self.remove_hosts(stale)
        added = updated = unchanged = 0
        changed: list[tuple[HostLab, list[Document]]] = []
        for host in embedded.hosts:
            if self.hosts.unchanged(host):
                unchanged += 1
                continue
            if host.id in self.hosts:
                updated += 1
            else:
                added += 1
            changed.append((host, host_documents(host)))
        vectors = dict(embedded.vectors)
        late = list(dict.fromkeys(d.text for _, docs in changed for d in docs if d.text not in vectors))
        if late:
            vectors.update(zip(late, self.embedder.encode(late), strict=True))
        if changed:
            self.index.upsert(_items(changed, vectors, self.embedder.dim))
        side = self.multilingual
        if side is not None and changed:
            foreign = dict(embedded.multilingual)
            late = list(dict.fromkeys(d.text for _, docs in changed for d in docs if d.text not in foreign))
            if late:
                foreign.update(zip(late, side.embedder.encode(late), strict=True))
            side.index.upsert(_items(changed, foreign, side.index.dim))
        for host, _ in changed:
            self.hosts[host.id] = host
        for host, _ in changed:
            self._conflict_keys.pop(host.id, None)
        self._host_terms = None
        self._rows_not_read = None
        if self._terms is not None:
            self._terms.update(host for host, _ in changed)
        return UpsertReport(added, updated, unchanged, embedded.texts_embedded if changed else 0)

    def remove_hosts(self, host_ids: Sequence[str]) -> None:
        for host_id in host_ids:
            if host_id not in self.hosts:
                raise UnknownHost(host_id)
        self.index.remove(host_ids)
        if self.multilingual is not None:
            self.multilingual.index.remove(host_ids)
        for host_id in host_ids:
            del self.hosts[host_id]
            self._conflict_keys.pop(host_id, None)
        self._host_terms = None
        self._rows_not_read = None
        if self._terms is not None:
            self._terms.discard(host_ids)

    def replace_all(self, hosts: Sequence[HostLab], *, progress: Progress | None = None) -> UpsertReport:
        """Make the host set exactly `hosts`: upsert them and remove every other host."""
        return self.apply(self.embed(hosts, progress=progress), replace=True)

    # -- matching --------------------------------------------------------------------------------------

    def match(
        self,
        researcher: ResearcherProfile,
        *,
        top: int = 10,
        host_filter: HostFilter | None = None,
        weights: Weights | None = None,
        min_score: float = 0.0,
        exclude: Collection[str] = (),
        enforce_capacity: bool = True,
        on: dt.date | None = None,
        embedder: Embedder | None = None,
        multilingual_embedder: Embedder | None = None,
    ) -> MatchResult:
        """Rank hosts for a researcher, best first, each with components, evidence and programmes.

        Args:
            researcher: the profile.
            top: matches to return.
            host_filter: which hosts may be returned; its programme is also a hard eligibility constraint.
            weights: component weights (default `Weights()`).
            min_score: drop matches whose total is below this.
            exclude: host ids never to return (explicit conflicts of interest).
            enforce_capacity: leave out hosts with no places left.
            on: the date eligibility is judged at (default: the desired start, else today).
            embedder: embeds the researcher's texts instead of the engine's own (the same model): the service
                passes one per request, with that request's cache, budget and deadline.
            multilingual_embedder: the same for the multilingual encoder's embedding, if any.
        """
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        if embedder is not None and embedder.fingerprint != self.embedder.fingerprint:
            raise ValueError("the query embedder must be the engine's model")
        if multilingual_embedder is not None and multilingual_embedder.fingerprint != (
            self.multilingual_embedder.fingerprint if self.multilingual_embedder is not None else None
        ):
            raise ValueError("the multilingual query embedder must be the engine's multilingual encoder")
        host_filter = host_filter or HostFilter()
        weights = weights or Weights()
        when = on or researcher.desired_start or dt.date.today()
        verdicts = eligible_programmes(researcher, on=when)
        texts = researcher_texts(researcher)
        languages = {t.key: t.language for t in texts}
        unread = unread_note([(t.label, languages[t.key]) for t in texts], self.languages_read)
        notes = (unread,) if unread else ()
        if host_filter.programme:
            verdict = next(v for v in verdicts if v.programme == host_filter.programme)
            if not verdict.eligible:
                return MatchResult(
                    matches=(),
                    candidates=0,
                    programmes=tuple(verdicts),
                    notes=(verdict.refusal, *notes),
                    languages=languages,
                )
        text_weights = [t.weight for t in texts]
        scorer = Scorer(ResearcherSide.of(researcher, stage=researcher.stage(on=when), verdicts=verdicts), weights)
        queries = self.embed_queries(
            texts, [languages[t.key] for t in texts], embedder=embedder, multilingual_embedder=multilingual_embedder
        )
        host_ids = self.candidates(queries, text_weights, scorer, host_filter)
        if not host_ids:
            return MatchResult(matches=(), candidates=0, programmes=tuple(verdicts), notes=notes, languages=languages)
        block, lengths, segments, crossed = self.similarity_block(queries, host_ids)
        similarity = self.weighted_similarity(block, lengths, text_weights)

        order = np.argsort(-similarity, kind="stable").tolist()  # host_ids are sorted: ties by id
        scored = self.score_candidates(
            scorer,
            researcher_keys(researcher),
            host_ids,
            similarity,
            order,
            top=top,
            min_score=min_score,
            exclude=exclude,
            enforce_capacity=enforce_capacity,
            programme=host_filter.programme,
        )
        best = ordered([(host_ids[i], pair.total) for i, pair in scored.pairs])[:top]
        exclusions = scored.exclusions(host_ids)
        researcher_terms = self.terms.query(terms(researcher_text(researcher)))
        matches = [
            self._match(
                pair,
                texts,
                block[:, i, :],
                crossed[:, i, :],
                int(lengths[i]),
                segments[i],
                researcher_terms,
            )
            for i, pair in (scored.pairs[j] for j in best)
        ]
        return MatchResult(
            matches=tuple(matches),
            candidates=len(host_ids),
            excluded=dict(Counter(e.reason for e in exclusions)),
            exclusions=tuple(sorted(exclusions, key=lambda e: e.id)),
            below_min_score=scored.below,
            programmes=tuple(verdicts),
            notes=notes,
            languages=languages,
        )

    def rank_researchers(
        self,
        host_id: str,
        researchers: Sequence[ResearcherProfile],
        *,
        top: int = 10,
        weights: Weights | None = None,
        on: dt.date | None = None,
    ) -> CandidateResult:
        """Rank researchers for one host with the same components (the staff view).

        Researchers are not in the FAISS index: all of them are scored exactly against the host's documents.
        """
        if host_id not in self.hosts:
            raise UnknownHost(host_id)
        weights = weights or Weights()
        rows = self.index.host_rows(host_id)
        all_texts = [researcher_texts(r) for r in researchers]
        flat = [t for texts in all_texts for t in texts]
        vectors = self.embed_queries(flat, [t.language for t in flat])
        scored: list[tuple[str, PairScore, ResearcherProfile, np.ndarray, np.ndarray, list[QueryText]]] = []
        exclusions: list[Exclusion] = []
        start = 0
        for researcher, texts in zip(researchers, all_texts, strict=True):
            sims, crossed = self.pair_similarities(vectors.part(start, start + len(texts)), rows)  # (m, L)
            start += len(texts)
            when = on or researcher.desired_start or dt.date.today()
            similarity = self.weighted_similarity(sims[:, None, :], None, [t.weight for t in texts])
            side = ResearcherSide.of(
                researcher, stage=researcher.stage(on=when), verdicts=eligible_programmes(researcher, on=when)
            )
            found = self.score_candidates(
                Scorer(side, weights), researcher_keys(researcher), [host_id], similarity, [0], enforce_capacity=False
            )
            exclusions += found.exclusions([researcher.id])
            scored += [(researcher.id, pair, researcher, sims, crossed, texts) for _, pair in found.pairs]
        best = ordered([(rid, pair.total) for rid, pair, *_ in scored])[:top]
        candidates = []
        for j in best:
            _, pair, researcher, sims, crossed, texts = scored[j]
            candidates.append(
                Candidate(
                    researcher_id=researcher.id,
                    name=researcher.name,
                    institution=researcher.institution,
                    country=researcher.country,
                    stage=pair.pair.researcher.stage,
                    score=round(pair.total, 6),
                    similarity=round(pair.similarity, 6),
                    components=pair.components,
                    eligible_programmes=pair.programmes,
                    evidence=self._evidence(texts, sims, crossed, sims.shape[1], rows),
                    shared_terms=tuple(self.terms.shared(terms(researcher_text(researcher)), host_id)),
                )
            )
        return CandidateResult(
            host_id=host_id,
            candidates=tuple(candidates),
            considered=len(researchers),
            excluded=dict(Counter(e.reason for e in exclusions)),
            exclusions=tuple(exclusions),
        )

    def score_candidates(
        self,
        scorer: Scorer,
        keys: Keys,
        host_ids: Sequence[str],
        similarity: np.ndarray,
        order: Iterable[int],
        *,
        top: int | None = None,
        min_score: float = -np.inf,
        exclude: Collection[str] = (),
        enforce_capacity: bool = True,
        programme: str | None = None,
        any_programme: bool = False,
    ) -> Scored:
        """Score one researcher's candidate hosts (`host_ids`, their topic `similarity`) in `order`, leaving out
        (with the reason, in one place for a match, a call and a staff list): a conflict of interest or a host
        in `exclude` (matcher.ranking.conflicts), then a host the pair cannot join under `programme`, or under any
        programme (`any_programme`), then a host with no places left (`enforce_capacity`).

        With `top`, `order` is by similarity descending, and scoring stops once even the best other
        components this researcher can get (`Scorer.best_total`) could not lift the next host into the
        best `top` totals: no later host can either (exact pruning; the total is a weighted mean).
        """
        scored = Scored([], [])
        kept: list[float] = []  # min-heap of the best `top` totals so far
        ceiling = scorer.best_total(np.asarray(similarity, dtype=np.float64)).tolist()
        for i in order:
            if top is not None and len(kept) == top and ceiling[i] < kept[0]:
                break
            host_id = host_ids[i]
            host = self.hosts.side(host_id)
            found = conflict_between(keys, self.conflict_keys(host_id), excluded_hosts=exclude)
            pair = scorer(host, float(similarity[i]))  # cheap: a conflict is rare
            if found is None and (
                (programme and programme not in pair.programmes) or (any_programme and not pair.programmes)
            ):
                found = (NO_PROGRAMME, f"{host.lab_name} and the researcher have no programme in common")
            elif found is None and enforce_capacity and host.capacity <= 0:
                found = (NO_PLACES, f"{host.lab_name} has no places left")
            if found is not None:
                scored.left_out.append((i, *found))
            elif pair.total < min_score:
                scored.below += 1
            else:
                scored.pairs.append((i, pair))
                if top is not None and len(kept) < top:
                    heapq.heappush(kept, pair.total)
                elif top is not None and pair.total > kept[0]:
                    heapq.heapreplace(kept, pair.total)
        return scored

    def unread(self) -> Unread:
        """The indexed documents in languages no encoder reads (`languages_read`), by language, and how many
        hosts have any."""
        return self.index.unread(self.languages_read)

    def rows_not_read(self) -> np.ndarray:
        """The rows of the documents the default encoder does not read (kept until the hosts change)."""
        if self._rows_not_read is None:
            self._rows_not_read = self.index.rows_not_read(READ_BY_DEFAULT)
        return self._rows_not_read

    def embed_queries(
        self,
        texts: Sequence[QueryText],
        languages: Sequence[str],
        *,
        embedder: Embedder | None = None,
        multilingual_embedder: Embedder | None = None,
        progress: Progress | None = None,
    ) -> Queries:
        """A researcher's texts embedded: by the default encoder all of them; by the multilingual encoder,
        when there is one, those the default encoder does not read, and the others too while the index holds
        documents it does not read (else no pair of theirs crosses a language).

        Args:
            texts: the texts; `languages`: their languages, in the same order.
            embedder, multilingual_embedder: used instead of the engine's own (the same models).
            progress: told of the embedding, by each encoder in turn.
        """
        default = (embedder or self.embedder).encode([t.text for t in texts], progress=progress)
        read = read_by_default(languages)
        side = self.multilingual
        if side is None:
            return Queries(default, tuple(languages))
        wanted = np.ones(len(texts), dtype=bool) if len(self.rows_not_read()) else ~read
        foreign = np.zeros((len(texts), side.index.dim), dtype=np.float32)
        if wanted.any():
            chosen = [t.text for t, want in zip(texts, wanted.tolist(), strict=True) if want]
            foreign[wanted] = (multilingual_embedder or side.embedder).encode(chosen, progress=progress)
        return Queries(default, tuple(languages), foreign, wanted)

    def pair_similarities(self, queries: Queries, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarities of every query text to the documents of these rows, (m, R), and which of them the
        multilingual space scored, (m, R) bool: those crossing a language (`matcher.encoders.multilingual`), when the
        text has a multilingual vector, calibrated as a pair of one language or of two; every other one is the
        default model's cosine, unchanged."""
        sims = self.index.similarities(queries.default, rows)
        side = self.multilingual
        if side is None or queries.multilingual is None or queries.embedded is None:
            return sims, np.broadcast_to(False, sims.shape)  # none: a view, nothing allocated
        crossed = cross_language(queries.read, self.index.read_by(rows, READ_BY_DEFAULT)) & queries.embedded[:, None]
        if not crossed.any():
            return sims, crossed
        same = same_language(queries.languages, self.index.languages_of(rows))
        calibrated = side.calibration(side.index.similarities(queries.multilingual, rows), same)
        return merge_similarities(sims, calibrated, crossed), crossed

    def conflict_keys(self, host_id: str) -> Keys:
        """A host's conflict keys, folded once and dropped when the host changes."""
        keys = self._conflict_keys.get(host_id)
        if keys is None:
            keys = self._conflict_keys[host_id] = host_keys(self.hosts[host_id])
        return keys

    def warm(self) -> None:
        """Build now what matching otherwise builds on first use: the term statistics and every host's
        conflict keys (in one pass over the full records), the hosts' mean vectors and their terms as
        arrays. Once per engine: the statistics then follow each change by themselves (a second pass over
        10,000 labs cost a service 9 s of its start and left 25 MB of garbage behind)."""
        if self._terms is not None:
            self.host_terms()
            return

        def visiting() -> Iterator[HostLab]:
            for host_id in self.hosts:
                host = self.hosts[host_id]
                self._conflict_keys.setdefault(host_id, host_keys(host))
                yield host

        self._terms = TermStats(visiting())
        self.host_terms()  # builds the mean vectors too

    @property
    def terms(self) -> TermStats:
        """Term statistics over the hosts, built on first use and kept up to date by host changes."""
        if self._terms is None:
            self._terms = TermStats(self.hosts.values())
        return self._terms

    def candidates(
        self, queries: Queries | np.ndarray, text_weights: Sequence[float], scorer: Scorer, host_filter: HostFilter
    ) -> list[str]:
        """Hosts to score exactly for one researcher's texts (their vectors and weights), sorted by id.

        Without filters: the hosts owning any of the top `pool` documents of any text, and the `host_pool`
        hosts of the best estimated totals among the `mean_pool` hosts whose mean document vector is nearest
        to the texts (weighted): each host's total were its topic similarity its mean vector's, the other
        components at most what they could add (`Scorer.best_totals`), so a lab a little further in topic
        that fits the researcher's stage, stay and section is scored too. With filters: every host that
        passes them when their documents are few enough to score exactly, else the candidates of four
        times those sizes that pass (so a narrow filter never comes back empty because the search looked
        elsewhere). With a multilingual side, the hosts its space finds join them (`_multilingual_candidates`).
        """
        texts = queries if isinstance(queries, Queries) else Queries.of(queries)
        vectors = texts.default
        if host_filter.active:
            allowed = [h for h in sorted(self.hosts) if host_filter.allows(self.hosts.side(h))]
            if sum(len(self.index.host_rows(h)) for h in allowed) <= self.settings.exact_limit:
                return allowed
            _, rows = self.index.search(vectors, self.settings.pool * 4)
            found = self.index.hosts_of_rows(rows.ravel())
            found |= self._best_estimated(vectors, text_weights, scorer, scale=4)
            found |= self._multilingual_candidates(texts, self.settings.pool * 4)
            return sorted(found.intersection(allowed))
        _, rows = self.index.search(vectors, self.settings.pool)
        found = self.index.hosts_of_rows(rows.ravel()) | self._best_estimated(vectors, text_weights, scorer)
        return sorted(found | self._multilingual_candidates(texts, self.settings.pool))

    def _multilingual_candidates(self, queries: Queries, k: int) -> set[str]:
        """The owners of the k documents nearest in the multilingual space to each text it embedded: among
        every document for a text the default encoder does not read, among those it does not read for the
        others (the only pairs of theirs that cross a language)."""
        side = self.multilingual
        if side is None or queries.multilingual is None or queries.embedded is None:
            return set()
        found: set[str] = set()
        foreign = queries.embedded & ~queries.read
        if foreign.any():
            _, rows = side.index.search(queries.multilingual[foreign], k)
            found |= self.index.hosts_of_rows(rows.ravel())
        english, unread = queries.embedded & queries.read, self.rows_not_read()
        if english.any() and len(unread):
            sims = side.index.similarities(queries.multilingual[english], unread)
            nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            found |= self.index.hosts_of_rows(unread[nearest.ravel()])
        return found

    def _best_estimated(
        self, queries: np.ndarray, text_weights: Sequence[float], scorer: Scorer, *, scale: int = 1
    ) -> set[str]:
        if self.settings.host_pool <= 0:
            return set()
        query = np.asarray(text_weights, dtype=np.float32) @ queries  # its products are the weighted sums
        positions, similarities = self.index.mean_similarities(query, self.settings.mean_pool * scale)
        hosts = self.host_terms()
        estimates = scorer.best_totals(hosts, positions, similarities)
        best = positions[np.argsort(-estimates, kind="stable")[: self.settings.host_pool * scale]]
        return {hosts.ids[p] for p in best.tolist()}

    def host_terms(self) -> HostTerms:
        """The hosts' terms as arrays, in the index's host order; built again after any change."""
        order = self.index.host_order()
        if self._host_terms is None or self._host_terms.ids is not order:
            self._host_terms = HostTerms(order, (self.hosts.side(h) for h in order))
        return self._host_terms

    def topic_similarity(
        self, queries: Queries | np.ndarray, weights: Sequence[float], host_ids: list[str]
    ) -> np.ndarray:
        """Aggregated similarity of one researcher's texts (m, dim) to each host: (H,)."""
        block, lengths, _, _ = self.similarity_block(queries, host_ids)
        return self.weighted_similarity(block, lengths, weights)

    def topic_similarity_blocks(
        self, queries: np.ndarray, owners: np.ndarray, weights: np.ndarray, host_ids: list[str], *, budget: int = 2**26
    ) -> Iterator[tuple[np.ndarray, int]]:
        """Topic similarity of many researchers to each of `host_ids`, (researchers, H), a block of texts at a
        time, for a caller that goes on with each researcher as soon as its row is complete (a call scores
        applicants and reports progress while the rest are summed).

        Args:
            queries: (t, dim) every researcher's texts, one researcher after another.
            owners: (t,) the researcher (0, 1, ...) each text belongs to, never decreasing.
            weights: (t,) each text's weight within its researcher.
            host_ids: the hosts to score exactly.
            budget: bytes of padded similarities held at once; texts are taken in blocks that fit.

        The same aggregation and weighting as a match (`weighted_similarity`), against the hosts' documents
        gathered once (up to `MatchSettings.exact_limit` of them: 77 MB at 50,000). Yields, after each block
        and at least once: the (researchers, H) array, the same one each time and filled as it goes, and how
        many researchers it holds complete:
        those before the researcher of the next text (owners never decrease), all of them after the last
        block. A complete row never changes again.
        """
        owners = np.asarray(owners, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        result = np.zeros((int(owners.max()) + 1 if len(owners) else 0, len(host_ids)), dtype=np.float32)
        if not host_ids or not len(owners):
            yield result, len(result)
            return
        segments = [self.index.host_rows(h) for h in host_ids]
        lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
        documents = self.index.gather(np.concatenate(segments))  # once, host after host
        step = max(1, budget // (4 * len(host_ids) * int(lengths.max())))
        for start in range(0, len(queries), step):
            end = min(start + step, len(queries))
            block, _ = pad_runs(np.asarray(queries[start:end], dtype=np.float32) @ documents.T, lengths)
            per_text = aggregate(block, lengths, method=self.settings.aggregation, k=self.settings.top_k_docs)
            np.add.at(result, owners[start:end], weights[start:end, None] * per_text)
            yield result, int(owners[end]) if end < len(owners) else len(result)

    def weighted_similarity(
        self, block: np.ndarray, lengths: np.ndarray | None, weights: Sequence[float]
    ) -> np.ndarray:
        """Aggregate (m, H, L) similarities over each host's documents, then weight the m texts: (H,)."""
        per_text = aggregate(block, lengths, method=self.settings.aggregation, k=self.settings.top_k_docs)
        result: np.ndarray = np.asarray(weights, dtype=np.float32) @ per_text
        return result

    def similarity_block(
        self, queries: Queries | np.ndarray, host_ids: list[str]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
        """Exact similarities of every query text to every document of each host: (m, H, L) padded, the
        hosts' lengths and rows, and which similarities the multilingual space scored, (m, H, L) bool
        (`pair_similarities`; raw vectors are taken as texts the default encoder reads)."""
        texts = queries if isinstance(queries, Queries) else Queries.of(queries)
        segments = [self.index.host_rows(h) for h in host_ids]
        rows = np.concatenate(segments)
        sims, crossed = self.pair_similarities(texts, rows)  # (m, R), host after host
        lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
        block, lengths = pad_runs(sims, lengths)
        crossed_block = pad_runs(crossed, lengths)[0] if crossed.any() else np.broadcast_to(False, block.shape)
        return block, lengths, segments, crossed_block

    def _match(
        self,
        pair: PairScore,
        texts: list[QueryText],
        sims: np.ndarray,
        crossed: np.ndarray,
        length: int,
        rows: np.ndarray,
        researcher_terms: QueryTerms,
    ) -> Match:
        host = pair.host
        return Match(
            host_id=host.id,
            lab_name=host.lab_name,
            pi_name=host.pi_name,
            institution=host.institution,
            prefecture=host.prefecture,
            score=round(pair.total, 6),
            similarity=round(pair.similarity, 6),
            components=pair.components,
            eligible_programmes=pair.programmes,
            evidence=self._evidence(texts, sims, crossed, length, rows),
            shared_terms=tuple(self.terms.shared(researcher_terms, host.id)),
        )

    def _evidence(
        self, texts: list[QueryText], sims: np.ndarray, crossed: np.ndarray, length: int, rows: np.ndarray
    ) -> tuple[Evidence, ...]:
        """The closest (text, document) pairs of one host's (m, L) similarities, best first."""
        return tuple(
            Evidence(
                researcher_text=texts[q].key,
                researcher_title=texts[q].title,
                host_document=self.index.meta(int(rows[d])).key,
                document_title=self.index.meta(int(rows[d])).title,
                similarity=round(sim, 4),
                encoder="multilingual" if crossed[q, d] else "default",
            )
            for q, d, sim in best_pairs(sims, length, n=self.settings.evidence)
        )


def _items(
    changed: Sequence[tuple[HostLab, list[Document]]], vectors: dict[str, np.ndarray], dim: int
) -> list[tuple[list[Document], np.ndarray]]:
    """What `HostIndex.upsert` takes: each changed host's documents and their vectors."""
    empty = np.zeros((0, dim), dtype=np.float32)
    return [(docs, np.stack([vectors[d.text] for d in docs]) if docs else empty) for _, docs in changed]
