"""Ranking that knows the fellowship. Pure functions over numbers and domain objects.

Every score component is in [0, 1] and comes with a reason a person can read:

- topic: the researcher's texts against the lab's documents (matcher.similarity), calibrated by a fixed
  logistic curve (`calibrate_topic`). The curve is the same for every query and every run, never
  normalised per query or per batch, so a 0.8 means the same thing today and next year.
- stage: the researcher's career stage (R1–R4) against the stages the lab accepts, and whether the
  programmes they could use are meant for that stage.
- tenure: the length of stay wanted against the lab's hosting window and the programmes' ranges. It falls
  off smoothly (Gaussian in the log of the ratio) with the size of the mismatch; there is no cliff.
- field: shared KAKENHI sections (medium 1.0, broad 0.5) and shared keywords.
- practical: a shared working language, and places left.

The total is the weighted mean of the components (`Weights`, documented defaults). Soft preferences only
lower it. Hard constraints remove a host instead: the requested programme (researcher not eligible, or the
host not in it), no places left, and conflicts of interest (matcher.conflicts). Order is by total
descending, ties by host id.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cache, cached_property, lru_cache
from typing import Any, TypeVar, cast

import numpy as np

from models.durations import format_days
from models.eligibility import Verdict
from models.profiles import HostLab, ResearcherProfile
from models.programmes import programmes
from models.regions import REGIONS, region_of
from models.results import Component
from models.stages import CareerStage
from models.taxonomy import broad_sections_of, medium_sections_in, normalise_section

TOPIC_MIDPOINT = 0.35
"""Cosine similarity that maps to topic 0.5. Chosen for all-MiniLM-L6-v2 on abstracts: unrelated
scientific texts sit around 0.05-0.2, texts of one subfield around 0.4-0.7."""
TOPIC_SCALE = 0.08
"""Width of the logistic: similarity 0.19 maps to 0.12, 0.51 to 0.88."""
TENURE_TOLERANCE = 0.35
"""Log-ratio at which tenure fit has fallen to 1/e: a stay 42% longer (or 30% shorter) than allowed."""


@dataclass(frozen=True)
class Weights:
    """Weights of the components in the total (normalised by their sum). Defaults: topic fit matters most;
    stage and tenure decide between labs of similar fit; fields and practicalities break near-ties."""

    topic: float = 0.55
    stage: float = 0.15
    tenure: float = 0.15
    field: float = 0.10
    practical: float = 0.05

    @cached_property
    def shares(self) -> tuple[float, ...]:
        """Each component's weight over the sum of the weights, in field (`COMPONENTS`) order."""
        values = [getattr(self, f.name) for f in fields(self)]
        return tuple(v / sum(values) for v in values)

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError(f"weights must be finite and non-negative, got {self}")
        if sum(values) <= 0:
            raise ValueError("at least one weight must be positive")

    @classmethod
    def parse(cls, text: str) -> Weights:
        """From "topic=0.6,stage=0.1"; unnamed components keep their defaults."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, number = part.partition("=")
            if name.strip() not in known:
                raise ValueError(f"unknown weight {name.strip()!r}; known: {', '.join(sorted(known))}")
            try:
                values[name.strip()] = float(number)
            except ValueError:
                raise ValueError(f"weight {name.strip()!r} must be a number, got {number!r}") from None
        return cls(**values)


# -- components -----------------------------------------------------------------------------------------
# Each component has a value function, the hot path (hundreds of pairs per match, ~250,000 per call), and a
# `*_component` that adds the reason a person reads, written only for the pairs that are shown.


def calibrate_topic(similarity: float) -> float:
    """Fixed logistic map from cosine similarity to [0, 1] (see TOPIC_MIDPOINT, TOPIC_SCALE)."""
    return 1.0 / (1.0 + math.exp(-(similarity - TOPIC_MIDPOINT) / TOPIC_SCALE))


def calibrate_topics(similarities: np.ndarray) -> np.ndarray:
    """`calibrate_topic` of many similarities at once."""
    result: np.ndarray = 1.0 / (1.0 + np.exp(-(np.asarray(similarities, np.float64) - TOPIC_MIDPOINT) / TOPIC_SCALE))
    return result


def topic_component(similarity: float) -> tuple[float, str]:
    value = calibrate_topic(similarity)
    strength = "strong" if value >= 0.8 else "good" if value >= 0.5 else "partial" if value >= 0.2 else "weak"
    return value, f"{strength} topic fit (similarity {similarity:.2f})"


_STAGE_INDEX = {stage: i for i, stage in enumerate(CareerStage)}
_STAGE_FIT = (1.0, 0.4, 0.1, 0.0)  # by distance in stages from the nearest accepted one
_OFF_PROGRAMME = 0.75  # factor when the shared programmes are meant for other stages


def stage_distance(stage: CareerStage, accepted: Collection[CareerStage]) -> int:
    return min(abs(_STAGE_INDEX[stage] - _STAGE_INDEX[s]) for s in accepted)


def stage_value(
    stage: CareerStage, accepted: Collection[CareerStage], programme_stages: Collection[CareerStage] | None
) -> float:
    """How well a career stage fits the lab (and the programmes the pair could use).

    Args:
        stage: the researcher's stage.
        accepted: stages the lab accepts (non-empty).
        programme_stages: stages the shared programmes are meant for; None when no programme is shared.
    """
    value = _STAGE_FIT[stage_distance(stage, accepted)]
    return value * _OFF_PROGRAMME if programme_stages is not None and stage not in programme_stages else value


def stage_component(
    stage: CareerStage, accepted: Collection[CareerStage], programme_stages: Collection[CareerStage] | None
) -> tuple[float, str]:
    """`stage_value` and its reason."""
    distance = stage_distance(stage, accepted)
    accepted_text = ", ".join(sorted(accepted))
    if distance == 0:
        reason = f"{stage} is a stage the lab accepts ({accepted_text})"
    else:
        reason = f"{stage} is {distance} stage(s) from what the lab accepts ({accepted_text})"
    if programme_stages is not None and stage not in programme_stages:
        reason += f"; the shared programmes are meant for {', '.join(sorted(programme_stages))}"
    return stage_value(stage, accepted, programme_stages), reason


def tenure_fit(desired: int, low: int, high: int) -> float:
    """1 inside [low, high]; outside, exp(-(log-ratio to the nearest bound / tolerance)^2)."""
    if low <= desired <= high:
        return 1.0
    bound = low if desired < low else high
    return math.exp(-((math.log(desired / bound) / TENURE_TOLERANCE) ** 2))


def tenure_value(desired: int, window: tuple[int, int], programme_ranges: Sequence[tuple[int, int]]) -> float:
    """Fit of the wanted stay to the lab's window, times the best fit to a programme range (if any)."""
    value = tenure_fit(desired, *window)
    if programme_ranges:
        value *= max(tenure_fit(desired, low, high) for low, high in programme_ranges)
    return value


