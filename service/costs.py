"""What one client's requests may cost: rate limits, the texts a match may embed, a deadline, and a lane.

A match's cost is its encoder time, which grows with the texts it has to embed (those not cached). So:

- **Rate limits per client** (Flask-Limiter), three of them, shared by the API and the pages: every request
  (`RATELIMIT_ANONYMOUS` / `RATELIMIT_STAFF`), matches (`RATELIMIT_MATCHES_*`), and the texts matches
  embedded (`RATELIMIT_TEXTS_*`). A client is its bearer token or signed-in staff session when it has one
  (staff limits), else its address (`TRUSTED_PROXIES` > 0 reads it from X-Forwarded-For, behind that many
  proxies). The match and text limits are charged after the match, with what it really did (a re-ranking
  of cached texts costs one match and no texts), and checked before: a client that has used up either is
  refused before any work. Over a limit: 429 with Retry-After, in the API's error shape or as a page.
- **Counters shared by the workers**: the default storage is a SQLite file in the data folder
  (`service.ratelimit_store`), so the 2 gunicorn workers of `hostmatch serve` count one client's requests
  together; `RATELIMIT_STORAGE_URI` takes any `limits` storage instead (redis://, memcached://) for
  several machines.
- **A budget per request** (`EMBED_BUDGET` texts to embed, after the cache): more is a 422 naming the
  field, before anything is embedded.
- **A deadline per request** (`REQUEST_DEADLINE` seconds from the request's start): texts are embedded
  in chunks, and a chunk that would end after the deadline is not started: 503 with Retry-After, nothing
  recorded.
- **A lane for large requests**: a match that has to embed more than `HEAVY_TEXTS` texts first takes one
  of `HEAVY_SLOTS` lock files in the data folder (default 1), or answers 503 with Retry-After at once; so
  however many clients send large profiles, the other workers stay free for everyone else.
- **Anonymous texts stay private to the worker**: an inline profile is embedded through this process's
  `MemoryCache` (`ANONYMOUS_CACHE_MB`), its keys salted with the client, and never reads or writes the
  shared cache on disk; stored researchers use the shared cache as the index builds do.
"""

from __future__ import annotations

import fcntl
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from flask_babel import gettext
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

import service.ratelimit_store  # noqa: F401  (registers the sqlite:// storage with `limits`)
from matcher.encoders.embedding import CachingEmbedder, Embedder, MemoryCache, MeteredEmbedder, NoCache, VectorCache
from matcher.errors import Overloaded
from service.errors import error_response, page_error, wants_page
from service.tokens import Principal

DEFAULTS: dict[str, object] = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": None,  # default: sqlite:///<HOME>/ratelimit.sqlite3, shared by the workers
    "RATELIMIT_STRATEGY": "fixed-window",
    "RATELIMIT_SWALLOW_ERRORS": True,  # a storage failure lets the request through (and is logged)
    "RATELIMIT_ANONYMOUS": "120/minute",  # every request, per address: pages, API, lab directory
    "RATELIMIT_STAFF": "1200/minute",  # per token (or staff session)
    "RATELIMIT_MATCHES_ANONYMOUS": "30/minute;300/hour",
    "RATELIMIT_MATCHES_STAFF": "300/minute",
    "RATELIMIT_TEXTS_ANONYMOUS": "200/minute;2000/hour",  # texts embedded by its matches: one largest profile a minute
    "RATELIMIT_TEXTS_STAFF": "6000/minute",
    "TRUSTED_PROXIES": 0,  # proxies in front that set X-Forwarded-For (0: the peer address is the client)
    "EMBED_BUDGET": 256,  # texts one request may embed (a statement and 200 publications fit)
    "REQUEST_DEADLINE": 10.0,  # seconds a match may take before it answers 503
    "HEAVY_TEXTS": 32,  # a match embedding more texts than this is a large one ...
    "HEAVY_SLOTS": 1,  # ... and at most this many of those run at once per data folder
    "ANONYMOUS_CACHE_MB": 16,  # per worker: anonymous profiles' vectors, least recently used dropped first
}
MATCH_ENDPOINTS = frozenset(  # the views that run a match (service.matching.run_match)
    {"v1.post_match", "public.submit", "public.results", "public.shortlist", "staff.researcher"}
)
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
_WHAT = {"requests": "requests", "matches": "matches", "texts": "texts embedded for matches"}
_ANONYMOUS_CACHE = "hostmatch.anonymous_cache"


