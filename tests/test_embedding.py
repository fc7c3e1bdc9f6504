from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.encoders import make_embedder
from matcher.encoders.embedding import (
    CachingEmbedder,
    EmbeddingCache,
    MemoryCache,
    MeteredEmbedder,
    NoCache,
    default_model_path,
    text_key,
)
from matcher.encoders.torch_backend import SentenceTransformerEmbedder
from matcher.errors import Overloaded, TooManyTexts
from matcher.progress import Progress
from tests.conftest import FakeEmbedder


def test_cache_hits_skip_the_model(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    embedder = CachingEmbedder(fake, EmbeddingCache(tmp_path / "cache.sqlite3"))
    first = embedder.encode(["alpha beta", "gamma", "alpha beta"])
    assert fake.texts_embedded == 2  # the repeated text is embedded once
    again = embedder.encode(["gamma", "alpha beta"])
    assert fake.texts_embedded == 2 and embedder.last_misses == 0
    np.testing.assert_array_equal(again, first[[1, 0]])
    embedder.encode(["gamma", "delta"])
    assert fake.texts_embedded == 3 and embedder.last_misses == 1


def test_the_cache_survives_a_restart_and_keeps_models_apart(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    CachingEmbedder(FakeEmbedder(), EmbeddingCache(path)).encode(["one", "two"])
    reopened = FakeEmbedder()
    CachingEmbedder(reopened, EmbeddingCache(path)).encode(["one", "two"])
    assert reopened.texts_embedded == 0
    other_model = FakeEmbedder(fingerprint="another-model")
    CachingEmbedder(other_model, EmbeddingCache(path)).encode(["one", "two"])
    assert other_model.texts_embedded == 2


def test_a_cache_of_the_first_layout_is_moved_over_once(tmp_path: Path) -> None:
    """Caches written before the vectors moved out of the primary-key b-tree keep every vector."""
    path = tmp_path / "cache.sqlite3"
    fake = FakeEmbedder()
    vector = fake.encode(["kept"])[0]
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE embedding (fingerprint TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (fingerprint, key)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO embedding VALUES (?, ?, ?)", (fake.fingerprint, text_key("kept"), vector.tobytes()))
    reopened = FakeEmbedder()
    np.testing.assert_array_equal(CachingEmbedder(reopened, EmbeddingCache(path)).encode(["kept"])[0], vector)
    assert reopened.texts_embedded == 0
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"vectors"}
    assert EmbeddingCache(path).count() == 1  # opening again finds nothing left to move


def test_long_inputs_are_stored_chunk_by_chunk(tmp_path: Path) -> None:
    """An interrupted embed keeps what it finished: every chunk is in the cache before the next starts."""

    class Failing(FakeEmbedder):
        def encode(self, texts: Any, *, progress: Progress | None = None) -> np.ndarray:
            if self.calls == 2:
                raise KeyboardInterrupt
            return super().encode(texts)

    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    texts = [f"text number {i}" for i in range(CachingEmbedder.CHUNK * 3)]
    with pytest.raises(KeyboardInterrupt):
        CachingEmbedder(Failing(), cache).encode(texts)
    assert cache.count() == CachingEmbedder.CHUNK * 2
    resumed = FakeEmbedder()
    CachingEmbedder(resumed, cache).encode(texts)
    assert resumed.texts_embedded == CachingEmbedder.CHUNK


def test_the_dimension_is_read_without_loading_the_model() -> None:
    embedder = SentenceTransformerEmbedder()
    assert embedder.dim == 384
    assert embedder._model is None


def test_a_folder_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a local sentence-transformers model"):
        SentenceTransformerEmbedder(tmp_path)


def test_the_fingerprint_depends_on_the_model_files(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(default_model_path(), copy)
    same = SentenceTransformerEmbedder(copy).fingerprint
    assert same.split("-", 1)[1] == SentenceTransformerEmbedder().fingerprint.split("-", 1)[1]
    (copy / "tokenizer_config.json").write_text("{}")
    assert SentenceTransformerEmbedder(copy).fingerprint != same


@pytest.mark.slow
def test_the_real_model_gives_unit_float32_vectors(real_embedder: SentenceTransformerEmbedder) -> None:
    vectors = real_embedder.encode(["Tsunami inundation modelling", "Protein folding kinetics"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bad_backend_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend must be one of torch, openvino, openvino-int8; got 'tensorrt'"):
        make_embedder(backend="tensorrt")
    with pytest.raises(ValueError, match="need an export_dir"):
        make_embedder(backend="openvino")
    with pytest.raises(FileNotFoundError, match="not a local sentence-transformers model"):
        make_embedder(tmp_path, backend="torch")


def test_warming_the_cache_reads_its_key_index_and_not_its_vectors(tmp_path: Path) -> None:
    """A service warms the cache at start: that must read the small key index alone, never the vectors
    (a large cache holds gigabytes of them)."""
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    CachingEmbedder(FakeEmbedder(), cache).encode(["one", "two", "three"])
    assert cache.warm() == 3
    plan = " ".join(str(row) for row in sqlite3.connect(cache.path).execute("EXPLAIN QUERY PLAN " + cache._COUNT_ALL))
    assert "COVERING INDEX" in plan


# -- retention ------------------------------------------------------------------------------------------


def test_prune_removes_old_vectors_not_kept_and_a_dry_run_only_counts(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    fake = FakeEmbedder()
    CachingEmbedder(fake, cache).encode(["needed old", "stale old", "stale new"])
    with sqlite3.connect(cache.path) as db:  # two of them written ten days ago
        db.execute("UPDATE vectors SET created = created - 864000 WHERE key != ?", (text_key("stale new"),))
    cutoff = time.time() - 5 * 86400
    keep = [text_key("needed old")]
    assert cache.prune(keep=keep, written_before=cutoff, dry_run=True) == (1, fake.dim * 4)
    assert cache.count() == 3
    assert cache.prune(keep=keep, written_before=cutoff) == (1, fake.dim * 4)
    left = cache.get_many(fake.fingerprint, [text_key(t) for t in ("needed old", "stale old", "stale new")], fake.dim)
    assert set(left) == {text_key("needed old"), text_key("stale new")}
    assert cache.prune(keep=[], written_before=time.time() + 1) == (2, 2 * fake.dim * 4)  # keep wins, not age


def test_a_cache_from_before_the_written_column_gets_it_and_its_vectors_count_as_old(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    fake = FakeEmbedder()
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE vectors (fingerprint TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (fingerprint, key))"
        )
        db.execute(
            "INSERT INTO vectors VALUES (?, ?, ?)",
            (fake.fingerprint, text_key("old"), fake.encode(["old"])[0].tobytes()),
        )
    cache = EmbeddingCache(path)
    assert cache.count() == 1 and EmbeddingCache(path).count() == 1  # opened twice: the column added once
    assert cache.prune(keep=[], written_before=1.0) == (1, fake.dim * 4)


# -- one request's embedder --------------------------------------------------------------------------


def test_the_memory_cache_drops_the_least_recently_used_beyond_its_size() -> None:
    cache = MemoryCache(max_bytes=3 * 16)  # three 4-dimensional float32 vectors
    vectors = {name: np.full(4, i, dtype=np.float32) for i, name in enumerate("abcd")}
    cache.put_many("m", [(k.encode(), v) for k, v in vectors.items() if k != "d"])
    assert set(cache.get_many("m", [b"a"], 4)) == {b"a"}  # a is now the most recently used
    cache.put_many("m", [(b"d", vectors["d"])])
    assert set(cache.get_many("m", [b"a", b"b", b"c", b"d"], 4)) == {b"a", b"c", b"d"}
    assert len(cache) == 3 and cache.nbytes == 48
    assert cache.get_many("other-model", [b"a"], 4) == {}


def test_a_metered_embedder_embeds_only_what_its_cache_misses_and_counts_it() -> None:
    fake, cache = FakeEmbedder(), MemoryCache(max_bytes=1 << 20)
    first = MeteredEmbedder(fake, cache, salt=b"client-1\0")
    vectors = first.encode(["alpha", "beta", "alpha"])
    assert fake.texts_embedded == 2 and first.embedded == 2
    np.testing.assert_array_equal(vectors, fake.encode(["alpha", "beta", "alpha"]))
    again = MeteredEmbedder(fake, cache, salt=b"client-1\0")
    again.encode(["beta", "alpha"])
    assert again.embedded == 0  # the same client's texts come from the cache ...
    other = MeteredEmbedder(fake, cache, salt=b"client-2\0")
    other.encode(["alpha"])
    assert other.embedded == 1  # ... and never another client's


def test_over_the_budget_is_refused_before_anything_is_embedded() -> None:
    fake, cache = FakeEmbedder(), MemoryCache(max_bytes=1 << 20)
    MeteredEmbedder(fake, cache).encode(["one", "two"])
    with pytest.raises(TooManyTexts) as refused:
        MeteredEmbedder(fake, cache, budget=2, field="researcher.publications").encode(["one", "two", "a", "b", "c"])
    assert [e.field for e in refused.value.errors] == ["researcher.publications"]
    assert "3 texts" in str(refused.value) and "at most 2" in str(refused.value)
    assert fake.texts_embedded == 2  # nothing more was embedded
    MeteredEmbedder(fake, cache, budget=2).encode(["one", "two", "a", "b"])  # cached texts do not count


class SlowEmbedder(FakeEmbedder):
    """Each text takes `seconds` on a clock the test controls."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.now = 0.0

    def encode(self, texts: Any, *, progress: Progress | None = None) -> np.ndarray:
        self.now += self.seconds * len(texts)
        return super().encode(texts, progress=progress)


def test_embedding_stops_as_soon_as_the_texts_left_would_end_past_the_deadline() -> None:
    slow, cache = SlowEmbedder(0.1), MemoryCache(max_bytes=1 << 20)
    texts = [f"text {'x' * i}" for i in range(12)]
    embedder = MeteredEmbedder(slow, cache, chunk=4, deadline=1.1, retry_after=7, clock=lambda: slow.now)
    with pytest.raises(Overloaded) as stopped:
        embedder.encode(texts)  # 0.4 s per chunk of 4: after the first, the 8 left would end at 1.2 s
    assert stopped.value.retry_after == 7
    assert embedder.embedded == 4 and slow.texts_embedded == 4
    kept = cache.get_many(slow.fingerprint, [text_key(t) for t in texts], slow.dim)
    assert len(kept) == 4  # the chunk done is whole and correct; the rest were never started
    in_time = MeteredEmbedder(slow, NoCache(), chunk=4, deadline=slow.now + 1.3, clock=lambda: slow.now)
    assert in_time.encode(texts).shape == (12, slow.dim)
    late = MeteredEmbedder(slow, NoCache(), deadline=slow.now - 0.1, clock=lambda: slow.now)
    with pytest.raises(Overloaded):
        late.encode(["anything"])
    assert late.embedded == 0


def test_the_gate_hears_how_many_texts_will_be_embedded_and_may_refuse() -> None:
    heard: list[int] = []

    @contextlib.contextmanager
    def gate(n: int) -> Iterator[None]:
        heard.append(n)
        if n > 2:
            raise Overloaded("busy", retry_after=3)
        yield

    fake, cache = FakeEmbedder(), MemoryCache(max_bytes=1 << 20)
    MeteredEmbedder(fake, cache, gate=gate).encode(["a", "b", "a"])
    with pytest.raises(Overloaded):
        MeteredEmbedder(fake, cache, gate=gate).encode(["a", "c", "d", "e"])
    assert heard == [2, 3] and fake.texts_embedded == 2
    MeteredEmbedder(fake, cache, gate=gate).encode(["a", "b"])  # all cached: the gate is not asked
    assert heard == [2, 3]
