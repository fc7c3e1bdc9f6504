"""Pages against the JSON API: `python -m scripts.bench.pages [--rounds 40] [--backend B]`. Prints one JSON object.

The bundled sample is loaded into a fresh data folder with the real model (the encoder the service would
run). Each round sends the same applicant profile twice, once as the API's `POST /v1/matches` and once as
the start page's form (`POST /`, which answers with the results page: the eligibility panel, the ranked
labs with their components, evidence and filters), the two in alternate order. Each request carries a
statement no earlier request used, so both pay for encoding it, as a new applicant does.

    page_over_api         p50 of the results page over p50 of the API's answer, both served over HTTP by
                          `hostmatch serve` (gunicorn, one worker) on 127.0.0.1, as the README runs it
                          (target <= 1.3)
    page_p50_ms, api_p50_ms
    in_process_page_over_api
                          the same through Flask's test client in this process: the app's own time, without
                          the server and the socket
    cached_page_over_api  in process, one profile sent again and again (its vectors cached): what the page
                          adds to a match that costs only ranking and explanation
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from json import dumps as to_json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from matcher.encoders import BACKENDS, default_backend

STATEMENT = (
    "Subduction zone earthquakes, slow slip events and tsunami early warning from seafloor geodesy. I combine "
    "ocean-bottom pressure gauges with GNSS-acoustic positioning to map interplate coupling"
)
WORDS = [
    "trench",
    "coupling",
    "pressure",
    "gauge",
    "acoustic",
    "ranging",
    "offshore",
    "array",
    "inversion",
    "slip",
    "deficit",
    "aftershock",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="Pairs of requests timed (after 3 to warm up).")
    parser.add_argument("--backend", choices=BACKENDS, default=default_backend())
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as home:
        client = _client(Path(home), args.backend)
        token = _csrf(client)
        fresh = _rounds(client, token, args.rounds, fresh=True)
        cached = _rounds(client, token, args.rounds, fresh=False)
        with _Served(Path(home), args.backend) as served:
            http = _rounds(served, served.csrf(), args.rounds, fresh=True, first=10_000)
    result = {
        "rounds": args.rounds,
        "backend": args.backend,
        "page_p50_ms": round(http["page"], 2),
        "api_p50_ms": round(http["api"], 2),
        "page_over_api": round(http["page"] / http["api"], 3),
        "in_process_page_p50_ms": round(fresh["page"], 2),
        "in_process_api_p50_ms": round(fresh["api"], 2),
        "in_process_page_over_api": round(fresh["page"] / fresh["api"], 3),
        "cached_page_p50_ms": round(cached["page"], 2),
        "cached_api_p50_ms": round(cached["api"], 2),
        "cached_page_over_api": round(cached["page"] / cached["api"], 3),
    }
    print(json.dumps(result, indent=2))


def _client(home: Path, backend: str) -> FlaskClient:
    """An app over a data folder holding the sample, as `hostmatch db load-sample` then `serve` make it."""
    from scripts.cli import main as cli

    os.environ["HOSTMATCH_HOME"] = str(home)
    os.environ["HOSTMATCH_BACKEND"] = backend
    try:
        cli(["db", "load-sample"])
    except SystemExit as exc:
        if exc.code:
            raise
    from service import create_app

    return create_app(
        {"HOME": str(home), "RATELIMIT_ENABLED": False}
    ).test_client()  # one client, far faster than a person


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))
    assert found, "the start page has no CSRF token"
    return found.group(1)


def _profile(statement: str) -> dict[str, Any]:
    return {
        "id": "me",
        "name": "A. Visitor",
        "institution": "University of Bristol",
        "country": "GB",
        "nationality": "GB",
        "phd": 2021,
        "position": "postdoc",
        "desired_tenure": "18 months",
        "statement": statement,
        "programmes": ["postdoc-standard"],
    }


def _form(token: str, statement: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "statement": statement,
        "name": "A. Visitor",
        "institution": "University of Bristol",
        "country": "GB",
        "nationality": "GB",
        "phd_status": "awarded",
        "phd_year": "2021",
        "position": "postdoc",
        "stay_amount": "18",
        "stay_unit": "months",
        "programmes": ["postdoc-standard"],
        "languages": ["en"],
        "action": "match",
    }


def _statement(n: int) -> str:
    """A statement no other request used: the base text and a few of WORDS picked by n's digits."""
    picked = [WORDS[int(d)] for d in str(n)]  # a word for each digit
    return f"{STATEMENT} ({' '.join(picked)}, case {n})."


class _Served:
    """`hostmatch serve --workers 1` over the data folder on a free port of 127.0.0.1, with one client whose
    cookies (the CSRF token's session) persist; `post` has the test client's signature for the two calls."""

    def __init__(self, home: Path, backend: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.home, self.backend = home, backend
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def __enter__(self) -> _Served:
        command = [sys.executable, "-m", "scripts.cli", "--home", str(self.home), "--backend", self.backend]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOSTMATCH_RATELIMIT_ENABLED": "false"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with self.opener.open(self._url("/readyz"), timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the service did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def csrf(self) -> str:
        with self.opener.open(self._url("/")) as response:
            page = response.read().decode()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, "the start page has no CSRF token"
        return found.group(1)

    def post(self, path: str, *, json: Any = None, data: Any = None) -> _Answer:
        if json is not None:
            body, kind = to_json(json).encode(), "application/json"
        else:
            body, kind = urllib.parse.urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
        request = urllib.request.Request(self._url(path), data=body, headers={"Content-Type": kind})
        with self.opener.open(request) as response:
            response.read()
            return _Answer(response.status)


@dataclass
class _Answer:
    status_code: int


def _rounds(client: Any, token: str, rounds: int, *, fresh: bool, first: int = 0) -> dict[str, float]:
    """Median milliseconds of each kind of request over `rounds` pairs (after three pairs to warm up);
    fresh statements are numbered from `first`, so a second set of rounds sends none of the first's."""
    times: dict[str, list[float]] = {"page": [], "api": []}
    for n in range(first, first + rounds + 3):
        api_text, page_text = (_statement(2 * n + 1), _statement(2 * n + 2)) if fresh else (STATEMENT, STATEMENT)
        order = [("api", api_text), ("page", page_text)]
        for kind, text in order if n % 2 else order[::-1]:
            start = time.perf_counter()
            if kind == "api":
                response = client.post("/v1/matches", json={"researcher": _profile(text), "top": 10})
            else:
                response = client.post("/", data=_form(token, text))
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (kind, response.status_code)
            if n >= first + 3:
                times[kind].append(elapsed * 1000)
    return {kind: statistics.median(values) for kind, values in times.items()}


if __name__ == "__main__":
    main()
