"""Ranking that knows the fellowship. Pure functions over numbers and domain objects.

A pair's score has components (`COMPONENTS`: topic, stage, tenure, field, practical), each one class below
with its value in [0, 1], the reason a person reads, and its upper bounds. The total is the weighted mean
of the values (`Weights`). Soft preferences only lower it. Hard constraints remove a host instead: the
requested programme (researcher not eligible, or the host not in it), no places left (`NO_PLACES`), and
conflicts of interest (matcher.ranking.conflicts). Order is by total descending, ties by host id.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from models import results
from models.durations import format_days
from models.eligibility import Verdict
from models.profiles import HostLab, ResearcherProfile
from models.programmes import programmes
from models.regions import REGIONS, region_of
from models.stages import CareerStage
from models.taxonomy import medium_sections_in, normalise_section

TOPIC_MIDPOINT = 0.35
"""Cosine similarity that maps to topic 0.5. Chosen for all-MiniLM-L6-v2 on abstracts: unrelated
scientific texts sit around 0.05-0.2, texts of one subfield around 0.4-0.7."""
TOPIC_SCALE = 0.08
"""Width of the logistic: similarity 0.19 maps to 0.12, 0.51 to 0.88."""
TENURE_TOLERANCE = 0.35
"""Log-ratio at which tenure fit has fallen to 1/e: a stay 42% longer (or 30% shorter) than allowed."""


# -- the two sides of a pair ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResearcherSide:
    """What the components read of a researcher, folded once per match (or per applicant of a call)."""

    stage: CareerStage
    desired_tenure: int
    eligible: tuple[str, ...]  # programmes the researcher is eligible for, in programme order
    sections: frozenset[str]
    broad: frozenset[str]
    phrases: frozenset[str]
    languages: frozenset[str]

    @classmethod
    def of(cls, researcher: ResearcherProfile, *, stage: CareerStage, verdicts: Sequence[Verdict]) -> ResearcherSide:
        fields_ = researcher.fields
        return cls(
            stage=stage,
            desired_tenure=researcher.desired_tenure,
            eligible=tuple(v.programme for v in verdicts if v.eligible),
            sections=frozenset(fields_.sections),
            broad=fields_.broad_sections,
            phrases=keyword_phrases(fields_.keywords),
            languages=researcher.languages,
        )


@dataclass(frozen=True, slots=True)
class HostSide:
    """What matching reads of a host: the components' inputs, what filters test and the names a result
    shows; folded once and kept while the host is unchanged, in place of the record (whose publications and
    description matching never reads)."""

    id: str
    lab_name: str
    pi_name: str
    institution: str
    prefecture: str
    accepted: frozenset[CareerStage]
    window: tuple[int, int]
    programmes: tuple[str, ...]  # known programmes the host takes part in, in programme order
    sections: tuple[str, ...]
    broad: tuple[str, ...]
    phrases: tuple[str, ...]
    languages: frozenset[str]
    capacity: int

    @classmethod
    def of(cls, host: HostLab) -> HostSide:
        return cls(
            id=host.id,
            lab_name=host.lab_name,
            pi_name=host.pi_name,
            institution=host.institution,
            prefecture=host.prefecture,
            accepted=host.accepted_stages,
            window=(host.hosting_window.min, host.hosting_window.max),
            programmes=tuple(p for p in programmes() if p in host.programmes),
            sections=tuple(host.fields.sections),
            broad=tuple(sorted(host.fields.broad_sections)),
            phrases=tuple(sorted(keyword_phrases(host.fields.keywords))),
            languages=host.languages,
            capacity=host.capacity,
        )


@dataclass(frozen=True, slots=True)
class Pair:
    """One researcher and one host as the components read them: the topic similarity, the programmes they
    share, and the stages and tenure ranges of the programmes that count (the shared ones, else all of the
    host's; `stages` None when there are none)."""

    researcher: ResearcherSide
    host: HostSide
    similarity: float
    programmes: tuple[str, ...]
    stages: frozenset[CareerStage] | None
    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, researcher: ResearcherSide, host: HostSide, similarity: float = 0.0) -> Pair:
        return cls(researcher, host, similarity, *_programme_terms(researcher.eligible, host.programmes))


