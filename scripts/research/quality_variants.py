"""Exploratory scoring variants on the reviewer-expertise gold standard (research, not production).

`hostmatch eval goldstandard` measures hostmatch's production scoring path, including its aggregation
options (`--aggregation max|mean|topk --top-k K`). This script measures alternatives that production does
*not* use, so that every variant reported in docs/QUALITY.md can be reproduced:

    python -m scripts.research.quality_variants --data ../shared/eval/goldstandard --samples 1 --variant lexical-doc-0.3

Variants (all start from the same cached all-MiniLM-L6-v2 vectors and top-3 aggregation):
    dense                dense cosine, top-3 mean (the production default, recomputed here as a check)
    lexical              TF-IDF cosine only (sublinear tf, English stop words), top-3 mean
    lexical-doc-L        per document (1-L)*dense + L*tfidf, then top-3 mean
    lexical-doc-L-bigram the same with word bigrams; lexical-doc-L-rawtf with raw (not sublinear) tf
    lexical-profile-B    dense top-3 + B * TF-IDF cosine to the reviewer's whole profile (TPMS-like)
    bm25                 Okapi BM25 only (k1 = 1.2, b = 0.75), top-3 mean. The documents are every archive
                         paper of the sample's reviewers, a submission is the query; term counts from
                         CountVectorizer (English stop words), idf log(1 + (N - df + 0.5) / (df + 0.5)), query
                         terms counted with repetition. Scores are divided by the query's maximum over all
                         documents of the sample, so each submission's best document scores 1 (0 stays 0)
    bm25-doc-L           per document (1-L)*dense + L*normalised BM25, then top-3 mean
    rrf-K                reciprocal rank fusion per submission over reviewers: reviewers ranked by dense top-3
                         and by BM25 top-3 (rank 1 the best, ties share their mean rank), score
                         1/(K + dense rank) + 1/(K + BM25 rank); rrf-K-dense the dense rank term alone (a
                         check of what ranking over reviewers costs before any BM25 is added)
    weighted-W           weighted top-k with weights W, e.g. weighted-3,2,1
    centred              vectors centred on the corpus mean, then renormalised
    title-T              each vector + T * title vector, renormalised
    recency-R            document similarities damped by exp(-R * years older than the newest paper)
    hubness-K            minus half the paper's mean score over its K best reviewers (a CSLS-like correction)
    maxlen-N             the model run with max_seq_length N (a separate cache: vectors differ)
    chunks-q-N, chunks-d-N, chunks-qd-N
                         abstracts longer than N words split at sentences into chunks of about N words
                         ("title. chunk"); a document's similarity is its best chunk, a paper's the mean
                         over its chunks
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.stats import rankdata
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.encoders.torch_backend import SentenceTransformerEmbedder
from matcher.evaluation.goldstandard import parse_samples, read_ratings
from matcher.evaluation.metrics import pooled
from matcher.evaluation.openreview import ArchivePaper, read_archives, read_submissions
from matcher.home import Home
from matcher.ranking.similarity import aggregate


def _unit(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return result


def bm25_idf(counts: sparse.csr_matrix) -> np.ndarray:
    """Robertson/Sparck Jones idf of each term column, log(1 + (N - df + 0.5) / (df + 0.5)): never negative."""
    n_docs = counts.shape[0]
    df = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
    result: np.ndarray = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    return result


def bm25_weights(counts: sparse.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """(documents, terms) BM25 weight of each term in each document from raw term counts.

    weight = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean length)), the length being the
    document's number of counted terms. k1 sets how fast repeated terms saturate (0: presence only); b how far
    long documents are discounted (0: not at all, 1: fully).
    """
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    lengths = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    norm = k1 * (1 - b + b * lengths / (lengths.mean() or 1.0))
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    tf = counts.data
    data = bm25_idf(counts)[counts.indices] * tf * (k1 + 1) / (tf + norm[rows])
    return sparse.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


def bm25_scores(queries: list[str], documents: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """(queries, documents) BM25 scores: the sum over query terms, with repetition, of their document weight."""
    counter = CountVectorizer(stop_words="english").fit(documents)
    weights = bm25_weights(counter.transform(documents), k1, b)
    result: np.ndarray = (counter.transform(queries) @ weights.T).toarray()
    return result


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum; rows whose maximum is 0 (no shared term) stay 0."""
    top = scores.max(axis=1, keepdims=True)
    result: np.ndarray = np.divide(scores, top, out=np.zeros_like(scores, dtype=np.float64), where=top > 0)
    return result


def rrf(scores: list[np.ndarray], k: float = 60) -> np.ndarray:
    """Reciprocal rank fusion along the last axis: sum of 1 / (k + rank), rank 1 the highest (ties: mean rank)."""
    fused = np.zeros(np.shape(scores[0]))
    for s in scores:
        fused += 1.0 / (k + rankdata(-np.asarray(s), method="average", axis=-1))
    return fused


