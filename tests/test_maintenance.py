"""Matches keep answering while hosts are rewritten: the app served over HTTP on 127.0.0.1 (werkzeug, a
thread per request) to client threads, while another process (`tests.catalogue_driver`, the catalogue over
a fake embedder slowed to take seconds) replaces every host, then makes thirty small writes. Every match
must answer 200 (its audit row written), and the served hosts must end as the stored ones. Bounded: the
writes take ~5 s; the whole test stops within 60 s.

The figures (matches, errors, latencies) are printed and saved to build/maintenance-load.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server

from service import create_app
from tests.catalogue_driver import SLOW_S, Folder, initial_hosts
from tests.conftest import researcher_record

ROOT = Path(__file__).parents[1]
CLIENTS = 4
STATEMENTS = [
    "Subduction zone earthquakes, slow slip events and tsunami early warning from seafloor geodesy.",
    "Phenomenology and the philosophy of mind: embodiment, perception and consciousness.",
    "Deep learning for natural language processing of Japanese and low-resource languages.",
    "Coral reef ecology, ocean acidification and marine biodiversity surveys.",
]


def match_loop(base: str, n: int, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    body = json.dumps({"researcher": researcher_record(statement=STATEMENTS[n % len(STATEMENTS)]), "top": 5})
    while not stop.is_set():
        request = urllib.request.Request(
            base + "/v1/matches", data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - start)


def test_matches_keep_answering_while_another_process_rewrites_the_hosts(tmp_path: Path) -> None:
    folder = Folder(tmp_path)
    folder.open().upsert_hosts(initial_hosts())
    catalogue = folder.open(serving=True)
    app = create_app({"TESTING": True, "HOME": str(tmp_path)}, engine=catalogue)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    clients = [
        threading.Thread(target=match_loop, args=(base, n, stop, latencies, errors), daemon=True)
        for n in range(CLIENTS)
    ]
    try:
        for client in clients:
            client.start()
        time.sleep(1.0)  # matches before the writes start
        quiet = len(latencies)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DRIVER_SLOW_S": str(SLOW_S)}
        env.pop("HOSTMATCH_CRASH_AT", None)
        started = time.perf_counter()
        for scenario in ("replace", "writes"):
            subprocess.run(
                [sys.executable, "-m", "tests.catalogue_driver", str(tmp_path), scenario],
                cwd=ROOT,
                env=env,
                check=True,
                timeout=40,
            )
        writing_s = time.perf_counter() - started
        during = latencies[quiet:]
        time.sleep(0.5)  # a last request or two, after the writes
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=35)
        server.shutdown()

    catalogue.refresh()
    figures = {
        "clients": CLIENTS,
        "writes_s": round(writing_s, 2),
        "matches_during_writes": len(during),
        "errors": len(errors),
        "p50_ms": round(1000 * statistics.median(during), 1),
        "max_ms": round(1000 * max(during), 1),
        "audit_rows": len(folder.store.runs(limit=100_000)),
    }
    print("maintenance under load:", json.dumps(figures))
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "maintenance-load.json").write_text(json.dumps(figures, indent=2))
    assert not errors, errors[:5]
    assert len(during) >= 20 and figures["audit_rows"] == len(latencies)
    assert catalogue.engine.hosts == folder.store.hosts()