def tenure_component(
    desired: int, window: tuple[int, int], programme_ranges: Sequence[tuple[int, int]]
) -> tuple[float, str]:
    """`tenure_value` and its reason."""
    low, high = window
    stay, span = format_days(desired), f"{format_days(low)} to {format_days(high)}"
    if low <= desired <= high:
        reason = f"{stay} is within the lab's hosting window ({span})"
    else:
        reason = f"{stay} is {'shorter' if desired < low else 'longer'} than the lab's hosting window ({span})"
    if programme_ranges and not any(lo <= desired <= hi for lo, hi in programme_ranges):
        reason += "; outside every shared programme's tenure range"
    return tenure_value(desired, window, programme_ranges), reason


def keyword_phrases(keywords: Iterable[str]) -> frozenset[str]:
    """Keywords as compared: NFKC (half-width katakana and full-width letters as usually written),
    case-folded, inner whitespace collapsed. A phrase is shared when it equals, contains or is contained in
    one of the other side's, in any script ("地震" in "地震学" as "ice" in "ice cores"); across languages
    through the keywords a profile gives in both ("slow slip" and "スロースリップ": either is shared)."""
    return frozenset(" ".join(unicodedata.normalize("NFKC", k).casefold().split()) for k in keywords)


def _keyword_shared(phrase: str, theirs: Iterable[str]) -> bool:
    """Whether a phrase equals, contains or is contained in one of theirs."""
    return any(phrase in t or t in phrase for t in theirs)


def shared_keywords(mine: Iterable[str], theirs: Collection[str]) -> list[str]:
    """My phrases that equal, contain or are contained in one of theirs, sorted."""
    return sorted(k for k in mine if _keyword_shared(k, theirs))


_SECTION_SHARE = 0.7  # of the field component; shared keywords the rest
_LANGUAGE_SHARE = 0.7  # of the practical component; places left the rest