class Sample:
    """One d_20_N folder with every vector the variants need."""

    def __init__(
        self, folder: Path, ratings: dict[str, list[tuple[str, float]]], embed: Callable[[list[str]], np.ndarray]
    ) -> None:
        archives = read_archives(folder)
        self.submissions = read_submissions(folder)
        self.reviewers = [r for r in sorted(archives) if r in ratings and archives[r]]
        self.papers: dict[str, list[ArchivePaper]] = {r: archives[r] for r in self.reviewers}
        self.ratings = ratings
        self.sub_ids = sorted(self.submissions)
        self.row = {p: i for i, p in enumerate(self.sub_ids)}
        self.embed = embed
        self.Q = embed([self.submissions[p].text for p in self.sub_ids])
        self.D = {r: embed([p.text for p in self.papers[r]]) for r in self.reviewers}

    def evaluate(self, score: Callable[[str, np.ndarray], np.ndarray]) -> tuple[float, float, float]:
        """score(reviewer, submission rows) -> scores; returns loss, easy, hard."""
        per = {}
        for r in self.reviewers:
            rated = [(p, x) for p, x in self.ratings[r] if p in self.row]
            values = score(r, np.array([self.row[p] for p, _ in rated], dtype=np.int64))
            per[r] = [(x, float(v)) for (_, x), v in zip(rated, values, strict=True)]
        sums = pooled(per)
        return sums.loss, sums.easy, sums.hard


def variant(sample: Sample, name: str) -> Callable[[str, np.ndarray], np.ndarray]:
    kind, _, arg = name.partition("-")

    def topk(sims: np.ndarray) -> np.ndarray:
        return aggregate(sims, method="topk", k=3)

    if kind == "dense":
        return lambda r, rows: topk(sample.Q[rows] @ sample.D[r].T)
    texts = {r: [p.text for p in sample.papers[r]] for r in sample.reviewers}
    if kind == "lexical":
        corpus = [t for r in sample.reviewers for t in texts[r]] + [sample.submissions[p].text for p in sample.sub_ids]
        options = name.split("-")[3:] if name.startswith("lexical-doc-") else []
        tfidf = TfidfVectorizer(
            stop_words="english", sublinear_tf="rawtf" not in options, ngram_range=(1, 2 if "bigram" in options else 1)
        ).fit(corpus)
        Qt = tfidf.transform([sample.submissions[p].text for p in sample.sub_ids])
        Dt = {r: tfidf.transform(texts[r]) for r in sample.reviewers}
        if name == "lexical":
            return lambda r, rows: topk((Qt[rows] @ Dt[r].T).toarray())
        if name.startswith("lexical-doc-"):
            lam = float(name.split("-")[2])
            return lambda r, rows: topk(
                (1 - lam) * (sample.Q[rows] @ sample.D[r].T) + lam * (Qt[rows] @ Dt[r].T).toarray()
            )
        if name.startswith("lexical-profile-"):
            beta = float(name.rsplit("-", 1)[1])
            profile = {r: tfidf.transform([" ".join(texts[r])]) for r in sample.reviewers}
            return lambda r, rows: (
                topk(sample.Q[rows] @ sample.D[r].T) + beta * (Qt[rows] @ profile[r].T).toarray()[:, 0]
            )
    if kind in ("bm25", "rrf"):
        return _bm25_variant(sample, name, topk)
    if kind == "weighted":
        w = np.array([float(x) for x in arg.split(",")])

        def weighted(r: str, rows: np.ndarray) -> np.ndarray:
            sims = -np.sort(-(sample.Q[rows] @ sample.D[r].T), axis=1)[:, : len(w)]
            ww = w[: sims.shape[1]]
            result: np.ndarray = (sims * ww).sum(1) / ww.sum()
            return result

        return weighted
    if kind == "centred":
        mu = np.concatenate([*sample.D.values(), sample.Q]).mean(0)
        Q, D = _unit(sample.Q - mu), {r: _unit(v - mu) for r, v in sample.D.items()}
        return lambda r, rows: topk(Q[rows] @ D[r].T)
    if kind == "title":
        t = float(arg)
        Q = _unit(sample.Q + t * sample.embed([sample.submissions[p].title for p in sample.sub_ids]))
        D = {r: _unit(v + t * sample.embed([p.title for p in sample.papers[r]])) for r, v in sample.D.items()}
        return lambda r, rows: topk(Q[rows] @ D[r].T)
    if kind == "recency":
        rate = float(arg)

        def recent(r: str, rows: np.ndarray) -> np.ndarray:
            years = np.array([p.year or 0 for p in sample.papers[r]], dtype=np.float64)
            years[years == 0] = years.max()
            damp = np.exp(-rate * (years.max() - years))
            return topk((sample.Q[rows] @ sample.D[r].T) * damp)

        return recent
    if kind == "chunks":
        side, n_words = arg.split("-")
        return _chunked(sample, side, int(n_words), topk)
    if kind == "hubness":
        k = int(arg)
        full = np.stack([topk(sample.Q @ sample.D[r].T) for r in sample.reviewers], axis=1)
        hub = -np.sort(-full, axis=1)[:, :k].mean(1)
        column = {r: j for j, r in enumerate(sample.reviewers)}
        return lambda r, rows: full[rows, column[r]] - 0.5 * hub[rows]
    raise SystemExit(f"unknown variant {name!r}; see --help")


