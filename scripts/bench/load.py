"""Load on `hostmatch serve`: `python -m scripts.bench.load [--clients 32] [--seconds 60] [--heavy 1]`.

The bundled sample is loaded into a fresh data folder (`hostmatch db load-sample`, the real model) and
served by `hostmatch serve` (gunicorn, 2 workers) on 127.0.0.1. Then, bounded in count and time:

1. **quiet**: `--clients` clients for `--seconds` seconds, each sending its next request as soon as the last
   is answered (a closed loop, so the service runs flat out). A client is an applicant of
   examples/applicants.jsonl: half its requests are a new version of its profile (a statement no request sent
   before, so it is embedded: one text; its publications are cached after its first request), half re-rank
   its last profile with another filter (nothing to embed). `POST /v1/matches`, anonymous.
2. **heavy**: the same clients again, and `--heavy` more connections of one more client sending
   maximum-size profiles (a long statement and `--heavy-publications` publications with abstracts past the
   model's 256 tokens, ~300 KB of JSON; every text new; built before the phase, so that making them takes
   no time from the other clients), never waiting for Retry-After.
3. **quiet again**: as 1, to show how much the machine itself drifted between the phases (other processes
   on a shared machine); `p99_heavy_over_quiet` divides by the larger of the two quiet p99s, and
   `p99_heavy_over_first_quiet` by the first.
4. **side channel**: a staff token matches every stored researcher (their statements are now in the shared
   cache); then `--pairs` pairs of anonymous matches, one with a stored researcher's statement and one with
   the same words shuffled (never seen), in alternating order, from a fresh address each.

Every client has its own address (127.0.0.11, .12, ...; the heavy one 127.0.0.2; loopback answers for all of
127.0.0.0/8), so the per-client limits apply to each. The run's limits are the defaults except requests and
matches per client, raised so that the normal clients, which send far more than a person would, are never
refused (`--limits` prints them); the heavy client's text budget is the default's.

Prints one JSON object: per phase, the normal clients' requests, their statuses, p50/p95/p99 in ms; the
heavy client's statuses (429: over its text budget; 503: the lane for large matches taken or past the
deadline); `p99_heavy_over_quiet` (target <= 2); the side channel's medians and in how many pairs the
stored statement was faster (20 of 20 before anonymous queries stopped reading the shared cache).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUN_LIMITS = {
    "HOSTMATCH_RATELIMIT_ANONYMOUS": "100000/minute",  # the normal clients send ~100 requests a minute each
    "HOSTMATCH_RATELIMIT_MATCHES_ANONYMOUS": "100000/minute",
}
FILTERS: list[dict[str, Any]] = [{}, {"top": 5}, {"region": "Kanto"}, {"section": "J"}, {"min_score": 0.5}]
Sample = tuple[float, float, int]  # (start since the phase began, seconds, status)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of each load phase.")
    parser.add_argument("--heavy", type=int, default=1, help="Connections of the client sending large profiles.")
    parser.add_argument("--heavy-publications", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=20, help="Pairs of side-channel probes.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", help="Encoder backend (default: the service's default).")
    parser.add_argument("--limits", action="store_true", help="Print the run's limit settings and stop.")
    args = parser.parse_args(argv)
    if args.limits:
        print(json.dumps(RUN_LIMITS, indent=2))
        return
    if not 1 <= args.clients <= 200 or not 1 <= args.seconds <= 600 or not 0 <= args.heavy <= 8:
        parser.error("keep the run bounded: 1-200 clients, 1-600 seconds, 0-8 heavy connections")

    with tempfile.TemporaryDirectory() as folder, Served(Path(folder), args) as served:
        applicants = [json.loads(line) for line in (ROOT / "examples" / "applicants.jsonl").open()]
        normal = [Normal(f"127.0.0.{11 + i}", applicants[i % len(applicants)], i) for i in range(args.clients)]
        quiet = run_phase(served.port, normal, [], args.seconds)
        heavy_clients = [Heavy("127.0.0.2", args.heavy_publications, seed=n) for n in range(args.heavy)]
        loaded = run_phase(served.port, normal, heavy_clients, args.seconds)
        again = run_phase(served.port, normal, [], args.seconds)
        probes = side_channel(served, args.pairs)
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "workers": args.workers,
        "heavy_connections": args.heavy,
        "heavy_publications": args.heavy_publications,
        "run_limits": RUN_LIMITS,
        "quiet": summary(quiet["normal"]),
        "heavy": {**summary(loaded["normal"]), "heavy_client": summary(loaded["heavy"])},
        "quiet_again": summary(again["normal"]),
        "side_channel": probes,
    }
    heavy_p99, quiet_p99s = report["heavy"]["p99_ms"], (report["quiet"]["p99_ms"], report["quiet_again"]["p99_ms"])
    report["p99_heavy_over_quiet"] = round(heavy_p99 / max(quiet_p99s), 3)
    report["p99_heavy_over_first_quiet"] = round(heavy_p99 / quiet_p99s[0], 3)
    print(json.dumps(report, indent=2))


class Served:
    """`hostmatch serve` over a fresh data folder holding the sample, on a free port of 127.0.0.1."""

    def __init__(self, home: Path, args: argparse.Namespace) -> None:
        self.home, self.args = home, args
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.env = {**os.environ, **RUN_LIMITS, "PYTHONPATH": str(ROOT)}
        self.command = [sys.executable, "-m", "scripts.cli", "--home", str(home)]
        if args.backend:
            self.command += ["--backend", args.backend]

    def __enter__(self) -> Served:
        subprocess.run([*self.command, "db", "load-sample"], env=self.env, check=True, capture_output=True)
        made = subprocess.run(
            [*self.command, "tokens", "create", "--name", "bench", "--scope", "staff"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.token = made.stdout.strip()
        self.log = (self.home / "serve.log").open("w")
        self.process = subprocess.Popen(
            [*self.command, "serve", "--port", str(self.port), "--workers", str(self.args.workers)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.home / "serve.log").read_text())
            try:
                if request(self.port, "GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the service did not become ready in 180 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def request(
    port: int, method: str, path: str, body: Any = None, *, source: str = "127.0.0.1", token: str | None = None
) -> tuple[int, bytes]:
    """One request on a new connection from `source` (gunicorn's sync workers close each one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Normal:
    """An applicant re-writing and re-ranking their profile."""

    def __init__(self, source: str, applicant: dict[str, Any], number: int) -> None:
        self.source, self.applicant, self.number = source, applicant, number
        self.random = random.Random(number)
        self.sent = 0
        self.profile = dict(applicant)

    def next_body(self) -> dict[str, Any]:
        self.sent += 1
        if self.sent == 1 or self.random.random() < 0.5:  # a new version of the statement: one text to embed
            statement = f"{self.applicant['statement']} (version {self.sent} of client {self.number})"
            self.profile = {**self.applicant, "statement": statement}
        return {"researcher": self.profile, **self.random.choice(FILTERS)}


class Heavy:
    """The largest profile the service accepts, every text new: a long statement and many long publications."""

    BODIES = 16  # random texts made before the phase starts; each send numbers them anew, so all are new

    def __init__(self, source: str, publications: int, *, seed: int) -> None:
        self.source, self.publications = source, publications
        self.random = random.Random(1000 + seed)
        hosts = json.loads((ROOT / "models" / "sample" / "hosts.json").read_text())["hosts"]
        self.words = sorted({w for h in hosts for w in h["description"].split() if w.isalpha()})
        self.bodies = [self._profile() for _ in range(self.BODIES)]
        self.sent = 0

    def text(self, words: int) -> str:
        return " ".join(self.random.choice(self.words) for _ in range(words))

    def next_body(self) -> bytes:
        """The next profile: one of those made before, with every text numbered by this send."""
        self.sent += 1
        mark = f"[{self.sent}]"
        profile = self.bodies[self.sent % len(self.bodies)]
        papers = [{**p, "title": f"{mark} {p['title']}"} for p in profile["publications"]]
        researcher = {**profile, "statement": f"{mark} {profile['statement']}", "publications": papers}
        return json.dumps({"researcher": researcher}).encode()

    def _profile(self) -> dict[str, Any]:
        papers = [{"title": self.text(15), "abstract": self.text(300)} for _ in range(self.publications)]
        researcher = {
            "id": "heavy",
            "name": "A. Heavy",
            "institution": "University of Bristol",
            "country": "GB",
            "nationality": "GB",
            "phd": 2021,
            "position": "postdoc",
            "desired_tenure": "12 months",
            "statement": self.text(400),
            "publications": papers,
        }
        return researcher


def run_phase(port: int, normal: list[Normal], heavy: list[Heavy], seconds: float) -> dict[str, list[Sample]]:
    """Every client in its own thread, in a closed loop, until `seconds` have passed."""
    samples: dict[str, list[Sample]] = {"normal": [], "heavy": []}
    lock = threading.Lock()
    began = time.monotonic()
    end = began + seconds

    def loop(client: Normal | Heavy, kind: str) -> None:
        mine: list[Sample] = []
        while time.monotonic() < end:
            body = client.next_body()
            start = time.monotonic()
            try:
                status, _ = request(port, "POST", "/v1/matches", body, source=client.source)
            except OSError:
                status = 599  # no answer: a connection error or timeout
            mine.append((start - began, time.monotonic() - start, status))
        with lock:
            samples[kind].extend(mine)

    threads = [threading.Thread(target=loop, args=(c, "normal")) for c in normal]
    threads += [threading.Thread(target=loop, args=(h, "heavy")) for h in heavy]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def summary(samples: list[Sample]) -> dict[str, Any]:
    times = sorted(seconds * 1000 for _, seconds, status in samples if status == 200)
    statuses = Counter(status for *_, status in samples)

    def percentile(q: float) -> float | None:
        return round(times[min(len(times) - 1, int(q * len(times)))], 1) if times else None

    return {
        "requests": len(samples),
        "errors": sum(n for status, n in statuses.items() if status != 200),
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
    }


def side_channel(served: Served, pairs: int) -> dict[str, Any]:
    """Can an anonymous caller tell a text the service has seen (a stored researcher's statement, now in the
    shared cache) from one it has not, by the time a match takes?"""
    researchers = json.loads((ROOT / "models" / "sample" / "researchers.json").read_text())["researchers"]
    for r in researchers:
        status, _ = request(served.port, "POST", "/v1/matches", {"researcher_id": r["id"]}, token=served.token)
        assert status == 200, status
    shuffler = random.Random(7)
    timed: dict[str, list[float]] = {"seen": [], "unseen": []}
    faster = 0
    for n in range(pairs):
        seen = researchers[n % len(researchers)]
        words = seen["statement"].split()
        shuffler.shuffle(words)
        texts = {"seen": seen["statement"], "unseen": " ".join(words)}
        order: list[str] = ["seen", "unseen"] if n % 2 else ["unseen", "seen"]
        took: dict[str, float] = {}
        for i, kind in enumerate(order):
            body = {"researcher": {**seen, "id": "probe", "statement": texts[kind], "publications": []}}
            took[kind] = _timed(served.port, body, source=f"127.0.1.{2 * n + i + 1}")
            timed[kind].append(took[kind])
        faster += took["seen"] < took["unseen"]
    return {
        "pairs": pairs,
        "seen_p50_ms": round(statistics.median(timed["seen"]), 1),
        "unseen_p50_ms": round(statistics.median(timed["unseen"]), 1),
        "seen_faster_in": faster,
    }


def _timed(port: int, body: dict[str, Any], *, source: str) -> float:
    """Milliseconds one anonymous match takes, from a connection to its answer."""
    start = time.monotonic()
    status, answer = request(port, "POST", "/v1/matches", body, source=source)
    assert status == 200, (status, answer[:200])
    return (time.monotonic() - start) * 1000


if __name__ == "__main__":
    main()
