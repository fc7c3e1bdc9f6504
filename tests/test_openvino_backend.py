"""The torch-free OpenVINO encoder: model layouts, pooling, conversion once, fidelity to torch."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcher.encoders.embedding import default_model_path
from matcher.encoders.openvino_backend import OpenVINOEmbedder, UnsupportedModel, _pool, read_layout
from matcher.encoders.torch_backend import SentenceTransformerEmbedder

HAS_OPENVINO = all(importlib.util.find_spec(name) is not None for name in ("openvino", "tokenizers", "nncf"))
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="the openvino extra is not installed")

TEXTS = [
    "Slow slip events on subduction megathrusts and the seismogenic zone.",
    "Honorifics in Japanese: a corpus study of politeness in spoken dialogue.",
    "Cryo-EM structures of bacterial flagellar motors.",
]


def _model_folder(root: Path, modules: list[dict[str, str]], pooling: dict[str, object] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"hidden_size": 8, "max_position_embeddings": 64}))
    (root / "modules.json").write_text(json.dumps(modules))
    if pooling is not None:
        (root / "1_Pooling").mkdir()
        (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return root


TRANSFORMER = {"type": "sentence_transformers.models.Transformer", "path": ""}
POOLING = {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}


def test_the_packaged_model_layout_is_read_from_its_files() -> None:
    layout = read_layout(default_model_path())
    assert (layout["pooling"], layout["max_seq_length"], layout["dim"]) == ("mean", 256, 384)


@pytest.mark.parametrize(
    ("pooling", "mode"),
    [
        ({"pooling_mode": "cls"}, "cls"),
        ({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, "mean"),
        ({"pooling_mode_max_tokens": True}, "max"),
    ],
)
def test_both_pooling_config_styles_are_understood(tmp_path: Path, pooling: dict[str, object], mode: str) -> None:
    folder = _model_folder(tmp_path / "m", [TRANSFORMER, POOLING], pooling)
    layout = read_layout(folder)
    assert layout["pooling"] == mode
    assert layout["max_seq_length"] == 64  # no sentence_bert_config.json: the position limit


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        (
            [TRANSFORMER, POOLING, {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}],
            {"pooling_mode": "mean"},
            "Dense",
        ),
        ([TRANSFORMER, POOLING], {"pooling_mode": "weightedmean"}, "pooling"),
        ([TRANSFORMER, POOLING], {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, "pooling"),
    ],
)
def test_models_this_backend_cannot_run_are_refused_naming_the_torch_backend(
    tmp_path: Path, modules: list[dict[str, str]], pooling: dict[str, object], message: str
) -> None:
    folder = _model_folder(tmp_path / "m", modules, pooling)
    with pytest.raises(UnsupportedModel, match=f"{message}.*use --backend torch"):
        OpenVINOEmbedder(folder, export_dir=tmp_path / "export")


def test_pooling_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)  # last token is padding
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(_pool(hidden, mask, "mean"), [[2.0, 1.0]])
    np.testing.assert_allclose(_pool(hidden, mask, "max"), [[3.0, 2.0]])
    np.testing.assert_allclose(_pool(hidden, mask, "cls"), [[1.0, 0.0]])


@pytest.mark.slow
@needs_openvino
def test_converts_once_matches_torch_and_serves_without_torch(tmp_path: Path) -> None:
    torch_vectors = SentenceTransformerEmbedder().encode(TEXTS)
    first = OpenVINOEmbedder(export_dir=tmp_path)
    assert not first.loaded
    vectors = first.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert first.fingerprint.endswith("+openvino-rt") and first.fingerprint != SentenceTransformerEmbedder().fingerprint
    assert (vectors * torch_vectors).sum(axis=1).min() > 0.9999
    assert [p.name for p in tmp_path.iterdir()] == [first.fingerprint]  # no temporary folder left behind
    model_file = first.converted_dir / "openvino_model.xml"
    mtime = model_file.stat().st_mtime_ns
    # Another process reuses the conversion, encodes in any order and batch size alike, and never imports torch.
    code = (
        "import sys, json; from pathlib import Path; from matcher.encoders.openvino_backend import OpenVINOEmbedder\n"
        f"e = OpenVINOEmbedder(export_dir=Path({str(tmp_path)!r}), batch_size=2)\n"
        f"v = e.encode({TEXTS[::-1]!r})\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'vectors': v[::-1].tolist()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    again = json.loads(out.stdout.strip().splitlines()[-1])
    assert again["torch"] is False
    np.testing.assert_allclose(np.array(again["vectors"], dtype=np.float32), vectors, atol=1e-3)
    assert model_file.stat().st_mtime_ns == mtime


@pytest.mark.slow
@needs_openvino
def test_int8_weights_have_their_own_fingerprint_and_stay_close(tmp_path: Path) -> None:
    full = OpenVINOEmbedder(export_dir=tmp_path)
    small = OpenVINOEmbedder(export_dir=tmp_path, int8=True)
    assert small.fingerprint != full.fingerprint
    cosine = (small.encode(TEXTS) * full.encode(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.99
    assert (small.converted_dir / "openvino_model.bin").stat().st_size < 0.4 * (
        full.converted_dir / "openvino_model.bin"
    ).stat().st_size


def test_a_failed_conversion_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "broken", [TRANSFORMER, POOLING], {"pooling_mode": "mean"})
    embedder = OpenVINOEmbedder(folder, export_dir=tmp_path / "export")
    with pytest.raises(RuntimeError, match=r"converting .*broken to OpenVINO failed"):
        embedder.encode(["text"])
    assert not any((tmp_path / "export").iterdir())
