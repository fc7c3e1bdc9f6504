from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.embedding import (
    CachingEmbedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    default_model_path,
    make_embedder,
    text_key,
)
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