def _bm25_variant(
    sample: Sample, name: str, topk: Callable[[np.ndarray], np.ndarray]
) -> Callable[[str, np.ndarray], np.ndarray]:
    documents = [p.text for r in sample.reviewers for p in sample.papers[r]]
    scores = normalise_rows(bm25_scores([sample.submissions[p].text for p in sample.sub_ids], documents))
    ends = np.cumsum([len(sample.papers[r]) for r in sample.reviewers])
    B = dict(zip(sample.reviewers, np.split(scores, ends[:-1], axis=1), strict=True))
    if name == "bm25":
        return lambda r, rows: topk(B[r][rows])
    if name.startswith("bm25-doc-"):
        lam = float(name.split("-")[2])
        return lambda r, rows: topk((1 - lam) * (sample.Q[rows] @ sample.D[r].T) + lam * B[r][rows])
    if name.startswith("rrf-"):
        dense = np.stack([topk(sample.Q @ sample.D[r].T) for r in sample.reviewers], axis=1)
        lexical = np.stack([topk(B[r]) for r in sample.reviewers], axis=1)
        fused = rrf([dense] if name.endswith("-dense") else [dense, lexical], float(name.split("-")[1]))
        column = {r: j for j, r in enumerate(sample.reviewers)}
        return lambda r, rows: fused[rows, column[r]]
    raise SystemExit(f"unknown variant {name!r}; see --help")


def chunk_texts(title: str, abstract: str, n_words: int) -> list[str]:
    """Split an abstract at sentence ends into chunks of about n_words, each prefixed by the title."""
    if len(abstract.split()) <= n_words:
        return [f"{title.rstrip('.')}. {abstract}"]
    chunks: list[list[str]] = []
    current: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", abstract):
        if current and len(" ".join([*current, sentence]).split()) > n_words:
            chunks.append(current)
            current = []
        current.append(sentence)
    chunks.append(current)
    return [f"{title.rstrip('.')}. " + " ".join(c) for c in chunks]


def _chunked(
    sample: Sample, side: str, n_words: int, topk: Callable[[np.ndarray], np.ndarray]
) -> Callable[[str, np.ndarray], np.ndarray]:
    def doc_vectors(r: str) -> tuple[np.ndarray, np.ndarray]:
        if "d" not in side:
            return sample.D[r], np.arange(len(sample.papers[r]))
        texts, owner = [], []
        for i, p in enumerate(sample.papers[r]):
            for text in chunk_texts(p.title, p.abstract, n_words):
                texts.append(text)
                owner.append(i)
        return sample.embed(texts), np.array(owner)

    docs = {r: doc_vectors(r) for r in sample.reviewers}
    queries = [
        sample.embed(chunk_texts(sample.submissions[p].title, sample.submissions[p].abstract, n_words))
        if "q" in side
        else sample.Q[i : i + 1]
        for i, p in enumerate(sample.sub_ids)
    ]

    def score(r: str, rows: np.ndarray) -> np.ndarray:
        vectors, owner = docs[r]
        out = np.empty(len(rows))
        for j, row in enumerate(rows):
            sims = queries[row] @ vectors.T
            per_doc = np.full((sims.shape[0], int(owner.max()) + 1), -1.0)
            for column, doc in enumerate(owner):
                per_doc[:, doc] = np.maximum(per_doc[:, doc], sims[:, column])
            out[j] = float(np.mean(topk(per_doc)))
        return out

    return score


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--samples", default="1")
    parser.add_argument("--variant", action="append", required=True, help="repeatable")
    parser.add_argument("--home", type=Path, default=None, help="data folder whose embedding cache to use")
    args = parser.parse_args(argv)
    ratings = read_ratings(args.data)
    for name in args.variant:
        model = SentenceTransformerEmbedder()
        cache = Home.from_env(args.home).cache_path
        if name.startswith("maxlen-"):
            model.model.max_seq_length = int(name.split("-")[1])
            cache = cache.with_name(f"embeddings-{name}.sqlite3")  # other vectors: never mix them in
        embedder = CachingEmbedder(model, EmbeddingCache(cache))
        scored = []
        for n in parse_samples(args.samples):
            sample = Sample(args.data / "evaluation_datasets" / f"d_20_{n}", ratings, embedder.encode)
            scored.append(sample.evaluate(variant(sample, "dense" if name.startswith("maxlen-") else name)))
        loss, easy, hard = (float(np.mean(column)) for column in zip(*scored, strict=True))
        print(
            json.dumps(
                {
                    "variant": name,
                    "samples": args.samples,
                    "loss": round(loss, 4),
                    "easy": round(easy, 4),
                    "hard": round(hard, 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
