"""A FAISS multi-vector index of host documents, in three parts:

- `rows`: what each row is (host id, document key, title, language), host id <-> rows, tombstones;
- `faiss_index`: `HostIndex`, the vectors in FAISS (exact below a size, an HNSW graph of 8-bit codes above
  it), its changes, document and host-centroid search, and the similarities the engine scores with;
- `snapshot`: the index on disk, content-addressed files named by a manifest published atomically.
"""

from matcher.index.faiss_index import ANN_THRESHOLD, RANGE_MARGIN, HostIndex
from matcher.index.rows import DocMeta, Unread
from matcher.index.snapshot import FORMAT_VERSION, read_manifest

__all__ = ["ANN_THRESHOLD", "FORMAT_VERSION", "RANGE_MARGIN", "DocMeta", "HostIndex", "Unread", "read_manifest"]
