"""What a request may cost (service.costs): rate limits per client shared by the workers of a data folder, the
texts a match may embed, its deadline, the lane for large matches, and anonymous texts kept out of the shared
cache on disk. Through Flask's test client, over a fake embedder."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache, text_key
from matcher.progress import Progress
from matcher.store import Store
from service import create_app
from service.costs import MATCH_ENDPOINTS
from service.tokens import Tokens
from tests.conftest import FakeEmbedder, host_record, researcher_record
from tests.test_service import POETRY, QUAKE, Service, assert_error
from tests.test_web import csrf, profile_form, text_of

STORED = "Liquefaction of reclaimed land in Osaka Bay during long-period earthquake shaking."


class SleepyEmbedder(FakeEmbedder):
    """The fake embedder, taking `delay` seconds per call to encode."""

    delay = 0.0

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        time.sleep(self.delay)
        return super().encode(texts, progress=progress)


class CachedService(Service):
    """As `Service`, with the shared embedding cache on disk that the real service has."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.embedder = SleepyEmbedder()
        self.cache = EmbeddingCache(home / "cache" / "embeddings.sqlite3")
        self.client = self._start()
        tokens = Tokens(self.catalogue.store)
        self.tokens = {"staff": tokens.create("staff-1", "staff"), "admin": tokens.create("admin-1", "admin")}

    def _start(self, **config: Any) -> FlaskClient:
        store = Store(f"sqlite:///{self.home / 'db.sqlite3'}")
        embedder = CachingEmbedder(self.embedder, self.cache)
        self.catalogue = Catalogue.open(store, embedder, index_dir=self.home / "index")
        self.app = create_app({"TESTING": True, "HOME": str(self.home), **config}, catalogue=self.catalogue)
        return self.app.test_client()

    def cached(self, text: str) -> bool:
        return bool(self.cache.get_many(self.embedder.fingerprint, [text_key(text)], self.embedder.dim))

    def runs(self) -> int:
        return len(self.catalogue.store.audit_runs(limit=100)[0])


@pytest.fixture
def service(tmp_path: Path) -> CachedService:
    svc = CachedService(tmp_path)
    hosts = [host_record("h-quake", description=QUAKE), host_record("h-poetry", description=POETRY)]
    assert svc.call("POST", "/v1/hosts", "admin", json={"hosts": hosts}).status_code == 201
    stored = [researcher_record("r-stored", statement=STORED)]
    assert svc.call("POST", "/v1/researchers", "staff", json={"researchers": stored}).status_code == 201
    return svc


def profile(statement: str = QUAKE, publications: int = 0) -> dict[str, Any]:
    papers = [{"title": f"Paper {i} on ground shaking"} for i in range(publications)]
    return {"researcher": researcher_record(statement=statement, publications=papers)}


def at(address: str) -> dict[str, Any]:
    """Keyword arguments that make a test request come from another address (another client)."""
    return {"environ_base": {"REMOTE_ADDR": address}}


# -- rate limits ----------------------------------------------------------------------------------------