def init_costs(app: Flask) -> Limiter:
    """Rate limits, the anonymous cache and the 429 page; after the hooks that authenticate (the limits
    depend on who is calling) and after the views are registered (checked here by name)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    unknown = MATCH_ENDPOINTS - set(app.view_functions)
    if unknown:
        raise RuntimeError(f"rate-limited match views not found: {', '.join(sorted(unknown))}")
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    app.extensions[_ANONYMOUS_CACHE] = MemoryCache(max_bytes=int(float(app.config["ANONYMOUS_CACHE_MB"]) * 1e6))

    def limits(anonymous: str, staff: str) -> str:
        return str(current_app.config[staff if _principal() else anonymous])

    limiter = Limiter(
        client_key,
        application_limits=[
            ApplicationLimit(
                lambda: limits("RATELIMIT_ANONYMOUS", "RATELIMIT_STAFF"),
                scope="requests",
                exempt_when=lambda: request.path in HEALTH_PATHS,
                finalized=True,
            ),
            ApplicationLimit(
                lambda: limits("RATELIMIT_MATCHES_ANONYMOUS", "RATELIMIT_MATCHES_STAFF"),
                scope="matches",
                exempt_when=_not_a_match,
                deduct_when=lambda _: bool(g.get("matched")),
                finalized=True,
            ),
            ApplicationLimit(
                lambda: limits("RATELIMIT_TEXTS_ANONYMOUS", "RATELIMIT_TEXTS_STAFF"),
                scope="texts",
                exempt_when=_not_a_match,
                cost=lambda: int(g.get("texts_embedded") or 1),  # 1 before the match: "any left?"
                deduct_when=lambda _: int(g.get("texts_embedded") or 0) > 0,
                finalized=True,
            ),
        ],
        storage_uri=app.config["RATELIMIT_STORAGE_URI"] or f"sqlite:///{Path(app.config['HOME'], 'ratelimit.sqlite3')}",
    )
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        retry = max(1, math.ceil(current.window.reset_time - time.time())) if current is not None else 60
        scope = str(exc.limit.scope or "requests")
        description = (
            f"Too many {_WHAT.get(scope, scope)} from this client: at most {exc.limit.limit}. "
            f"Try again in {retry} seconds."
        )
        if wants_page():
            message = gettext(
                "This connection has sent too many requests in a short time. Wait %(seconds)s seconds, then try again.",
                seconds=retry,
            )
            response = page_error(429, str(message))
        else:
            response = error_response(429, description)
        response.headers["Retry-After"] = str(retry)
        return response

    return limiter


def client_key() -> str:
    """Who a limit counts: the token (or staff session) when there is one, else the address."""
    principal = _principal()
    if principal is not None:
        return f"token:{principal.name}"
    return f"address:{request.remote_addr or 'unknown'}"


def request_encoder(*, stored: bool) -> MeteredEmbedder:
    """The embedder for one match's query texts: a stored researcher's through the shared cache on disk, an
    inline profile's through this worker's memory only, keyed by client; within the request's budget,
    deadline and lane."""
    from service.matching import catalogue

    return _metered(catalogue().engine.embedder, stored=stored)


def request_multilingual_encoder(*, stored: bool) -> MeteredEmbedder | None:
    """The same for the multilingual encoder, when one is enabled (None otherwise): its texts are metered
    as the default encoder's are, by the same budget, deadline and lane."""
    from service.matching import catalogue

    embedder = catalogue().engine.multilingual_embedder
    return _metered(embedder, stored=stored) if embedder is not None else None


def _metered(engine_embedder: Embedder, *, stored: bool) -> MeteredEmbedder:
    config = current_app.config
    shared: VectorCache
    if isinstance(engine_embedder, CachingEmbedder):
        model, shared = engine_embedder.inner, engine_embedder.cache
    else:
        model, shared = engine_embedder, NoCache()
    deadline = float(config["REQUEST_DEADLINE"])
    return MeteredEmbedder(
        model,
        shared if stored else current_app.extensions[_ANONYMOUS_CACHE],
        salt=b"" if stored else client_key().encode() + b"\0",
        budget=int(config["EMBED_BUDGET"]),
        field="researcher_id" if stored else "researcher.publications",
        deadline=g.get("started", time.monotonic()) + deadline,
        retry_after=math.ceil(deadline),
        gate=HeavyLane(
            Path(config["HOME"]) / "run",
            threshold=int(config["HEAVY_TEXTS"]),
            slots=int(config["HEAVY_SLOTS"]),
            retry_after=math.ceil(deadline),
        ),
    )


class HeavyLane:
    """At most `slots` requests embedding more than `threshold` texts at once, across the processes of one
    data folder: each holds an exclusive `flock` on one of `slots` files in `folder` (released by the
    kernel if the process dies). No slot free: `Overloaded` at once; waiting would tie the worker."""

    def __init__(self, folder: Path, *, threshold: int, slots: int, retry_after: int) -> None:
        self.folder = folder
        self.threshold = threshold
        self.slots = slots
        self.retry_after = retry_after

    @contextmanager
    def __call__(self, texts: int) -> Iterator[None]:
        if texts <= self.threshold:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for slot in range(self.slots):
            with (self.folder / f"heavy-{slot}.lock").open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                return
        raise Overloaded(
            "The service is busy with other large profiles; try again in a few seconds.",
            retry_after=self.retry_after,
        )


def _principal() -> Principal | None:
    principal: Principal | None = g.get("principal")
    return principal


def _not_a_match() -> bool:
    return request.endpoint not in MATCH_ENDPOINTS