@lru_cache(maxsize=1024)
def _programme_terms(
    eligible: tuple[str, ...], offered: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[CareerStage] | None, tuple[tuple[int, int], ...]]:
    """The programmes a pair shares, and the stages and tenure ranges of those that count (`Pair`).
    Remembered: researchers repeat their eligibility and labs their programmes, so a few dozen keys serve
    every pair; scoring the call of `HostTerms.bounds` took 7.9 s without it, 6.9 s with it."""
    shared = tuple(p for p in eligible if p in offered)
    table = programmes()
    counted = [table[p] for p in shared or offered]
    stages = frozenset(s for p in counted for s in p.stages)
    return shared, stages or None, tuple((p.tenure_min, p.tenure_max) for p in counted)


# -- components -----------------------------------------------------------------------------------------


class Component:
    """One part of a pair's score: its value in [0, 1], the reason a person reads, and upper bounds.

    A component is one subclass registered in `COMPONENTS`: `name` (also its key in `Weights`), its default
    `weight`, `value` (the one definition of what it scores), `reason`, `bound` (the most it could be for
    any host equal to the pair's in the attributes `reads` names, with any researcher equal in `asks`; by
    default the value itself: candidate estimates evaluate it once per group of such hosts and kind of
    researcher, `HostTerms.bounds`) and `best` (the most it gives
    the researcher with any host of a topic similarity: exact pruning, `Scorer.best_total`). A component
    that reads no host attribute is bounded by its `best` alone. A property test (tests/test_ranking.py)
    checks value <= bound <= best for drawn pairs, so a component that lies about a bound fails the build.

    Adding one, say a partnership component:

        class Partnership(Component):
            name, weight = "partnership", 0.05
            reads, asks = ("institution",), ()  # what `value` reads of a host, of a researcher

            def value(self, pair: Pair) -> float:
                return 1.0 if pair.host.institution in PARTNERS else 0.0

            def reason(self, pair: Pair) -> str:
                return "a partner institution" if self.value(pair) else "no partnership"

        COMPONENTS = (Topic(), Stage(), Tenure(), Field(), Practical(), Partnership())
    """

    name: ClassVar[str]
    weight: ClassVar[float]
    reads: ClassVar[tuple[str, ...]] = ()  # the HostSide attributes `bound` reads
    asks: ClassVar[tuple[str, ...]] = ()  # the ResearcherSide attributes `bound` reads

    def value(self, pair: Pair) -> float:
        raise NotImplementedError

    def reason(self, pair: Pair) -> str:
        raise NotImplementedError

    def bound(self, pair: Pair) -> float:
        """At least `value` for every host equal to `pair.host` in the attributes `reads` names."""
        return self.value(pair)

    def best(self, researcher: ResearcherSide, similarity: Any) -> Any:
        """At least `value` for every host of this topic similarity (a number, or an array of them)."""
        return 1.0


def calibrate_topic(similarity: Any) -> Any:
    """Fixed logistic map from cosine similarity (a number or an array) to [0, 1] (TOPIC_MIDPOINT, TOPIC_SCALE)."""
    if isinstance(similarity, np.ndarray):
        return 1.0 / (1.0 + np.exp(-(similarity.astype(np.float64) - TOPIC_MIDPOINT) / TOPIC_SCALE))
    return 1.0 / (1.0 + math.exp(-(similarity - TOPIC_MIDPOINT) / TOPIC_SCALE))  # numpy's exp costs 3 µs here


class Topic(Component):
    """The researcher's texts against the lab's documents (matcher.ranking.similarity), calibrated by a fixed
    logistic curve: the same for every query and every run, never normalised per query or per batch, so a
    0.8 means the same thing today and next year."""

    name, weight = "topic", 0.55

    def value(self, pair: Pair) -> float:
        return float(calibrate_topic(pair.similarity))

    def reason(self, pair: Pair) -> str:
        value = self.value(pair)
        strength = "strong" if value >= 0.8 else "good" if value >= 0.5 else "partial" if value >= 0.2 else "weak"
        return f"{strength} topic fit (similarity {pair.similarity:.2f})"

    def best(self, researcher: ResearcherSide, similarity: Any) -> Any:
        return calibrate_topic(similarity)


_STAGE_FIT = (1.0, 0.4, 0.1, 0.0)  # by distance in stages from the nearest accepted one
_OFF_PROGRAMME = 0.75  # factor when the programmes that count are meant for other stages
_STAGE_INDEX = {stage: i for i, stage in enumerate(CareerStage)}


