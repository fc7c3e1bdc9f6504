"""What hostmatch keeps, for how long, and the pruning that enforces it (`hostmatch db prune`).

- **Audit trail** (`match_runs`: who matched what, when, with which parameters and results; an inline
  profile only as a digest): kept `AUDIT_DAYS` (365) days, long enough to answer for a whole yearly
  fellowship call and its appeals, then deleted.
- **Embedding cache** (vectors by model and text hash): a vector whose text some stored lab or researcher
  still has (in the database, or in the saved index) is never removed, whatever its age: rebuilding or
  restoring the index reads them instead of embedding again. Any other vector (a lab's text since edited,
  a deleted record's, or an anonymous query's from before anonymous texts stopped being written there) is
  removed once it was written more than `CACHE_DAYS` (30) days ago; the grace lets an edit be undone or a
  file re-indexed without embedding again. Anonymous queries' vectors are no longer written to this cache
  at all (`service.costs`), so it grows only with the stored records.

Both ages are settings (`--audit-days`, `--cache-days`, or `HOSTMATCH_AUDIT_DAYS`, `HOSTMATCH_CACHE_DAYS`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matcher.encoders.embedding import EmbeddingCache, text_key
from matcher.errors import IndexMismatch
from matcher.index import HostIndex, read_manifest
from matcher.store import Store
from matcher.text.documents import host_documents, researcher_texts
from models.profiles import HostLab

AUDIT_DAYS = 365
CACHE_DAYS = 30
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneReport:
    audit_before: dt.datetime
    runs_removed: int
    runs_kept: int
    cache_before: dt.datetime
    vectors_removed: int
    bytes_removed: int
    vectors_needed: int  # distinct texts of stored labs and researchers, always kept


def prune(
    store: Store,
    cache: EmbeddingCache | None,
    *,
    index_dir: Path | None = None,
    audit_days: float = AUDIT_DAYS,
    cache_days: float = CACHE_DAYS,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> PruneReport:
    """Delete audit rows older than `audit_days` and cache vectors older than `cache_days` that no stored lab
    or researcher needs (see the module docstring); with `dry_run`, only count them.

    Raises:
        ValueError: a negative number of days.
    """
    if audit_days < 0 or cache_days < 0:
        raise ValueError("days to keep cannot be negative")
    now = now or dt.datetime.now(dt.UTC)
    audit_before = now - dt.timedelta(days=audit_days)
    cache_before = now - dt.timedelta(days=cache_days)
    runs_removed, runs_kept = store.prune_runs(before=audit_before, dry_run=dry_run)
    vectors_removed = bytes_removed = needed = 0
    if cache is not None:
        keep = needed_keys(store, index_dir)
        needed = len(keep)
        vectors_removed, bytes_removed = cache.prune(
            keep=keep, written_before=cache_before.timestamp(), dry_run=dry_run
        )
    return PruneReport(audit_before, runs_removed, runs_kept, cache_before, vectors_removed, bytes_removed, needed)


def needed_keys(store: Store, index_dir: Path | None = None) -> set[bytes]:
    """The cache keys of every text a stored lab or researcher has: the labs in the database and in the saved
    index (which may lag or lead it after a crash), and the researchers in the database."""
    keys = {text_key(doc.text) for host in _hosts(store, index_dir) for doc in host_documents(host)}
    keys.update(text_key(t.text) for r in store.researchers().values() for t in researcher_texts(r))
    return keys


def _hosts(store: Store, index_dir: Path | None) -> Iterator[HostLab]:
    yield from store.iter_hosts()
    if index_dir is None:
        return
    try:
        manifest = read_manifest(index_dir)
        multilingual = (manifest.get("multilingual") or {}).get("fingerprint")
        _, payloads = HostIndex.load(
            index_dir, fingerprint=str(manifest["fingerprint"]), manifest=manifest, multilingual=multilingual
        )
    except FileNotFoundError:
        return
    except (IndexMismatch, KeyError, ValueError) as exc:  # a damaged index is rebuilt from the store anyway
        log.warning("not reading the labs of the index in %s: %s", index_dir, exc)
        return
    for record in json.loads(payloads.get("hosts", b"[]")):
        yield HostLab.model_validate(record)
