"""A torch-free encoder: the model converted once to OpenVINO IR, run by the OpenVINO runtime.

A serving process that embeds through this backend never imports torch: the tokenizer is the Rust
`tokenizers` library reading the model's `tokenizer.json`, the transformer runs in OpenVINO at the CPU's
default inference precision (bf16 on CPUs with AVX-512 BF16 or AMX, as here; f32 elsewhere), and pooling
and normalisation are a few NumPy lines. On this machine that is ~4x torch's throughput with vectors at
cosine 0.99998 to torch's (`python -m scripts.bench.backends`), and a worker's memory holds the model and
its vectors instead of torch (~560 MB resident on its own).

Conversion needs torch and transformers, so it runs once, in a child process (`python -m
matcher.encoders.openvino_backend SOURCE TARGET [--int8]`), into a temporary folder renamed into place: a crash
leaves nothing half-written, and two processes converting at once both end with the same complete folder.

Supported models: sentence-transformers folders made of a Transformer, a Pooling (mean, CLS or max) and
optionally a Normalize module, which covers MiniLM, MPNet and BERT-style models. Others are refused with
a message naming the torch backend, which runs anything sentence-transformers runs.

`int8=True` compresses the weights to 8 bits (NNCF's data-free weight compression: no calibration data set,
nothing downloaded). Each variant has its own fingerprint (`+openvino-rt`, `+openvino-rt-int8`), distinct
from torch's and from the earlier sentence-transformers/optimum OpenVINO path, so vectors never mix.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher.encoders.embedding import DEFAULT_BATCH_SIZE, local_model_dir, model_fingerprint
from matcher.progress import Progress

SETTINGS_FILE = "hostmatch-openvino.json"
PAD_MULTIPLE = 32
"""Batches are padded to a multiple of this many tokens. OpenVINO's CPU plugin compiles and keeps kernels
for every input shape it meets, so a service fed every length from 1 to 256 tokens keeps growing, and pays
a compilation at each new length; rounding up to 32 leaves 8 lengths per batch size. Padding is masked, so
a vector moves only by float rounding (`python -m scripts.bench.shapes` measures all three)."""
_POOLING_MODES = ("mean", "cls", "max")
_OLD_POOLING_FLAGS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}


class UnsupportedModel(ValueError):
    """The model folder has modules this backend does not run."""


def read_layout(source: Path) -> dict[str, Any]:
    """What the runtime needs to know of a sentence-transformers folder: the transformer's subfolder,
    pooling mode, maximum sequence length and output dimension. Reads configuration files only.

    Raises:
        UnsupportedModel: a module other than Transformer, Pooling and Normalize, or an unknown pooling.
    """
    try:
        modules = json.loads((source / "modules.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        modules = [{"type": "Transformer", "path": ""}]  # a bare transformers folder: mean pooling by default
    layout: dict[str, Any] = {"transformer": "", "pooling": "mean", "normalize": True}
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        if kind == "Transformer":
            layout["transformer"] = module["path"]
        elif kind == "Pooling":
            layout["pooling"] = _pooling_mode(json.loads((source / module["path"] / "config.json").read_text("utf-8")))
        elif kind != "Normalize":
            raise UnsupportedModel(
                f"{source}: module {kind} is not supported by the openvino backend; use --backend torch"
            )
    bert_config = source / "sentence_bert_config.json"
    config = json.loads(bert_config.read_text("utf-8")) if bert_config.is_file() else {}
    transformer = json.loads((source / layout["transformer"] / "config.json").read_text("utf-8"))
    layout["max_seq_length"] = int(config.get("max_seq_length") or transformer.get("max_position_embeddings", 512))
    layout["dim"] = int(transformer["hidden_size"])
    layout["max_position_embeddings"] = int(transformer.get("max_position_embeddings", 512))
    return layout


def _pooling_mode(config: dict[str, Any]) -> str:
    mode = config.get("pooling_mode")  # sentence-transformers >= 5 writes one name; older versions a flag each
    if mode is None:
        flags = {key for key, value in config.items() if key.startswith("pooling_mode_") and value is True}
        if len(flags) == 1:
            mode = _OLD_POOLING_FLAGS.get(flags.pop())
    if mode not in _POOLING_MODES:
        raise UnsupportedModel(f"pooling {config} is not supported by the openvino backend; use --backend torch")
    return str(mode)


class OpenVINOEmbedder:
    """An `Embedder` running a converted model with the OpenVINO runtime; no torch in this process.

    The converted model lives in `export_dir/<fingerprint>/`; it is made on first use (see the module
    docstring). `threads` caps OpenVINO's inference threads (keep workers × threads ≤ cores when serving).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        export_dir: Path,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        int8: bool = False,
        pad_multiple: int = PAD_MULTIPLE,
    ) -> None:
        path = local_model_dir(model_path)
        self.model_path = path
        self.export_dir = Path(export_dir)
        self.batch_size = batch_size
        self.threads = threads
        self.int8 = int8
        self.pad_multiple = pad_multiple  # 1: pad each batch to its longest text only
        self._layout = read_layout(path)
        self._fingerprint = model_fingerprint(path) + ("+openvino-rt-int8" if int8 else "+openvino-rt")
        self._runtime: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return int(self._layout["dim"])

    @property
    def loaded(self) -> bool:
        return self._runtime is not None

    @property
    def converted_dir(self) -> Path:
        return self.export_dir / self._fingerprint

    def _load(self, progress: Progress | None = None) -> tuple[Any, Any]:
        with self._lock:
            if self._runtime is None:
                import openvino as ov
                from tokenizers import Tokenizer

                folder = self.converted(progress)
                config = {"PERFORMANCE_HINT": "LATENCY"}
                if self.threads:
                    config["INFERENCE_NUM_THREADS"] = str(self.threads)
                compiled = ov.Core().compile_model(str(folder / "openvino_model.xml"), "CPU", config)
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                longest = int(self._layout["max_seq_length"])
                tokenizer.enable_truncation(longest)
                # Never past the truncation length: a model whose limit is not a multiple pads to its texts.
                multiple = self.pad_multiple if longest % self.pad_multiple == 0 else None
                tokenizer.enable_padding(pad_to_multiple_of=multiple)
                self._runtime = (compiled, tokenizer)
            return self._runtime

    def converted(self, progress: Progress | None = None) -> Path:
        """The converted model's folder, converting it in a child process the first time.

        Args:
            progress: told ("converting", 0, 1) before a conversion and ("converting", 1, 1) after it; not
                called when the model was converted before.

        Raises:
            RuntimeError: the conversion failed (the message ends with the child's last line of errors).
        """
        target = self.converted_dir
        if (target / SETTINGS_FILE).is_file():
            return target
        if progress is not None:
            progress("converting", 0, 1)
        self.export_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "matcher.encoders.openvino_backend", str(self.model_path), str(target)]
        done = subprocess.run(command + (["--int8"] if self.int8 else []), capture_output=True, text=True)
        if done.returncode != 0 or not (target / SETTINGS_FILE).is_file():
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"converting {self.model_path} to OpenVINO failed: {detail}")
        if progress is not None:
            progress("converting", 1, 1)
        return target

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts a batch at a time; `progress` hears of each batch, and of a conversion at first use."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        compiled, tokenizer = self._load(progress)
        request = getattr(self._local, "request", None)
        if request is None:  # one infer request per thread: requests are not thread-safe, the model is
            request = self._local.request = compiled.create_infer_request()
        names = {port.get_any_name() for port in compiled.inputs}
        # Shortest first, so each batch pads to about its own length; rows go back to the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = request.infer({k: v for k, v in feed.items() if k in names})[compiled.outputs[0]]
            out[rows] = _pool(np.asarray(hidden, dtype=np.float32), mask, self._layout["pooling"])
            if progress is not None:
                progress("embedding", start + len(rows), len(texts))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """(batch, tokens, dim) token vectors to (batch, dim), ignoring padding."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(np.float32)
    pooled: np.ndarray
    if mode == "max":
        pooled = np.where(weights > 0, hidden, -np.inf).max(axis=1)
    else:
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled


# -- conversion (child process) -------------------------------------------------------------------------


def convert(source: Path, target: Path, *, int8: bool = False) -> None:
    """Convert a sentence-transformers folder to OpenVINO IR in `target`, atomically."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import openvino as ov
    import torch
    from transformers import AutoModel, AutoTokenizer

    layout = read_layout(source)
    folder = source / layout["transformer"]
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    example = dict(tokenizer(["an example", "a somewhat longer example sentence"], padding=True, return_tensors="pt"))

    class Hidden(torch.nn.Module):  # the transformer's token vectors, nothing else
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)[0]
            return hidden

    # torch.export, not TorchScript tracing: transformers' attention masks do not trace. Batch and sequence
    # length stay dynamic in the exported graph.
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=layout["max_position_embeddings"])
    shapes = {name: {0: batch, 1: tokens} for name in example}
    with torch.no_grad():
        program = torch.export.export(Hidden(), (), kwargs=example, dynamic_shapes=shapes)
    converted = ov.convert_model(program)
    if int8:
        import nncf

        converted = nncf.compress_weights(converted, mode=nncf.CompressWeightsMode.INT8_ASYM)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    work.chmod(0o755)
    try:
        ov.save_model(converted, str(work / "openvino_model.xml"), compress_to_fp16=False)
        tokenizer.save_pretrained(str(work))  # writes tokenizer.json for fast tokenizers
        if not (work / "tokenizer.json").is_file():
            raise UnsupportedModel(f"{source}: the tokenizer has no fast (tokenizer.json) form; use --backend torch")
        settings = {**layout, "int8": int8, "inputs": sorted(example)}
        (work / SETTINGS_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
        try:
            os.replace(work, target)
        except OSError:
            if not (target / SETTINGS_FILE).is_file():  # another process converting at the same time won
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert a sentence-transformers model to OpenVINO IR.")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--int8", action="store_true", help="compress the weights to 8 bits")
    args = parser.parse_args(argv)
    convert(args.source, args.target, int8=args.int8)


if __name__ == "__main__":
    main()