class Stage(Component):
    """The researcher's career stage (R1-R4) against the stages the lab accepts, and whether the programmes
    they could use are meant for that stage."""

    name, weight, reads, asks = "stage", 0.15, ("accepted", "programmes"), ("stage", "eligible")

    @staticmethod
    def distance(pair: Pair) -> int:
        mine = _STAGE_INDEX[pair.researcher.stage]
        return min([abs(mine - _STAGE_INDEX[s]) for s in pair.host.accepted])

    def value(self, pair: Pair) -> float:
        value = _STAGE_FIT[self.distance(pair)]
        off = pair.stages is not None and pair.researcher.stage not in pair.stages
        return value * _OFF_PROGRAMME if off else value

    def reason(self, pair: Pair) -> str:
        stage, distance, accepted = pair.researcher.stage, self.distance(pair), ", ".join(sorted(pair.host.accepted))
        if distance == 0:
            reason = f"{stage} is a stage the lab accepts ({accepted})"
        else:
            reason = f"{stage} is {distance} stage(s) from what the lab accepts ({accepted})"
        if pair.stages is not None and stage not in pair.stages:
            reason += f"; the shared programmes are meant for {', '.join(sorted(pair.stages))}"
        return reason


def tenure_fit(desired: int, low: int, high: int) -> float:
    """1 inside [low, high]; outside, exp(-(log-ratio to the nearest bound / tolerance)^2): it falls off
    smoothly with the size of the mismatch, with no cliff."""
    if low <= desired <= high:
        return 1.0
    bound = low if desired < low else high
    return math.exp(-((math.log(desired / bound) / TENURE_TOLERANCE) ** 2))


class Tenure(Component):
    """The length of stay wanted against the lab's hosting window, times the best fit to the ranges of the
    programmes that count (`tenure_fit`)."""

    name, weight, reads, asks = "tenure", 0.15, ("window", "programmes"), ("desired_tenure", "eligible")

    def value(self, pair: Pair) -> float:
        desired = pair.researcher.desired_tenure
        value = tenure_fit(desired, *pair.host.window)
        if pair.ranges:
            value *= max(tenure_fit(desired, low, high) for low, high in pair.ranges)
        return value

    def reason(self, pair: Pair) -> str:
        desired, (low, high) = pair.researcher.desired_tenure, pair.host.window
        stay, span = format_days(desired), f"{format_days(low)} to {format_days(high)}"
        if low <= desired <= high:
            reason = f"{stay} is within the lab's hosting window ({span})"
        else:
            reason = f"{stay} is {'shorter' if desired < low else 'longer'} than the lab's hosting window ({span})"
        if pair.ranges and not any(lo <= desired <= hi for lo, hi in pair.ranges):
            reason += "; outside every shared programme's tenure range"
        return reason


def keyword_phrases(keywords: Iterable[str]) -> frozenset[str]:
    """Keywords as compared: NFKC (half-width katakana and full-width letters as usually written),
    case-folded, inner whitespace collapsed. A phrase is shared when it equals, contains or is contained in
    one of the other side's, in any script ("地震" in "地震学" as "ice" in "ice cores"); across languages
    through the keywords a profile gives in both ("slow slip" and "スロースリップ": either is shared)."""
    return frozenset(" ".join(unicodedata.normalize("NFKC", k).casefold().split()) for k in keywords)


def shared_keywords(mine: Iterable[str], theirs: Collection[str]) -> list[str]:
    """My phrases that equal, contain or are contained in one of theirs, sorted."""
    return sorted(k for k in mine if any(k in t or t in k for t in theirs))


_SECTION_SHARE = 0.7  # of the field component; shared keywords the rest
_LANGUAGE_SHARE = 0.7  # of the practical component; places left the rest


class Field(Component):
    """Shared KAKENHI sections (medium 1, broad only 0.5) at 70%, shared keywords (two or more: 1) at 30%.
    A researcher who gave no fields gets a neutral 0.5 for every lab, which leaves the order unchanged."""

    name, weight, reads, asks = "field", 0.10, ("sections", "broad"), ("sections", "broad", "phrases")

    def value(self, pair: Pair) -> float:
        phrases = pair.researcher.phrases
        return self._value(pair, len(shared_keywords(phrases, pair.host.phrases)) if phrases else 0)

    def bound(self, pair: Pair) -> float:
        return self._value(pair, len(pair.researcher.phrases))  # as if the lab shared every keyword

    def best(self, researcher: ResearcherSide, similarity: Any) -> Any:
        return 1.0 if researcher.sections or researcher.phrases else 0.5

    @staticmethod
    def _value(pair: Pair, keywords: int) -> float:
        r, h = pair.researcher, pair.host
        if not r.sections and not r.phrases:
            return 0.5
        if not r.sections.isdisjoint(h.sections):
            section = 1.0
        elif not r.broad.isdisjoint(h.broad):
            section = 0.5
        else:
            section = 0.0
        return _SECTION_SHARE * section + (1 - _SECTION_SHARE) * min(1.0, keywords / 2)

    def reason(self, pair: Pair) -> str:
        r, h = pair.researcher, pair.host
        if not r.sections and not r.phrases:
            return "no fields given"
        medium, broad = r.sections.intersection(h.sections), r.broad.intersection(h.broad)
        if medium:
            reason = f"same KAKENHI medium section {', '.join(sorted(medium, key=int))}"
        elif broad:
            reason = f"same KAKENHI broad section {', '.join(sorted(broad))}"
        else:
            reason = "no KAKENHI section in common"
        shared = shared_keywords(r.phrases, h.phrases)
        return reason + (f"; shared keywords: {', '.join(shared)}" if shared else "")