def test_over_the_limit_is_429_with_retry_after_per_client(service: CachedService) -> None:
    service.restart(RATELIMIT_ANONYMOUS="3/minute")
    assert [service.call("GET", "/v1/hosts").status_code for _ in range(3)] == [200, 200, 200]
    response = service.call("GET", "/v1/hosts")
    body = assert_error(response, 429)
    assert "at most 3 per 1 minute" in body["description"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert service.call("GET", "/v1/hosts", **at("192.0.2.7")).status_code == 200  # another client
    assert service.call("GET", "/healthz").status_code == 200  # health checks are never limited


def test_staff_tokens_have_their_own_higher_limit(service: CachedService) -> None:
    service.restart(RATELIMIT_ANONYMOUS="2/minute", RATELIMIT_STAFF="5/minute")
    assert [service.call("GET", "/v1/hosts", "staff").status_code for _ in range(6)] == [200] * 5 + [429]
    assert [service.call("GET", "/v1/hosts").status_code for _ in range(3)] == [200, 200, 429]
    assert service.call("GET", "/v1/hosts", "admin").status_code == 200  # each token counts alone


def test_the_workers_of_one_data_folder_share_the_counts(service: CachedService) -> None:
    """Two apps over one data folder, as the two gunicorn workers of `hostmatch serve` are."""
    service.restart(RATELIMIT_ANONYMOUS="4/minute")
    first = service.client
    service.restart(RATELIMIT_ANONYMOUS="4/minute")
    second = service.client
    assert first.application is not second.application
    statuses = [(first if i % 2 else second).get("/v1/hosts").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_pages_that_match_are_limited_and_say_so_as_a_page(service: CachedService) -> None:
    service.restart(RATELIMIT_MATCHES_ANONYMOUS="1/minute")
    token = csrf(service.client.get("/"))
    assert service.client.post("/", data=profile_form(token, action="add-row")).status_code == 200  # ran no match
    assert service.client.post("/", data=profile_form(token)).status_code == 200
    response = service.client.post("/", data=profile_form(token))
    assert response.status_code == 429 and response.mimetype == "text/html"
    retry = int(response.headers["Retry-After"])
    assert "Too many requests" in text_of(response) and f"Wait {retry} seconds" in text_of(response)
    japanese = service.client.post("/", data=profile_form(token), headers={"Accept-Language": "ja"})
    assert "秒待ってから" in text_of(japanese)
    assert service.client.get("/labs").status_code == 200  # browsing is not matching


def test_a_match_costs_the_texts_it_embedded(service: CachedService) -> None:
    """A profile with many texts uses up the client's text budget at once; re-ranking cached texts costs none."""
    service.restart(RATELIMIT_TEXTS_ANONYMOUS="10/minute")
    heavy = at("192.0.2.1")
    assert service.call("POST", "/v1/matches", json=profile(publications=11), **heavy).status_code == 200
    body = assert_error(service.call("POST", "/v1/matches", json=profile("Fresh words."), **heavy), 429)
    assert "texts embedded" in body["description"]

    light = at("192.0.2.2")
    statuses = [
        service.call("POST", "/v1/matches", json=profile(f"Statement number {i}."), **light).status_code
        for i in range(11)
    ]
    assert statuses == [200] * 10 + [429]

    again = at("192.0.2.3")
    for section in ("", "A", "B", "C", "D", "E"):  # 3 texts, embedded once, ranked six times
        request = {**profile(publications=2), **({"section": section} if section else {})}
        assert service.call("POST", "/v1/matches", json=request, **again).status_code == 200


# -- budget, deadline, lane -----------------------------------------------------------------------------


def test_a_profile_over_the_embedding_budget_is_422_naming_the_field_and_stores_nothing(
    service: CachedService,
) -> None:
    service.restart(EMBED_BUDGET=3)
    runs, embedded = service.runs(), service.embedder.texts_embedded
    body = assert_error(service.call("POST", "/v1/matches", json=profile(publications=5)), 422)
    assert body["errors"][0]["field"] == "researcher.publications"
    assert "6 texts" in body["errors"][0]["message"] and "at most 3" in body["errors"][0]["message"]
    assert service.runs() == runs and service.embedder.texts_embedded == embedded
    assert service.call("POST", "/v1/matches", json=profile(publications=2)).status_code == 200


def test_a_match_past_its_deadline_is_503_with_retry_after_and_stores_nothing(service: CachedService) -> None:
    service.restart(REQUEST_DEADLINE=0.05)
    service.embedder.delay = 0.1  # every chunk of texts takes longer than the whole deadline
    runs, embedded = service.runs(), service.embedder.texts_embedded
    response = service.call("POST", "/v1/matches", json=profile("A statement never seen.", publications=40))
    body = assert_error(response, 503)
    assert "longer than the service allows" in body["description"]
    assert response.headers["Retry-After"] == "1"
    assert service.runs() == runs  # no audit row
    assert not service.cached("A statement never seen.")  # and nothing in the shared cache
    assert service.embedder.texts_embedded - embedded == 32  # it stopped after the first chunk


def test_one_large_match_at_a_time_the_others_answer_503_at_once(service: CachedService) -> None:
    service.restart(HEAVY_TEXTS=3)
    lane = service.home / "run" / "heavy-0.lock"
    lane.parent.mkdir(exist_ok=True)
    with lane.open("a") as held:  # another worker is running a large match
        fcntl.flock(held, fcntl.LOCK_EX)
        response = service.call("POST", "/v1/matches", json=profile(publications=5))
        assert_error(response, 503)
        assert int(response.headers["Retry-After"]) >= 1
        assert service.call("POST", "/v1/matches", json=profile(publications=2)).status_code == 200  # small: no lane
        fcntl.flock(held, fcntl.LOCK_UN)
    assert service.call("POST", "/v1/matches", json=profile(publications=5)).status_code == 200


# -- anonymous texts and the shared cache ----------------------------------------------------------------


def test_anonymous_texts_never_reach_the_shared_cache_and_stored_researchers_do(service: CachedService) -> None:
    assert service.call("POST", "/v1/matches", json=profile("An anonymous applicant's own words.")).status_code == 200
    assert not service.cached("An anonymous applicant's own words.")
    assert not service.cached(STORED)
    assert service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-stored"}).status_code == 200
    assert service.cached(STORED)  # a stored researcher's texts use the shared cache, as index builds do


def test_anonymous_lookups_do_not_read_the_shared_cache(service: CachedService) -> None:
    """So an anonymous caller cannot tell from the time taken whether the service has seen a text (e.g. a
    stored researcher's statement): it is embedded for them either way."""
    assert service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-stored"}).status_code == 200
    before = service.embedder.texts_embedded
    assert service.call("POST", "/v1/matches", json=profile(STORED)).status_code == 200
    assert service.embedder.texts_embedded == before + 1


def test_an_anonymous_client_re_ranks_from_its_own_cache_but_never_from_anothers(service: CachedService) -> None:
    before = service.embedder.texts_embedded
    for section in ("", "A"):
        request = {**profile("Words of client one."), **({"section": section} if section else {})}
        assert service.call("POST", "/v1/matches", json=request, **at("192.0.2.10")).status_code == 200
    assert service.embedder.texts_embedded == before + 1
    assert (
        service.call("POST", "/v1/matches", json=profile("Words of client one."), **at("192.0.2.11")).status_code == 200
    )
    assert service.embedder.texts_embedded == before + 2


def test_every_rate_limited_match_view_exists(service: CachedService) -> None:
    assert set(MATCH_ENDPOINTS) <= set(service.app.view_functions)