def field_value(
    sections: Collection[str],
    broad: Collection[str],
    phrases: Collection[str],
    host_sections: Iterable[str],
    host_broad: Iterable[str],
    host_phrases: Collection[str],
) -> float:
    """Shared KAKENHI sections (medium 1, broad only 0.5) at 70%, shared keywords (two or more: 1) at 30%.

    A researcher who gave no fields gets a neutral 0.5 for every lab, which leaves the order unchanged.
    Sections are medium codes, broad are their letters, phrases come from `keyword_phrases`.
    """
    if not sections and not phrases:
        return 0.5
    if any(s in sections for s in host_sections):
        section = 1.0
    elif any(b in broad for b in host_broad):
        section = 0.5
    else:
        section = 0.0
    keywords = sum(1 for k in phrases if _keyword_shared(k, host_phrases))
    return _SECTION_SHARE * section + (1 - _SECTION_SHARE) * min(1.0, keywords / 2)


def field_component(
    researcher_sections: Sequence[str],
    researcher_keywords: Sequence[str],
    host_sections: Sequence[str],
    host_keywords: Sequence[str],
) -> tuple[float, str]:
    """`field_value` of the researcher's and the lab's fields, and its reason."""
    mine, theirs = keyword_phrases(researcher_keywords), keyword_phrases(host_keywords)
    r_broad = {b for s in researcher_sections for b in broad_sections_of(s)}
    h_broad = {b for s in host_sections for b in broad_sections_of(s)}
    value = field_value(set(researcher_sections), r_broad, mine, host_sections, h_broad, theirs)
    if not researcher_sections and not researcher_keywords:
        return value, "no fields given"
    shared_medium = set(researcher_sections) & set(host_sections)
    if shared_medium:
        reason = f"same KAKENHI medium section {', '.join(sorted(shared_medium, key=int))}"
    elif r_broad & h_broad:
        reason = f"same KAKENHI broad section {', '.join(sorted(r_broad & h_broad))}"
    else:
        reason = "no KAKENHI section in common"
    shared = shared_keywords(mine, theirs)
    return value, reason + (f"; shared keywords: {', '.join(shared)}" if shared else "")


def places_value(capacity: int) -> float:
    """Places left: none 0, one 0.75, two or more 1."""
    return 0.0 if capacity <= 0 else 0.75 if capacity == 1 else 1.0


def practical_value(researcher_languages: Collection[str], host_languages: Iterable[str], capacity: int) -> float:
    """A shared language at 70%; places left (`places_value`) at 30%."""
    language = 1.0 if any(lang in researcher_languages for lang in host_languages) else 0.0
    return _LANGUAGE_SHARE * language + (1 - _LANGUAGE_SHARE) * places_value(capacity)


def practical_component(
    researcher_languages: Collection[str], host_languages: Collection[str], capacity: int
) -> tuple[float, str]:
    """`practical_value` and its reason."""
    shared = sorted(set(researcher_languages) & set(host_languages))
    language_reason = f"shared language: {', '.join(shared)}" if shared else "no shared language"
    place_reason = "no places left" if capacity <= 0 else f"{capacity} place{'s' if capacity != 1 else ''} left"
    return practical_value(researcher_languages, host_languages, capacity), f"{language_reason}; {place_reason}"


COMPONENTS = ("topic", "stage", "tenure", "field", "practical")


def combine(values: dict[str, float], weights: Weights) -> float:
    """Weighted mean of component values; non-decreasing in every component."""
    total_weight = sum(getattr(weights, name) for name in values)
    if total_weight <= 0:
        return 0.0
    return float(sum(getattr(weights, name) * value for name, value in values.items()) / total_weight)


# -- one pair -------------------------------------------------------------------------------------------


NO_PLACES = "no places left"


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
    keywords: tuple[str, ...]  # as given, for reasons

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
            keywords=fields_.keywords,
        )


