"""Index snapshots on disk: content-addressed data files named by a manifest that is replaced atomically.

An index is a folder:

    manifest.json              format, model fingerprint, dim, count, the generation of the database state
                               the snapshot holds (`matcher.generation`; opaque here), each data file
                               with its SHA-256, and the multilingual side or null: its encoder's
                               fingerprint, its calibration and its files (`matcher.encoders.multilingual`)
    manifest.previous.json     the manifest `manifest.json` replaced, its files still on disk
    vectors-<sha>.faiss        the FAISS index
    multilingual_vectors-<sha>.faiss   the same documents' multilingual vectors, when there is that side
    docs-<sha>.json            row metadata (`Rows.json`), shared by both sides
    <name>-<sha>.json          optional payloads saved with the index (e.g. the host records)

`save` writes the data files under new, content-addressed names, copies `manifest.json` to
`manifest.previous.json`, and then replaces `manifest.json` with `os.replace`, which is atomic: a reader
sees the old snapshot or the new one, never half of each, and a crash mid-save leaves the previous snapshot
intact. The snapshot it replaced stays whole on disk until the next save: a reader may still be loading it,
or choose it over the new one (`load(manifest=read_manifest(folder, previous=True))`); files neither
manifest names are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from matcher.crashpoints import crash_point
from matcher.errors import IndexMismatch
from matcher.index.rows import Rows

FORMAT_VERSION = 6  # 2: graph above ann_threshold, rows without text hashes; 3: bfloat16; 4: 8-bit codes; 5: languages;
# 6: a row's language is a number into the table of languages


@dataclass(frozen=True, slots=True)
class Saved:
    """One index as a snapshot holds it: what `HostIndex` is saved as and loaded from."""

    fingerprint: str
    dim: int
    vectors: Any  # a faiss.IndexFlatIP or faiss.IndexHNSWSQ, row for row the same documents as `rows`
    rows: Rows

    @property
    def count(self) -> int:
        """Live documents (tombstones left out)."""
        return int((self.rows.host >= 0).sum())


def save(
    folder: Path,
    index: Saved,
    *,
    payloads: dict[str, bytes],
    generation: dict[str, Any] | None,
    multilingual: tuple[Saved, dict[str, Any]] | None,
) -> None:
    """Save `index` atomically to `folder`, with named payloads, the generation the manifest names and the
    multilingual side (its index and calibration) or none."""
    folder.mkdir(parents=True, exist_ok=True)
    files = _write_data(folder, "vectors", index)
    for name, content in payloads.items():
        if name in files or name == "multilingual_vectors" or not name.isidentifier():
            raise ValueError(f"payload name {name!r} is reserved or not an identifier")
        files[name] = _write_content(folder, name, content)
    side = None
    if multilingual is not None:
        other, calibration = multilingual
        side = {
            "fingerprint": other.fingerprint,
            "dim": other.dim,
            "count": other.count,
            "calibration": calibration,
            "files": _write_data(folder, "multilingual_vectors", other),
        }
    manifest = {
        "format": FORMAT_VERSION,
        "fingerprint": index.fingerprint,
        "dim": index.dim,
        "count": index.count,
        "hosts": len(np.unique(index.rows.host[index.rows.host >= 0])),
        "generation": generation,
        "files": files,
        "multilingual": side,
    }
    crash_point("snapshot-files-written")
    if (folder / "manifest.json").is_file():  # the snapshot it replaces is kept (see the module docstring)
        _atomic_write(folder / "manifest.previous.json", (folder / "manifest.json").read_bytes())
    _atomic_write(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
    keep = _named_files(folder) | _named_files(folder, previous=True) | {"manifest.json", "manifest.previous.json"}
    for stale in folder.iterdir():
        if stale.name not in keep and not stale.name.startswith(".tmp-"):
            stale.unlink(missing_ok=True)


def load(
    folder: Path, *, fingerprint: str, manifest: dict[str, Any] | None, multilingual: str | None
) -> tuple[Saved, dict[str, bytes]]:
    """The index of the snapshot `manifest` describes (else the one `manifest.json` names now) and its
    payloads, after checking it was saved by the model `fingerprint` and the multilingual encoder
    `multilingual` (None: without one). See `HostIndex.load`."""
    if manifest is None:
        manifest = read_manifest(folder)
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"{folder}: index format {manifest.get('format')!r}, expected {FORMAT_VERSION}; rebuild it "
            "(hostmatch index build)"
        )
    if manifest["fingerprint"] != fingerprint:
        raise IndexMismatch(
            f"{folder} was built with model {manifest['fingerprint']}, but the configured model is "
            f"{fingerprint}; rebuild it (hostmatch index build) or configure the same model"
        )
    _check_multilingual(folder, (manifest.get("multilingual") or {}).get("fingerprint"), multilingual)
    entries = dict(manifest["files"])
    vectors = entries.pop("vectors")
    contents = {name: _checked_path(folder, entry).read_bytes() for name, entry in entries.items()}
    return _read(folder, manifest, vectors, contents.pop("docs")), contents


def load_multilingual(folder: Path, manifest: dict[str, Any]) -> tuple[Saved, dict[str, Any]]:
    """The multilingual side a manifest (checked by `load`) names: its index and its calibration."""
    side = manifest["multilingual"]
    docs = _checked_path(folder, side["files"]["docs"]).read_bytes()
    return _read(folder, side, side["files"]["vectors"], docs), dict(side["calibration"])


def _read(folder: Path, described: dict[str, Any], vectors: dict[str, str], docs: bytes) -> Saved:
    """The index of a vectors file and its rows' JSON. The vectors are read before the rows are parsed:
    parsed first, the rows' temporary lists lay among the index's allocations, and a service over 10,000
    labs kept 15 MB more once they were freed."""
    index = faiss.read_index(str(_checked_path(folder, vectors)))  # already the concrete class
    if not isinstance(index, faiss.IndexFlatIP | faiss.IndexHNSWSQ):
        raise IndexMismatch(f"{folder}: expected a flat or HNSW index, got {type(index).__name__}")
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexMismatch(f"{folder}: the index does not measure inner product")
    saved = Saved(described["fingerprint"], int(described["dim"]), index, Rows(Rows.parse(docs)))
    if index.d != saved.dim or index.ntotal != len(saved.rows) or saved.count != described["count"]:
        raise IndexMismatch(f"{folder}: vectors, metadata and manifest disagree on size")
    return saved


def _check_multilingual(folder: Path, saved: str | None, configured: str | None) -> None:
    """Refuse a snapshot whose multilingual side is not the configured one: never mix spaces silently."""
    if saved == configured:
        return
    rebuild = "rebuild it (hostmatch index build)"
    if saved is None:
        raise IndexMismatch(
            f"{folder} was built without the multilingual encoder, but it is enabled ({configured}); {rebuild} "
            "so every document is embedded by it too, or disable it (unset HOSTMATCH_MULTILINGUAL)"
        )
    if configured is None:
        raise IndexMismatch(
            f"{folder} was built with the multilingual encoder {saved}, but it is not enabled; {rebuild}, or "
            "enable the same one (HOSTMATCH_MULTILINGUAL or --multilingual)"
        )
    raise IndexMismatch(
        f"{folder} was built with the multilingual encoder {saved}, but the configured one is {configured}; "
        f"{rebuild} or configure the same one"
    )


def read_manifest(folder: Path, *, previous: bool = False) -> dict[str, Any]:
    """The manifest of the snapshot in `folder` (`previous`: of the one it replaced).

    Raises:
        FileNotFoundError: there is no such manifest.
        IndexMismatch: the manifest is damaged.
    """
    path = folder / ("manifest.previous.json" if previous else "manifest.json")
    if not path.is_file():
        raise FileNotFoundError(f"no index in {folder} (no {path.name})")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexMismatch(f"{path} is damaged: {exc.msg}") from exc
    return manifest


def _named_files(folder: Path, *, previous: bool = False) -> set[str]:
    """The data files a manifest in `folder` names, its multilingual side's too (none when it is missing or
    damaged)."""
    try:
        manifest = read_manifest(folder, previous=previous)
        side = (manifest.get("multilingual") or {}).get("files") or {}
        entries = list(manifest["files"].values()) + list(side.values())
        return {entry["name"] for entry in entries}
    except (FileNotFoundError, IndexMismatch, KeyError, TypeError, AttributeError):
        return set()


def _write_data(folder: Path, stem: str, index: Saved) -> dict[str, dict[str, str]]:
    """Write the FAISS index (as `stem`-<sha>.faiss) and the row metadata (docs-<sha>.json, shared by
    indexes of the same documents); their manifest entries."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", suffix=".faiss", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        faiss.write_index(index.vectors, str(tmp_path))
        with tmp_path.open("rb") as handle:
            os.fsync(handle.fileno())
        sha = _file_sha(tmp_path)
        name = f"{stem}-{sha[:16]}.faiss"
        os.replace(tmp_path, folder / name)
    finally:
        tmp_path.unlink(missing_ok=True)
    return {"vectors": {"name": name, "sha256": sha}, "docs": _write_content(folder, "docs", index.rows.json())}


def _write_content(folder: Path, stem: str, content: bytes) -> dict[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    name = f"{stem}-{sha[:16]}.json"
    if not (folder / name).is_file():
        _atomic_write(folder / name, content)
    return {"name": name, "sha256": sha}


def _atomic_write(path: Path, content: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_path(folder: Path, entry: dict[str, str]) -> Path:
    """The path of a data file named by the manifest, after checking it is there and intact."""
    path = folder / entry["name"]
    if not path.is_file():
        raise IndexMismatch(f"{folder}: {entry['name']} named by the manifest is missing")
    if _file_sha(path) != entry["sha256"]:
        raise IndexMismatch(f"{folder}: {entry['name']} does not match its checksum; the file is damaged")
    return path
