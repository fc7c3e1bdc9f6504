"""Name the distinctive terms a researcher and a host share, to explain a match in words.

Document frequencies are counted over hosts (each host one document: its description and publications),
with scikit-learn's English tokenizer and stop words, unigrams and bigrams. A shared term's weight is its
inverse document frequency, so "basho" beats "analysis". The counts update incrementally when hosts are
added or removed; nothing is recounted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable

from sklearn.feature_extraction.text import CountVectorizer

from models.profiles import HostLab, ResearcherProfile

_ANALYZER: Callable[[str], list[str]] = CountVectorizer(
    stop_words="english", ngram_range=(1, 2), token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b"
).build_analyzer()


def terms(text: str) -> set[str]:
    return set(_ANALYZER(text))


def host_text(host: HostLab) -> str:
    return " ".join([host.description, *(p.text for p in host.publications), *host.fields.keywords])


def researcher_text(researcher: ResearcherProfile) -> str:
    return " ".join([researcher.statement, *(p.text for p in researcher.publications), *researcher.fields.keywords])


class TermStats:
    """Document frequencies of terms over the host set."""

    def __init__(self, hosts: Iterable[HostLab] = ()) -> None:
        self.df: Counter[str] = Counter()
        self._terms: dict[str, set[str]] = {}
        for host in hosts:
            self.add(host)

    def add(self, host: HostLab) -> None:
        self.remove(host.id)
        found = terms(host_text(host))
        self._terms[host.id] = found
        self.df.update(found)

    def remove(self, host_id: str) -> None:
        old = self._terms.pop(host_id, None)
        if old:
            self.df.subtract(old)

    def host_terms(self, host_id: str) -> set[str]:
        return self._terms.get(host_id, set())

    def idf(self, term: str) -> float:
        return math.log((1 + len(self._terms)) / (1 + self.df.get(term, 0))) + 1.0

    def shared(self, researcher_terms: set[str], host_id: str, *, n: int = 5) -> list[str]:
        """The n most distinctive terms in both, bigrams shadowing the words they contain."""
        common = researcher_terms & self.host_terms(host_id)
        ranked = sorted(common, key=lambda t: (-self.idf(t) - 0.5 * (" " in t), t))
        chosen: list[str] = []
        for term in ranked:
            if any(term in c.split() or c in term.split() for c in chosen if " " in c or " " in term):
                continue
            chosen.append(term)
            if len(chosen) == n:
                break
        return chosen