@dataclass(frozen=True, slots=True)
class HostSide:
    """What matching reads of a host: the components' inputs, what filters test and the names a result
    shows; folded once and kept while the host is unchanged, in place of the record (whose publications and
    description matching never reads). Small tuples: membership tests over a few items are as fast as sets
    and take a fraction of the memory."""

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
    keywords: tuple[str, ...]
    languages: frozenset[str]
    capacity: int

    @classmethod
    def of(cls, host: HostLab) -> HostSide:
        return cls(
            id=host.id,
            lab_name=host.lab_name,
            pi_name=host.pi_name,
            institution=_shared(host.institution),
            prefecture=_shared(host.prefecture),
            accepted=_shared(host.accepted_stages),
            window=_shared((host.hosting_window.min, host.hosting_window.max)),
            programmes=_shared(tuple(p for p in programmes() if p in host.programmes)),
            sections=_shared(tuple(host.fields.sections)),
            broad=_shared(tuple(sorted(host.fields.broad_sections))),
            phrases=tuple(sorted(keyword_phrases(host.fields.keywords))),  # mostly a lab's own: not shared
            keywords=host.fields.keywords,
            languages=_shared(host.languages),
            capacity=host.capacity,
        )


_NOWHERE = np.zeros(0, dtype=np.int64)
_FITS_KEPT = 256  # kinds of researcher whose values a HostTerms keeps


@dataclass(frozen=True)
class _KindFits:
    """For one kind of researcher, each kind of lab's stage and tenure values and shared programmes."""

    stage: np.ndarray
    tenure: np.ndarray
    shared: list[tuple[str, ...]]
    shares_any: np.ndarray  # whether `shared` is not empty


_SHARED: dict[Any, Any] = {}  # each distinct value seen, kept for the process: only values labs repeat
_T = TypeVar("_T")


def _shared(value: _T) -> _T:
    """The one object held for every value equal to this one. Labs repeat their institution, stages,
    window, programmes and languages: thousands of hosts need not each hold their own copies."""
    return cast(_T, _SHARED.setdefault(value, value))


_Terms = tuple[frozenset[CareerStage], tuple[int, int], tuple[str, ...]]  # accepted stages, window, programmes


@dataclass(frozen=True, eq=False)
class HostTerms:
    """Many hosts' terms as arrays, host by host in the order of `ids`: what `Scorer.best_totals` reads to
    bound the components other than topic for hundreds of hosts in a few array operations."""

    ids: list[str]
    kinds: np.ndarray  # (H,) index into `kind_terms`
    kind_terms: list[_Terms]  # each distinct (accepted, window, programmes)
    sections: dict[str, np.ndarray]  # medium section -> positions of the hosts giving it
    broad: dict[str, np.ndarray]  # broad section -> positions
    tongues: np.ndarray  # (H,) index into `tongue_sets`
    tongue_sets: list[frozenset[str]]  # each distinct set of working languages
    places: np.ndarray  # (H,) `places_value` of each host's capacity
    fits: dict[tuple[CareerStage, int, tuple[str, ...]], _KindFits] = dataclasses.field(
        default_factory=dict, repr=False
    )  # by researcher stage, stay and eligibility: what each kind of lab gives them (`Scorer.best_totals`)

    @classmethod
    def of(cls, ids: list[str], sides: Iterable[HostSide]) -> HostTerms:
        kinds: dict[_Terms, int] = {}
        tongues: dict[frozenset[str], int] = {}
        sections: dict[str, list[int]] = {}
        broad: dict[str, list[int]] = {}
        kind, tongue, places = [], [], []
        for i, host in enumerate(sides):
            kind.append(kinds.setdefault((host.accepted, host.window, host.programmes), len(kinds)))
            tongue.append(tongues.setdefault(host.languages, len(tongues)))
            places.append(places_value(host.capacity))
            for code in host.sections:
                sections.setdefault(code, []).append(i)
            for letter in host.broad:
                broad.setdefault(letter, []).append(i)
        if len(kind) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(kind)} hosts")
        return cls(
            ids=ids,
            kinds=np.array(kind, dtype=np.int32),
            kind_terms=list(kinds),
            sections={code: np.array(at, dtype=np.int64) for code, at in sections.items()},
            broad={letter: np.array(at, dtype=np.int64) for letter, at in broad.items()},
            tongues=np.array(tongue, dtype=np.int32),
            tongue_sets=list(tongues),
            places=np.array(places, dtype=np.float64),
        )


@cache
def _programme_terms(considered: tuple[str, ...]) -> tuple[frozenset[CareerStage] | None, tuple[tuple[int, int], ...]]:
    """Stages the programmes are meant for (None if there are none) and their tenure ranges."""
    table = programmes()
    stages = frozenset(s for p in considered for s in table[p].stages)
    return stages or None, tuple((table[p].tenure_min, table[p].tenure_max) for p in considered)


