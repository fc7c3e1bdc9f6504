"""Real gunicorn, real model, on a free port of 127.0.0.1: start, wait until ready, match, write, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matcher.records import read_hosts, sample_path
from tests.conftest import host_record, researcher_record

pytestmark = pytest.mark.slow
HOSTS = ("h-b10", "h-c10", "h-j04", "h-a01", "h-f06")  # a few sample labs: seismology, tsunami, NLP, ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def hostmatch(home: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("served")
    hosts = [h for h in read_hosts(sample_path("hosts")) if h.id in HOSTS]
    hosts_file = home / "hosts.jsonl"
    hosts_file.write_text("\n".join(h.model_dump_json() for h in hosts))
    hostmatch(home, "index", "build", "--hosts", str(hosts_file))
    token = hostmatch(home, "tokens", "create", "--name", "test-admin", "--scope", "admin").strip()
    port = free_port()
    log_path = home / "gunicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "--home",
            str(home),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if http("GET", base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not become ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_gunicorn_serves_a_real_match(server: tuple[str, str]) -> None:
    base, _ = server
    statement = "Slow slip events and tectonic tremor on the Nankai subduction zone megathrust."
    status, body = http("POST", base + "/v1/matches", {"researcher": researcher_record(statement=statement), "top": 2})
    assert status == 200, body
    assert body["matches"][0]["host_id"] == "h-b10"


def test_a_host_written_through_one_worker_is_matched_by_every_worker(server: tuple[str, str]) -> None:
    base, token = server
    text = "Sake brewing: koji mould enzymes, sake yeast fermentation and ginjo aroma esters."
    status, body = http("PUT", base + "/v1/hosts/h-sake", host_record("h-sake", description=text), token)
    assert status == 201, body
    for _ in range(6):  # sequential requests land on both workers
        status, body = http("POST", base + "/v1/matches", {"researcher": researcher_record(statement=text), "top": 1})
        assert status == 200 and body["matches"][0]["host_id"] == "h-sake"


def test_errors_over_http_keep_their_shape(server: tuple[str, str]) -> None:
    base, _ = server
    status, body = http("POST", base + "/v1/matches", {"researcher": researcher_record(statement="")})
    assert status == 422 and body["errors"][0]["field"] == "researcher.statement"
    status, body = http("GET", base + "/v1/researchers")
    assert status == 401 and set(body) == {"code", "name", "description", "errors", "request_id"}
