"""Which encoder runs: the backends by name, and `make_embedder`, which builds one.

The backends live in modules of their own, `matcher.encoders.torch_backend` (sentence-transformers on torch) and
`matcher.encoders.openvino_backend` (a converted model on the OpenVINO runtime, no torch); both import only the shared
model-folder helpers of `matcher.encoders.embedding`. This module is the only one that imports either, and only the one
asked for, so a process running OpenVINO never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from matcher.encoders.embedding import DEFAULT_BATCH_SIZE, Embedder

BACKENDS = ("torch", "openvino", "openvino-int8")
Backend = Literal["torch", "openvino", "openvino-int8"]


def default_backend() -> Backend:
    """OpenVINO when its extra is installed (~4x torch's throughput here, same quality), else torch."""
    import importlib.util

    installed = all(importlib.util.find_spec(name) is not None for name in ("openvino", "tokenizers"))
    return "openvino" if installed else "torch"


def make_embedder(
    model_path: str | Path | None = None,
    *,
    backend: str = "torch",
    export_dir: Path | None = None,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Embedder:
    """The embedder for a model folder (default: the packaged model) and a backend name.

    Raises:
        ValueError: an unknown backend, or an OpenVINO backend without an `export_dir`.
        FileNotFoundError: the model folder is not a local model.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "torch":
        from matcher.encoders.torch_backend import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model_path, batch_size=batch_size, threads=threads)
    if export_dir is None:
        raise ValueError("the openvino backends need an export_dir to keep the converted model in")
    from matcher.encoders.openvino_backend import OpenVINOEmbedder

    return OpenVINOEmbedder(
        model_path, export_dir=export_dir, batch_size=batch_size, threads=threads, int8=backend == "openvino-int8"
    )