@dataclass(frozen=True, slots=True)
class Part:
    """One component of a pair's score, with its reason (`as_component` for results)."""

    name: str
    value: float
    weight: float
    reason: str

    def as_component(self) -> Component:
        return Component(name=self.name, value=self.value, weight=self.weight, reason=self.reason)


@dataclass(frozen=True, slots=True)
class PairScore:
    """One researcher and one host: the total, the component values, and the programmes they could use.

    The reasons are written when `components` is read, so ranking thousands of pairs writes none."""

    total: float
    similarity: float
    values: tuple[float, ...]  # in COMPONENTS order
    programmes: tuple[str, ...]  # programmes this pair could apply under
    weights: Weights
    researcher: ResearcherSide
    host: HostSide

    @property
    def components(self) -> tuple[Part, ...]:
        r, h = self.researcher, self.host
        programme_stages, ranges = _programme_terms(_considered(r, h))
        reasons = (
            topic_component(self.similarity)[1],
            stage_component(r.stage, h.accepted, programme_stages)[1],
            tenure_component(r.desired_tenure, h.window, ranges)[1],
            field_component(tuple(r.sections), r.keywords, h.sections, h.keywords)[1],
            practical_component(r.languages, h.languages, h.capacity)[1],
        )
        return tuple(
            Part(name, round(value, 4), getattr(self.weights, name), reason)
            for name, value, reason in zip(COMPONENTS, self.values, reasons, strict=True)
        )

    def result_components(self) -> tuple[Component, ...]:
        return tuple(part.as_component() for part in self.components)


def _considered(researcher: ResearcherSide, host: HostSide) -> tuple[str, ...]:
    """The programmes whose stages and tenure ranges count: the shared ones, else all of the host's."""
    return _programme_fit(researcher, host)[0] or host.programmes


_ProgrammeFit = tuple[tuple[str, ...], float, float]  # shared programmes, stage value, tenure value


def _programme_fit(researcher: ResearcherSide, host: HostSide) -> _ProgrammeFit:
    """The programmes a pair shares, and the stage and tenure values they and the host's terms decide."""
    return _fit(
        researcher.stage, researcher.desired_tenure, researcher.eligible, host.accepted, host.window, host.programmes
    )


@lru_cache(maxsize=4096)
def _fit(
    stage: CareerStage,
    desired_tenure: int,
    eligible: tuple[str, ...],
    accepted: frozenset[CareerStage],
    window: tuple[int, int],
    host_programmes: tuple[str, ...],
) -> _ProgrammeFit:
    """`_programme_fit` of its inputs alone, remembered across researchers: labs repeat one another's
    stages, windows and programmes, and researchers their stage, stay and eligibility, so a few hundred
    combinations cover thousands of pairs. The 4,096 most recent are kept."""
    shared = tuple(p for p in eligible if p in host_programmes)
    programme_stages, ranges = _programme_terms(shared or host_programmes)
    return shared, stage_value(stage, accepted, programme_stages), tenure_value(desired_tenure, window, ranges)