class Practical(Component):
    """A shared working language at 70%; places left (none 0, one 0.75, two or more 1) at 30%."""

    name, weight, reads, asks = "practical", 0.05, ("languages", "capacity"), ("languages",)

    def value(self, pair: Pair) -> float:
        capacity = pair.host.capacity
        places = 0.0 if capacity <= 0 else 0.75 if capacity == 1 else 1.0
        language = 0.0 if pair.researcher.languages.isdisjoint(pair.host.languages) else 1.0
        return _LANGUAGE_SHARE * language + (1 - _LANGUAGE_SHARE) * places

    def best(self, researcher: ResearcherSide, similarity: Any) -> Any:
        return 1.0 if researcher.languages else 1 - _LANGUAGE_SHARE

    def reason(self, pair: Pair) -> str:
        shared = sorted(pair.researcher.languages & pair.host.languages)
        language = f"shared language: {', '.join(shared)}" if shared else "no shared language"
        capacity = pair.host.capacity
        places = NO_PLACES if capacity <= 0 else f"{capacity} place{'s' if capacity != 1 else ''} left"
        return f"{language}; {places}"


COMPONENTS: tuple[Component, ...] = (Topic(), Stage(), Tenure(), Field(), Practical())
"""Every component, in the order results show them; the total is their weighted mean (`Weights`)."""
COMPONENT_NAMES = tuple(c.name for c in COMPONENTS)

NO_PLACES = "no places left"
NO_PROGRAMME = "no programme in common"
"""Why a candidate host is left out besides a conflict of interest (matcher.ranking.conflicts)."""


class Weights:
    """Weights of the components in the total (normalised by their sum), by name; a component not named
    keeps its default (`Component.weight`): topic fit matters most; stage and tenure decide between labs of
    similar fit; fields and practicalities break near-ties."""

    __slots__ = ("shares", "values")

    def __init__(self, **weights: float) -> None:
        unknown = sorted(set(weights) - set(COMPONENT_NAMES))
        if unknown:
            raise ValueError(f"unknown weight {unknown[0]!r}; known: {', '.join(sorted(COMPONENT_NAMES))}")
        self.values = tuple(float(weights.get(c.name, c.weight)) for c in COMPONENTS)
        if any(not math.isfinite(v) or v < 0 for v in self.values):
            raise ValueError(f"weights must be finite and non-negative, got {self}")
        if sum(self.values) <= 0:
            raise ValueError("at least one weight must be positive")
        self.shares = tuple(v / sum(self.values) for v in self.values)  # in COMPONENTS order

    def __getitem__(self, name: str) -> float:
        return self.values[COMPONENT_NAMES.index(name)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Weights) and self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"Weights({', '.join(f'{n}={v:g}' for n, v in zip(COMPONENT_NAMES, self.values, strict=True))})"

    @classmethod
    def parse(cls, text: str) -> Weights:
        """From "topic=0.6,stage=0.1"; unnamed components keep their defaults."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, number = (s.strip() for s in part.partition("="))
            try:
                values[name] = float(number)
            except ValueError:
                raise ValueError(f"weight {name!r} must be a number, got {number!r}") from None
        return cls(**values)


# -- many hosts -----------------------------------------------------------------------------------------


class HostTerms:
    """Many hosts in the order of `ids`, grouped for `Scorer.best_totals`: for each tuple of attributes a
    component `reads`, each host's group, (H,), and one host of each group."""

    KEPT = 1024
    """Kinds of researcher (by component) whose bounds `bounds` remembers; all are forgotten when one more
    comes."""

    def __init__(self, ids: list[str], sides: Iterable[HostSide]) -> None:
        hosts = list(sides)
        if len(hosts) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(hosts)} hosts")
        self.ids = ids
        self.groups: dict[tuple[str, ...], tuple[np.ndarray, list[HostSide]]] = {}
        for reads in {c.reads for c in COMPONENTS if c.reads} | {("programmes",)}:
            numbers: dict[tuple[Any, ...], int] = {}
            group = [numbers.setdefault(tuple(getattr(h, a) for a in reads), len(numbers)) for h in hosts]
            members = list({n: h for h, n in zip(hosts, group, strict=True)}.values())
            self.groups[reads] = (np.array(group, dtype=np.int64), members)
        self.capacity = np.array([h.capacity for h in hosts], dtype=np.int64)
        self._bounds: dict[tuple[str, tuple[Any, ...]], np.ndarray] = {}

    def bounds(self, researcher: ResearcherSide, component: Component, positions: np.ndarray) -> np.ndarray:
        """`component.bound` of the researcher and each host at these positions, evaluated once per group of
        hosts equal in what the component reads (a few dozen groups where there are thousands of hosts).

        Remembered by what the component asks of the researcher, for `KEPT` kinds of researcher while these
        hosts are unchanged: applicants share their stage, stay, eligibility and languages. Scoring a
        synthetic call of 3,000 applicants x 1,000 labs (scripts/synthetic.py, seed 5) took 8.7 s without
        it, 6.9 s with it (two paired rounds in one process)."""
        key = (component.name, tuple(getattr(researcher, a) for a in component.asks))
        per_group = self._bounds.get(key)
        if per_group is None:
            if len(self._bounds) >= self.KEPT:
                self._bounds.clear()
            _, members = self.groups[component.reads]
            per_group = np.array([component.bound(Pair.of(researcher, host)) for host in members], dtype=np.float64)
            self._bounds[key] = per_group
        result: np.ndarray = per_group[self.groups[component.reads][0][positions]]
        return result


