"""The torch backend: a sentence-transformers model from a local folder, run by torch on the CPU, offline."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher.encoders.embedding import DEFAULT_BATCH_SIZE, local_model_dir, model_fingerprint
from matcher.progress import Progress


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, run by torch on the CPU, fully offline.

    The model loads on first use, so building the object (and `--help`) stays cheap. `threads` sets torch's
    intra-op threads; keep workers × threads ≤ cores when serving. The faster, torch-free OpenVINO
    backend is `matcher.encoders.openvino_backend.OpenVINOEmbedder`; `matcher.encoders.make_embedder` chooses by name.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        path = local_model_dir(model_path)
        self.model_path = path
        self.batch_size = batch_size
        self.threads = threads
        self._fingerprint = model_fingerprint(path)
        self._dim: int | None = _configured_dim(path)
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if self.threads:
            torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        if self._dim is not None and model.get_embedding_dimension() != self._dim:
            raise RuntimeError(
                f"{self.model_path}: config says {self._dim} dimensions, the model gives "
                f"{model.get_embedding_dimension()}"
            )
        return model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_embedding_dimension())
        return self._dim

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts in one call to sentence-transformers (which sorts them by length and batches them);
        `progress` hears of the end only: a caller wanting finer steps passes fewer texts at a time, as
        `CachingEmbedder` does."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if progress is not None:
            progress("embedding", len(texts), len(texts))
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _configured_dim(path: Path) -> int | None:
    """The output dimension from a sentence-transformers folder's config, without loading torch.

    The last Dense module decides it when there is one, else the Pooling module. None when the files do
    not say (the model is then loaded to find out).
    """
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        dim = None
        for module in modules:
            kind = module["type"].rsplit(".", 1)[-1]
            if kind not in {"Dense", "Pooling"}:
                continue
            config = json.loads((path / module["path"] / "config.json").read_text(encoding="utf-8"))
            if kind == "Dense":
                dim = int(config["out_features"])
            elif dim is None:
                dim = int(config["word_embedding_dimension"])
        return dim
    except (OSError, KeyError, ValueError, TypeError):
        return None
