"""Maintenance benchmark: how long a bulk host upload holds the database's write lock, and how long an audit
insert made meanwhile waits. `python -m scripts.bench.maintenance [--backend B]`; prints one JSON object.

In a fresh data folder (SQLite, an empty embedding cache) the sample's 124 labs are uploaded through the
catalogue, as `hostmatch db load-sample` or an admin's bulk `POST /v1/hosts` does, twice: first all of them
new (every text embedded), then each with a changed description (124 texts embedded). For each upload:

    upload_s                 the whole write, embedding included
    texts_embedded           texts the model embedded (the rest came from the cache)
    write_lock_s             the longest time any of the catalogue's transactions held SQLite's write lock:
                             from the statement that took it (a transaction's first write) to its commit or
                             rollback, timed by SQLAlchemy's events on the catalogue's own database engine
    audit_max_wait_s         the longest an audit insert (`Store.record_run`, what every match writes) took,
                             made every 50 ms from another thread with its own database connection
    audit_errors             audit inserts that failed (SQLite gives up after its busy timeout, 10 s)

The model is the one the service runs (OpenVINO when its extra is installed; --backend chooses), loaded and
warmed before anything is timed. The script uses only what the catalogue offered before its writes embedded
outside the transaction, so the same file measures the code before and after that change.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import OperationalError

from matcher.catalogue import Catalogue
from matcher.encoders import BACKENDS, default_backend, make_embedder
from matcher.home import Home
from matcher.records import read_hosts, sample_path
from matcher.store import Store
from matcher.wiring import Parts
from models.profiles import HostLab

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteLockClock:
    """Times how long each transaction on a SQLAlchemy engine holds SQLite's write lock: from the end of its
    first writing statement (SQLite takes the lock there, after waiting for it if it must) to its commit or
    rollback."""

    def __init__(self, engine: SqlEngine) -> None:
        self.held: list[float] = []
        self._since: dict[int, float] = {}
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._ended)
        event.listen(engine, "rollback", self._ended)

    def _executed(self, connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(_WRITES):
            self._since.setdefault(id(connection), time.perf_counter())

    def _ended(self, connection: Any) -> None:
        start = self._since.pop(id(connection), None)
        if start is not None:
            self.held.append(time.perf_counter() - start)


class AuditProbe:
    """Inserts an audit row every `every` seconds from its own thread and connection, timing each."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        self.store = Store(url)
        self.every = every
        self.waits: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                self.store.record_run(actor="probe", kind="match", subject="probe", parameters={}, results=[])
            except OperationalError:
                self.errors += 1
            self.waits.append(time.perf_counter() - start)
            self._stop.wait(self.every)

    @contextmanager
    def running(self) -> Iterator[AuditProbe]:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.waits, self.errors = [], 0
        self._stop.clear()
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def upload(catalogue: Catalogue, hosts: Sequence[HostLab], clock: WriteLockClock, probe: AuditProbe) -> dict[str, Any]:
    clock.held.clear()
    with probe.running():
        time.sleep(0.2)  # the probe's first inserts, before the upload starts
        start = time.perf_counter()
        report = catalogue.upsert_hosts(hosts)
        elapsed = time.perf_counter() - start
        time.sleep(0.2)
    return {
        "upload_s": round(elapsed, 3),
        "texts_embedded": report.texts_embedded,
        "write_lock_s": round(max(clock.held, default=0.0), 3),
        "audit_max_wait_s": round(max(probe.waits, default=0.0), 3),
        "audit_inserts": len(probe.waits),
        "audit_errors": probe.errors,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, help="encoder runtime (default: the service's)")
    parser.add_argument(
        "--models-dir", type=Path, help="converted models to reuse (default: the data folder's, $HOSTMATCH_HOME)"
    )
    args = parser.parse_args(argv)
    backend = args.backend or default_backend()
    hosts = read_hosts(sample_path("hosts"))
    with tempfile.TemporaryDirectory(prefix="hostmatch-maintenance-") as tmp:
        root = Path(tmp)
        model = make_embedder(backend=backend, export_dir=args.models_dir or Home.from_env().models_dir, threads=1)
        model.encode(["warm-up"])
        parts = Parts(Home(root), encoder=model)
        url = parts.home.database_url
        catalogue = parts.catalogue()
        clock = WriteLockClock(catalogue.store.engine)
        probe = AuditProbe(url)
        probe.store.create_all()
        revised = [h.model_copy(update={"description": f"{h.description} Revised for the next call."}) for h in hosts]
        result = {
            "backend": backend,
            "hosts": len(hosts),
            "new": upload(catalogue, hosts, clock, probe),
            "revised": upload(catalogue, revised, clock, probe),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