class Scorer:
    """`score` for one researcher against many hosts: a match's candidates, an applicant's shortlist.

    The programmes a pair shares and its stage and tenure values come from `_programme_fit`, which
    remembers each combination of terms; the per-researcher part here is the pruning bound. Values and
    totals are exactly `score`'s.
    """

    __slots__ = ("_rest", "_shares", "researcher", "weights")

    def __init__(self, researcher: ResearcherSide, weights: Weights) -> None:
        self.researcher = researcher
        self.weights = weights
        self._shares = weights.shares
        # The most the other components can add for this researcher, whatever the host: stage and tenure
        # up to 1; field exactly 0.5 when no fields are given; practical only its places part (0.3) when no
        # language is given. A little slack covers sums taken in another order.
        field = 1.0 if researcher.sections or researcher.phrases else 0.5
        practical = 1.0 if researcher.languages else 1 - _LANGUAGE_SHARE
        s = self._shares
        self._rest = s[1] + s[2] + s[3] * field + s[4] * practical + 1e-9

    def best_total(self, similarity: float) -> float:
        """The highest total any host with this topic similarity can reach with this researcher: once a
        match has `top` totals above it, no host of lower similarity can enter them (exact pruning)."""
        return self._shares[0] * calibrate_topic(similarity) + self._rest

    def best_totals(self, hosts: HostTerms, positions: np.ndarray, similarities: np.ndarray) -> np.ndarray:
        """The most each host at these positions of `hosts` can total with this researcher at these topic
        similarities: exactly this scorer's totals, except that shared keywords count as if the host shared
        every keyword the researcher gave (finding which it shares takes a string search per host). For
        hundreds of hosts at once, in array operations."""
        totals: np.ndarray = self._shares[0] * calibrate_topics(similarities) + self._rest_bounds(hosts, positions)
        return totals

    def open_to(self, hosts: HostTerms, positions: np.ndarray, programme: str | None = None) -> np.ndarray:
        """Whether each host at these positions shares a programme with this researcher (`programme`, if
        given) and has places left: the hosts a call may assign them to."""
        fits = self._kind_fits(hosts)
        if programme is None:
            shares = fits.shares_any
        else:
            shares = np.array([programme in shared for shared in fits.shared], dtype=bool)
        positions = np.asarray(positions, dtype=np.int64)
        result: np.ndarray = shares[hosts.kinds[positions]] & (hosts.places[positions] > 0)
        return result

    def _kind_fits(self, hosts: HostTerms) -> _KindFits:
        r = self.researcher
        key = (r.stage, r.desired_tenure, r.eligible)
        fits = hosts.fits.get(key)
        if fits is None:  # once per kind of researcher while the hosts are unchanged
            if len(hosts.fits) >= _FITS_KEPT:
                hosts.fits.clear()
            fitted = [_fit(*key, *terms) for terms in hosts.kind_terms]
            fits = hosts.fits[key] = _KindFits(
                stage=np.array([f[1] for f in fitted]),
                tenure=np.array([f[2] for f in fitted]),
                shared=[f[0] for f in fitted],
                shares_any=np.array([bool(f[0]) for f in fitted], dtype=bool),
            )
        return fits

    def _rest_bounds(self, hosts: HostTerms, positions: np.ndarray) -> np.ndarray:
        r, s = self.researcher, self._shares
        positions = np.asarray(positions, dtype=np.int64)
        kinds = hosts.kinds[positions]
        fits = self._kind_fits(hosts)
        stage, tenure = fits.stage, fits.tenure
        if r.sections or r.phrases:
            section = np.zeros(len(hosts.kinds))
            for letter in r.broad:
                section[hosts.broad.get(letter, _NOWHERE)] = 0.5
            for code in r.sections:
                section[hosts.sections.get(code, _NOWHERE)] = 1.0
            keywords = min(1.0, len(r.phrases) / 2)
            field = _SECTION_SHARE * section[positions] + (1 - _SECTION_SHARE) * keywords
        else:
            field = np.full(len(positions), 0.5)
        speaks = np.array([1.0 if tongue & r.languages else 0.0 for tongue in hosts.tongue_sets])
        practical = _LANGUAGE_SHARE * speaks[hosts.tongues[positions]] + (1 - _LANGUAGE_SHARE) * hosts.places[positions]
        bounds: np.ndarray = s[1] * stage[kinds] + s[2] * tenure[kinds] + s[3] * field + s[4] * practical
        return bounds

    def __call__(self, host: HostSide, similarity: float) -> PairScore:
        """Every component value and the weighted total for this researcher and `host` (no reasons written)."""
        r = self.researcher
        shared, stage, tenure = _programme_fit(r, host)
        topic = calibrate_topic(similarity)
        field = field_value(r.sections, r.broad, r.phrases, host.sections, host.broad, host.phrases)
        practical = practical_value(r.languages, host.languages, host.capacity)
        s = self._shares
        total = s[0] * topic + s[1] * stage + s[2] * tenure + s[3] * field + s[4] * practical
        return PairScore(total, similarity, (topic, stage, tenure, field, practical), shared, self.weights, r, host)


def score(researcher: ResearcherSide, host: HostSide, similarity: float, weights: Weights) -> PairScore:
    """Every component value and the weighted total for one pair, no reasons written (`Scorer` for many)."""
    return Scorer(researcher, weights)(host, similarity)


def score_pair(
    researcher: ResearcherProfile,
    host: HostLab,
    similarity: float,
    *,
    stage: CareerStage,
    verdicts: Sequence[Verdict],
    weights: Weights,
) -> PairScore:
    """`score` of a researcher and a host given as profiles (folding both sides first)."""
    return score(ResearcherSide.of(researcher, stage=stage, verdicts=verdicts), HostSide.of(host), similarity, weights)


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
