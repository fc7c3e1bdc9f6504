"""Shared fixtures: a deterministic fake embedder that counts its calls, profile factories, and the real
model loaded once per session (marked slow)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.progress import Progress
from models.profiles import HostLab, ResearcherProfile

_WORD = re.compile(r"[a-z]+")


class FakeEmbedder:
    """Bag of words hashed into `dim` buckets, unit length: texts sharing words are close.

    Counts every text it is asked to embed, so tests can prove the cache spared it.
    """

    def __init__(self, dim: int = 64, fingerprint: str = "fake-bow-64") -> None:
        self._dim = dim
        self._fingerprint = fingerprint
        self.calls = 0
        self.texts_embedded = 0

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self._dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(1, self._dim, row % self._dim)
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def host_record(host_id: str = "h-1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": host_id,
        "pi_name": "Test PI",
        "lab_name": f"Lab {host_id}",
        "institution": "Kyoto University",
        "prefecture": "Kyoto",
        "city": "Kyoto",
        "fields": {"sections": ["61"], "keywords": ["testing"]},
        "description": "A lab that studies testing.",
        "publications": [],
        "capacity": 2,
        "accepted_stages": ["R2", "R3"],
        "hosting_window": {"min": "1 month", "max": "24 months"},
        "programmes": ["postdoc-standard", "postdoc-short"],
        "languages": ["en", "ja"],
    }
    record.update(overrides)
    return record


def researcher_record(researcher_id: str = "r-1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": researcher_id,
        "name": "Test Researcher",
        "institution": "University of Leeds",
        "country": "GB",
        "nationality": "GB",
        "statement": "I study testing.",
        "phd": 2022,
        "position": "postdoc",
        "desired_tenure": "12 months",
        "programmes": ["postdoc-standard"],
        "languages": ["en"],
    }
    record.update(overrides)
    return record


def stored_hosts(store: Any) -> dict[str, HostLab]:
    """Every host a `matcher.store.Store` holds, by id (in id order)."""
    return {h.id: h for h in store.iter_hosts()}


@pytest.fixture
def make_host() -> Callable[..., HostLab]:
    def make(host_id: str = "h-1", **overrides: Any) -> HostLab:
        return HostLab.model_validate(host_record(host_id, **overrides))

    return make


@pytest.fixture
def make_researcher() -> Callable[..., ResearcherProfile]:
    def make(researcher_id: str = "r-1", **overrides: Any) -> ResearcherProfile:
        return ResearcherProfile.model_validate(researcher_record(researcher_id, **overrides))

    return make


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    from matcher.encoders.torch_backend import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.encode(["warm-up"])
    return embedder


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedding cache shared by the slow tests, so the sample corpus is embedded once per session."""
    return tmp_path_factory.mktemp("shared-cache")


SCREENSHOTS = Path(os.environ.get("HOSTMATCH_SCREENSHOTS") or Path(__file__).parents[1] / "build" / "screenshots")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the browser tests save what they saw (printed at the end of the run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS.resolve()}")
