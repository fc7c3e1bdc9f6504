"""Name the distinctive terms a researcher and a host share, to explain a match in words.

Document frequencies are counted over hosts (each host one document: its description and publications),
over lower-cased words (a letter, then letters, digits or hyphens) minus English function words, as
unigrams and bigrams; a bigram joins two neighbours left after the function words are dropped. Written
here rather than taken from scikit-learn's CountVectorizer because importing scikit-learn costs a serving
process ~130 MB of memory for a regular expression and a word list. A shared term's weight is its
inverse document frequency, so "basho" beats "analysis". The counts update incrementally when hosts are
added or removed; nothing is recounted.

Kept compact: 10,000 hosts of 20 abstracts hold ~8.5 million (host, term) pairs over ~3 million distinct
terms, ~1 GB as Python sets of strings. Here a host's terms are a sorted array of 32-bit term hashes, and
the frequencies two aligned arrays (sorted hashes, counts), ~60 MB in all. The hash is the low 32 bits of
Python's own string hash: fast, and stable within the process, which is all it needs (nothing here is
saved). At 3 million terms about a thousand pairs of terms share a hash, which adds their two counts
together, and a researcher's term passes for one of a host's ~850 with odds of 2e-7: harmless for a list
of words shown as explanation, and 64-bit hashes cost 55 MB more. A researcher's terms are hashed the same
way, so the shared ones are an intersection of two sorted arrays, named by the researcher's own words.
Changes are merged in one pass over the frequency arrays per batch of hosts, not per host.

Japanese text has no spaces between words: its terms come from a tokenizer (`matcher.text.japanese`: nouns and
compound nouns, their tokens joined by a space so that a compound is handled like an English bigram, and
shown without it). A text without kana or kanji never reaches it, so English terms, their hashes and their
cost are what they were (one regular-expression scan for a Japanese character is added). Across languages,
terms meet through the keywords a profile gives in both: a lab that lists "slow slip" and "スロースリップ"
holds both terms, and shares one with a researcher who writes either.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from matcher.text.japanese import has_japanese, japanese_terms, shown
from models.profiles import HostLab, ResearcherProfile

_WORD = re.compile(r"\b[a-z][a-z0-9\-]+\b")

# Function words and words too common in any research text to explain a match.
_STOP_LIST = """
    a about above across after again against all almost alone along already also although always am among
    an and another any anyone anything anywhere are around as at back be became because become becomes been
    before behind being below beside besides between beyond both but by can cannot could did do does doing
    done down during each either else elsewhere enough etc even ever every everyone everything few for from
    further had has have having he her here hers herself him himself his how however i if in into is it its
    itself just least less many may me might more most mostly much must my myself neither never nevertheless
    no nobody none nor not nothing now of off often on once one only onto or other others otherwise our ours
    ourselves out over own per perhaps please quite rather same several she should since so some somehow
    something sometimes still such than that the their theirs them themselves then there thereby therefore
    these they this those though through throughout thus to together too toward towards under until up upon
    us very via was we well were what whatever when whenever where whereas whether which while who whoever
    whole whom whose why will with within without would yet you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_LIST.split())


def terms(text: str) -> set[str]:
    """Unigrams and bigrams of a text's content words, and the terms of any Japanese in it."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    found = set(words).union(f"{a} {b}" for a, b in itertools.pairwise(words))
    if has_japanese(text):
        found |= japanese_terms(text)
    return found


def _hash(term: str) -> int:
    return hash(term) & 0xFFFFFFFF


def _hashes(found: set[str]) -> np.ndarray:
    """The terms' `_hash`es, sorted and unique (the 64-bit hashes cast down: the same low 32 bits)."""
    return np.unique(np.fromiter(map(hash, found), dtype=np.int64, count=len(found)).astype(np.uint32))


def host_text(host: HostLab) -> str:
    return " ".join([host.description, *(p.text for p in host.publications), *host.fields.keywords])


def researcher_text(researcher: ResearcherProfile) -> str:
    return " ".join([researcher.statement, *(p.text for p in researcher.publications), *researcher.fields.keywords])


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A researcher's terms made ready for naming the ones each of many hosts shares (`TermStats.query`):
    sorted unique hashes, the term each stands for, and each one's idf, looked up once."""

    keys: np.ndarray  # sorted unique term hashes
    names: dict[int, str]
    idf: np.ndarray  # aligned with keys


