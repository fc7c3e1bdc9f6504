"""The BM25 weighting and the reciprocal rank fusion of scripts/research/quality_variants.py, on hand-made cases.

Expected values are worked out by hand from the formulas in the script's docstrings
(idf = log(1 + (N - df + 0.5) / (df + 0.5)), weight = idf * tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen))).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from scripts.research.quality_variants import bm25_idf, bm25_scores, bm25_weights, normalise_rows, rrf

K1, B = 1.2, 0.75


def test_absent_term_scores_zero() -> None:
    scores = bm25_scores(["apple"], ["apple banana", "cherry kiwi"])
    assert scores[0, 0] > 0
    assert scores[0, 1] == 0


def test_query_terms_unknown_to_the_documents_score_zero() -> None:
    assert bm25_scores(["durian"], ["apple banana", "cherry kiwi"]).tolist() == [[0.0, 0.0]]


def test_idf_by_hand_and_never_negative() -> None:
    # apple in all three documents, banana in one: N = 3.
    docs = ["apple banana", "apple cherry", "apple kiwi"]
    counter = CountVectorizer(stop_words="english").fit(docs)
    idf = bm25_idf(counter.transform(docs))
    vocabulary = counter.vocabulary_
    assert idf[vocabulary["apple"]] == pytest.approx(math.log(1 + 0.5 / 3.5))  # log(8/7) > 0
    assert idf[vocabulary["banana"]] == pytest.approx(math.log(1 + 2.5 / 1.5))  # log(8/3)
    assert (idf > 0).all()


def test_rarer_term_outweighs_common_one() -> None:
    # Every document has two terms, so length normalisation is 1 and each weight is exactly its idf.
    docs = ["apple banana", "apple cherry", "apple kiwi"]
    common, rare = bm25_scores(["apple", "banana"], docs)[:, 0]
    assert common == pytest.approx(math.log(8 / 7))
    assert rare == pytest.approx(math.log(8 / 3))
    assert rare > common


def test_longer_document_with_same_tf_scores_lower_when_b_positive() -> None:
    # Lengths 2 and 6, mean 4; apple in both: idf = log(1 + 0.5 / 2.5) = log(1.2).
    docs = ["apple banana", "apple cherry kiwi lemon mango olive"]
    short, long = bm25_scores(["apple"], docs, k1=K1, b=B)[0]
    idf = math.log(1.2)
    assert short == pytest.approx(idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 4)))  # idf * 2.2 / 1.75
    assert long == pytest.approx(idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 6 / 4)))  # idf * 2.2 / 2.65
    assert long < short


def test_b_zero_removes_length_normalisation() -> None:
    docs = ["apple banana", "apple cherry kiwi lemon mango olive"]
    short, long = bm25_scores(["apple"], docs, k1=K1, b=0.0)[0]
    assert short == pytest.approx(long)
    assert short == pytest.approx(math.log(1.2))  # tf = 1: (k1 + 1) / (1 + k1) = 1


def test_repeated_term_saturates() -> None:
    # Both documents have length 2: tf 2 gives idf * 2 * 2.2 / (2 + 1.2), less than twice tf 1's idf.
    docs = ["apple apple", "apple banana", "cherry kiwi"]
    counter = CountVectorizer(stop_words="english").fit(docs)
    weights = bm25_weights(counter.transform(docs), k1=K1, b=B).toarray()
    apple = counter.vocabulary_["apple"]
    idf = math.log(1 + 1.5 / 2.5)
    assert weights[0, apple] == pytest.approx(idf * 2 * 2.2 / 3.2)
    assert weights[1, apple] == pytest.approx(idf)
    assert weights[1, apple] < weights[0, apple] < 2 * weights[1, apple]


def test_k1_zero_counts_presence_only() -> None:
    docs = ["apple apple", "apple banana", "cherry kiwi"]
    scores = bm25_scores(["apple"], docs, k1=0.0, b=B)[0]
    assert scores[0] == pytest.approx(scores[1])


def test_normalise_rows_divides_by_the_row_maximum_and_keeps_zero_rows() -> None:
    out = normalise_rows(np.array([[2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]))
    assert out.tolist() == [[0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_rrf_order_on_a_hand_made_case() -> None:
    dense = np.array([[0.9, 0.5, 0.1, 0.0]])  # ranks 1 2 3 4
    lexical = np.array([[0.1, 0.9, 0.8, 0.0]])  # ranks 3 1 2 4
    fused = rrf([dense, lexical], k=60)[0]
    assert fused == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 2 / 64])
    assert list(np.argsort(-fused)) == [1, 0, 2, 3]


def test_rrf_ranks_each_row_separately_and_ties_share_the_mean_rank() -> None:
    dense = np.array([[0.9, 0.1], [0.2, 0.2]])
    lexical = np.array([[0.9, 0.1], [0.7, 0.3]])
    fused = rrf([dense, lexical], k=10)
    assert fused[0] == pytest.approx([2 / 11, 2 / 12])
    assert fused[1] == pytest.approx([1 / 11.5 + 1 / 11, 1 / 11.5 + 1 / 12])