# -- scoring --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairScore:
    """A pair, each component's value (in `COMPONENTS` order) and the weighted total. The reasons are
    written when `components` is read, so ranking thousands of pairs writes none."""

    pair: Pair
    values: tuple[float, ...]
    total: float
    weights: Weights

    @property
    def similarity(self) -> float:
        return self.pair.similarity

    @property
    def programmes(self) -> tuple[str, ...]:
        """The programmes this pair could apply under."""
        return self.pair.programmes

    @property
    def host(self) -> HostSide:
        return self.pair.host

    @property
    def components(self) -> tuple[results.Component, ...]:
        return tuple(
            results.Component(name=c.name, value=round(v, 4), weight=w, reason=c.reason(self.pair))
            for c, v, w in zip(COMPONENTS, self.values, self.weights.values, strict=True)
        )


class Scorer:
    """One researcher against many hosts: a match's candidates, an applicant's shortlist."""

    __slots__ = ("researcher", "weights")

    def __init__(self, researcher: ResearcherSide, weights: Weights) -> None:
        self.researcher = researcher
        self.weights = weights

    def __call__(self, host: HostSide, similarity: float) -> PairScore:
        """Every component value and the weighted total for this researcher and `host` (no reasons written)."""
        pair = Pair.of(self.researcher, host, similarity)
        values = tuple([c.value(pair) for c in COMPONENTS])
        total = 0.0
        for share, value in zip(self.weights.shares, values, strict=True):
            total += share * value
        return PairScore(pair, values, total, self.weights)

    def best_total(self, similarity: Any) -> Any:
        """The highest total any host with this topic similarity (a number, or an array of them) can reach
        with this researcher: once a match has `top` totals above it, no host of lower similarity can enter
        them (exact pruning). A little slack covers sums taken in another order."""
        r, shares = self.researcher, self.weights.shares
        return sum(s * c.best(r, similarity) for s, c in zip(shares, COMPONENTS, strict=True)) + 1e-9

    def best_totals(self, hosts: HostTerms, positions: np.ndarray, similarities: np.ndarray) -> np.ndarray:
        """The most each host at these positions of `hosts` can total with this researcher at these topic
        similarities: a component that reads no host its `best`, the others their `bound`, evaluated once
        per group of hosts equal in what it reads (`HostTerms`). Exactly the total, except that shared
        keywords count as if the host shared every keyword the researcher gave (finding which it shares
        takes a string search per host)."""
        positions = np.asarray(positions, dtype=np.int64)
        totals = np.zeros(len(positions))
        for s, c in zip(self.weights.shares, COMPONENTS, strict=True):
            if c.reads:
                totals += s * hosts.bounds(self.researcher, c, positions)
            else:
                totals += s * c.best(self.researcher, np.asarray(similarities))  # the topic
        return totals

    def open_to(self, hosts: HostTerms, positions: np.ndarray, programme: str | None = None) -> np.ndarray:
        """Whether each host at these positions shares a programme with this researcher (`programme`, if
        given) and has places left: the hosts a call may assign them to."""
        group, members = hosts.groups[("programmes",)]
        shared = [Pair.of(self.researcher, h).programmes for h in members]
        shares = np.array([programme in s if programme else bool(s) for s in shared], dtype=bool)
        positions = np.asarray(positions, dtype=np.int64)
        result: np.ndarray = shares[group[positions]] & (hosts.capacity[positions] > 0)
        return result


