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
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from matcher.records import read_hosts, sample_path
from matcher.store import Store
from service import create_app
from tests.catalogue_driver import SLOW_S, Folder, initial_hosts
from tests.conftest import researcher_record, stored_hosts

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
    app = create_app({"TESTING": True, "HOME": str(tmp_path), "RATELIMIT_ENABLED": False}, catalogue=catalogue)
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
        "audit_rows": len(folder.store.audit_runs(limit=100_000)[0]),
    }
    print("maintenance under load:", json.dumps(figures))
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "maintenance-load.json").write_text(json.dumps(figures, indent=2))
    assert not errors, errors[:5]
    assert len(during) >= 20 and figures["audit_rows"] == len(latencies)
    assert catalogue.engine.hosts == stored_hosts(folder.store)


# -- the real service ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_gunicorn_keeps_matching_through_an_index_build_and_a_bulk_upload(
    tmp_path: Path, shared_cache_dir: Path
) -> None:
    """`hostmatch serve` (2 workers, real model) over the sample, four clients matching, while `hostmatch
    index build` rewrites every lab's description and then an admin uploads them all again through `POST
    /v1/hosts`: 0 errors. Bounded: the maintenance takes ~20 s here, the test stops within 60 s of it."""
    from tests.test_gunicorn import free_port, hostmatch, http

    sample_home = shared_cache_dir / "sample-home"  # the model converted and the sample embedded once
    if not (sample_home / "index" / "manifest.json").exists():
        hostmatch(sample_home, "index", "build", "--sample")
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    token = hostmatch(home, "tokens", "create", "--name", "maintainer", "--scope", "admin").strip()
    labs = read_hosts(sample_path("hosts"))
    revised = tmp_path / "revised.jsonl"
    revised.write_text(
        "\n".join(h.model_copy(update={"description": h.description + " (2028)"}).model_dump_json() for h in labs)
    )
    upload = [
        json.loads(h.model_copy(update={"description": h.description + " (2029)"}).model_dump_json()) for h in labs
    ]

    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    command = [sys.executable, "-m", "scripts.cli", "--home", str(home), "serve", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "HOSTMATCH_RATELIMIT_ENABLED": "false"},  # four clients on one address, on purpose
    )
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    clients = [
        threading.Thread(target=match_loop, args=(base, n, stop, latencies, errors), daemon=True)
        for n in range(CLIENTS)
    ]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if http("GET", base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.5)
        for client in clients:
            client.start()
        time.sleep(2.0)
        quiet = list(latencies)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "--home", str(home), "index", "build", "--hosts", str(revised)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        built = time.perf_counter()
        status, body = http("POST", base + "/v1/hosts", {"hosts": upload}, token)
        assert status == 200, body
        uploaded = time.perf_counter()
        during = latencies[len(quiet) :]
        assert uploaded - started < 60
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=35)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    figures = {
        "clients": CLIENTS,
        "index_build_s": round(built - started, 1),
        "bulk_upload_s": round(uploaded - built, 1),
        "matches_during": len(during),
        "errors": len(errors),
        "quiet_p50_ms": round(1000 * statistics.median(quiet), 1),
        "quiet_max_ms": round(1000 * max(quiet), 1),
        "during_p50_ms": round(1000 * statistics.median(during), 1),
        "during_max_ms": round(1000 * max(during), 1),
    }
    print("gunicorn under maintenance:", json.dumps(figures))
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "maintenance-gunicorn.json").write_text(json.dumps(figures, indent=2))
    assert not errors, errors[:5]
    stored = stored_hosts(Store(f"sqlite:///{home / 'hostmatch.sqlite3'}"))
    assert all(h.description.endswith("(2029)") for h in stored.values())