class TermStats:
    """Document frequencies of terms over the host set."""

    def __init__(self, hosts: Iterable[HostLab] = ()) -> None:
        self._terms: dict[str, np.ndarray] = {}
        self._vocab = np.zeros(0, dtype=np.uint32)  # sorted term hashes with a positive count
        self._df = np.zeros(0, dtype=np.uint16)  # aligned counts, in the narrowest type that holds the host count
        self.update(hosts)

    def __len__(self) -> int:
        """Number of hosts counted."""
        return len(self._terms)

    def update(self, hosts: Iterable[HostLab]) -> None:
        """Count these hosts, replacing what was counted for any of them before."""
        fresh = {host.id: _hashes(terms(host_text(host))) for host in hosts}
        self.discard([h for h in fresh if h in self._terms])
        self._terms.update(fresh)
        self._merge(fresh.values(), +1)

    def discard(self, host_ids: Iterable[str]) -> None:
        """Stop counting these hosts (unknown ids are ignored)."""
        gone = [self._terms.pop(h) for h in host_ids if h in self._terms]
        self._merge(gone, -1)

    def _merge(self, arrays: Iterable[np.ndarray], sign: int) -> None:
        parts = [a for a in arrays if len(a)]
        if not parts:
            return
        changed, counts = np.unique(np.concatenate(parts), return_counts=True)
        vocab = np.concatenate([self._vocab, changed])
        df = np.concatenate([self._df, sign * counts])
        vocab, inverse = np.unique(vocab, return_inverse=True)
        totals = np.bincount(inverse, weights=df, minlength=len(vocab))
        keep = totals > 0
        # A count is at most the number of hosts: 16 bits up to 65,535 of them, which halves the counts.
        self._vocab, self._df = vocab[keep], totals[keep].astype(np.min_scalar_type(max(len(self._terms), 1)))

    def df(self, term: str) -> int:
        """Number of hosts whose text has the term."""
        return int(self._dfs(np.array([_hash(term)], dtype=np.uint32))[0])

    def _dfs(self, keys: np.ndarray) -> np.ndarray:
        """Document frequencies of many term hashes at once (0 for unknown ones)."""
        if not len(self._vocab):
            return np.zeros(len(keys), dtype=np.int32)
        at = np.minimum(np.searchsorted(self._vocab, keys), len(self._vocab) - 1)
        return np.where(self._vocab[at] == keys, self._df[at], 0)

    def _idfs(self, dfs: np.ndarray) -> np.ndarray:
        """Smoothed inverse document frequencies, log((1 + hosts) / (1 + df)) + 1."""
        result: np.ndarray = np.log((1 + len(self._terms)) / (1 + dfs.astype(np.float64))) + 1.0
        return result

    def query(self, researcher_terms: Iterable[str]) -> QueryTerms:
        """The researcher's terms hashed, and their idf looked up, once for all the hosts of a match (each
        look-up is a binary search of ~3 million counts: over a dozen cache misses at 10,000 hosts)."""
        names = {_hash(t): t for t in researcher_terms}
        keys = np.sort(np.fromiter(names, dtype=np.uint32, count=len(names)))
        return QueryTerms(keys, names, self._idfs(self._dfs(keys)))

    def shared(self, researcher_terms: set[str] | QueryTerms, host_id: str, *, n: int = 5) -> list[str]:
        """The n most distinctive terms in both, bigrams (and Japanese compounds) shadowing the words they
        contain; Japanese compounds shown without the spaces between their tokens."""
        host = self._terms.get(host_id)
        mine = researcher_terms if isinstance(researcher_terms, QueryTerms) else self.query(researcher_terms)
        if host is None or not len(host) or not len(mine.keys):
            return []
        at = np.minimum(np.searchsorted(host, mine.keys), len(host) - 1)
        common = np.flatnonzero(host[at] == mine.keys)
        idf = {mine.names[h]: w for h, w in zip(mine.keys[common].tolist(), mine.idf[common].tolist(), strict=True)}
        ranked = sorted(idf, key=lambda t: (-idf[t] - 0.5 * (" " in t), t))
        chosen: list[str] = []
        for term in ranked:
            parts = term.split()
            if any(_within(parts, c.split()) or _within(c.split(), parts) for c in chosen if " " in c or " " in term):
                continue
            chosen.append(term)
            if len(chosen) == n:
                break
        return [shown(term) for term in chosen]


def _within(part: list[str], whole: list[str]) -> bool:
    """Whether the words `part` appear together, in order, in `whole` (for bigrams and single words: whether
    a word is one of a bigram's)."""
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))