# -- filters --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostFilter:
    """Which hosts a search may return. Empty fields do not filter. Text matches ignore case.

    section: a KAKENHI broad letter ("J") or medium code ("61"); institution: a part of the name;
    prefecture: exact; region: one of models.regions.REGIONS; language: ISO 639-1; programme: an id.
    """

    programme: str | None = None
    section: str | None = None
    institution: str | None = None
    prefecture: str | None = None
    region: str | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        if self.programme and self.programme not in programmes():
            raise ValueError(f"programme: unknown programme {self.programme!r}; known: {', '.join(programmes())}")
        if self.section:
            code = self.section.strip()
            try:
                ok = medium_sections_in(code) if code.isalpha() else normalise_section(code)
            except ValueError:
                ok = None
            if not ok:
                raise ValueError(f"section: {code!r} is neither a KAKENHI broad section (A-K) nor a medium section")
        if self.region and self.region.casefold() not in {r.casefold() for r in REGIONS}:
            raise ValueError(f"region: unknown region {self.region!r}; known: {', '.join(REGIONS)}")
        if self.language and not (len(self.language) == 2 and self.language.isalpha()):
            raise ValueError(f"language: {self.language!r} is not an ISO 639-1 code such as 'en'")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def allows(self, host: HostSide) -> bool:
        """Whether the host passes every active filter (`HostSide.of(record)` for a full record)."""
        if self.programme and self.programme not in host.programmes:
            return False
        if self.section:
            wanted = self.section.strip().upper()
            if wanted.isalpha():
                if wanted not in host.broad:
                    return False
            elif str(int(wanted)) not in host.sections:
                return False
        if self.institution and self.institution.casefold() not in host.institution.casefold():
            return False
        if self.prefecture and self.prefecture.casefold() != host.prefecture.casefold():
            return False
        if self.region and (region_of(host.prefecture) or "").casefold() != self.region.casefold():
            return False
        return not (self.language and self.language.casefold() not in host.languages)


def ordered(items: Sequence[tuple[str, float]]) -> list[int]:
    """Positions of (id, score) items best first: score descending, ties broken by id ascending."""
    return sorted(range(len(items)), key=lambda i: (-items[i][1], items[i][0]))


def best_positions(values: np.ndarray, n: int) -> list[int]:
    """Positions of the n largest values, best first, ties by position (with items in id order: by id).

    A partial partition, then a sort of only what it kept (and of every value tied with the last one kept).
    """
    values = np.asarray(values)
    if n <= 0 or not len(values):
        return []
    if n < len(values):
        threshold = np.partition(values, len(values) - n)[len(values) - n]
        kept = np.flatnonzero(values >= threshold)
    else:
        kept = np.arange(len(values))
    best: list[int] = kept[np.argsort(-values[kept], kind="stable")][:n].tolist()
    return best


def best_pairs(sims: np.ndarray, length: int, *, n: int = 3) -> list[tuple[int, int, float]]:
    """The n closest (query text, document) pairs of one host, one pair per document, best first.

    Args:
        sims: (m, L) similarities of m query texts to the host's documents (columns beyond `length` are
            padding).
        length: how many documents the host really has.
        n: pairs to return at most.

    Returns:
        [(query index, document index, similarity)], ties broken by document then query index.
    """
    real = np.asarray(sims)[:, :length]
    best_query = real.argmax(axis=0)
    best_sim = real[best_query, np.arange(length)]
    docs = sorted(range(length), key=lambda d: (-float(best_sim[d]), d))[:n]
    return [(int(best_query[d]), d, float(best_sim[d])) for d in docs]
