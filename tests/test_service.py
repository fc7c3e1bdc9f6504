"""The JSON API through Flask's test client, over a fake embedder and a real SQLite file and index folder."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.store import Store, TokenRow
from service import create_app
from service.tokens import Tokens, digest_token
from tests.conftest import FakeEmbedder, host_record, researcher_record

QUAKE = "Seismic isolation of buildings and earthquake ground motion."
POETRY = "Waka poetry of the Heian court and its manuscripts."


class Service:
    """An app over a data folder, with one token per scope. `restart()` builds a new app on the same files.
    `cached`: the fake embedder behind the persistent embedding cache, as the real service has it."""

    def __init__(self, home: Path, *, cached: bool = False, config: dict[str, Any] | None = None) -> None:
        self.home = home
        self.fake = FakeEmbedder()
        self.embedder: Any = (
            CachingEmbedder(self.fake, EmbeddingCache(home / "cache" / "embeddings.sqlite3")) if cached else self.fake
        )
        self.client = self._start(**(config or {}))
        tokens = Tokens(self.catalogue.store)
        self.tokens = {"staff": tokens.create("staff-1", "staff"), "admin": tokens.create("admin-1", "admin")}

    def _start(self, **config: Any) -> FlaskClient:
        store = Store(f"sqlite:///{self.home / 'db.sqlite3'}")
        self.catalogue = Catalogue.open(store, self.embedder, index_dir=self.home / "index")
        self.app = create_app({"TESTING": True, "HOME": str(self.home), **config}, catalogue=self.catalogue)
        return self.app.test_client()

    def restart(self, **config: Any) -> None:
        self.client = self._start(**config)

    def expired_token(self) -> str:
        """A staff token whose lifetime has passed."""
        store, tokens = self.catalogue.store, Tokens(self.catalogue.store)
        token = tokens.create(f"expired-{len(tokens.entries())}", "staff", days=1)
        with store.session() as session:
            row = session.scalar(select(TokenRow).where(TokenRow.digest == digest_token(token)))
            assert row is not None
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        return token

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, method: str, path: str, who: str = "anonymous", **kwargs: Any) -> Any:
        return self.client.open(path, method=method, headers=self.headers(who), **kwargs)


@pytest.fixture
def service(tmp_path: Path) -> Service:
    svc = Service(tmp_path)
    response = svc.call(
        "POST",
        "/v1/hosts",
        "admin",
        json={
            "hosts": [
                host_record("h-quake", description=QUAKE, fields={"sections": ["22"]}),
                host_record("h-poetry", description=POETRY, fields={"sections": ["2"]}),
            ]
        },
    )
    assert response.status_code == 201, response.get_json()
    response = svc.call(
        "POST",
        "/v1/researchers",
        "staff",
        json={
            "researchers": [
                researcher_record("r-quake", statement=QUAKE),
                researcher_record("r-poetry", statement=POETRY),
            ]
        },
    )
    assert response.status_code == 201, response.get_json()
    return svc


def assert_error(response: Any, code: int, field: str | None = None) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == code, body
    assert set(body) == {"code", "name", "description", "errors", "request_id"}
    assert body["code"] == code and body["request_id"] == response.headers["X-Request-ID"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# -- matches --------------------------------------------------------------------------------------------


def test_anyone_can_match_their_own_profile(service: Service) -> None:
    response = service.call("POST", "/v1/matches", json={"researcher": researcher_record(statement=QUAKE), "top": 2})
    assert response.status_code == 200
    body = response.get_json()
    assert [m["host_id"] for m in body["matches"]] == ["h-quake", "h-poetry"]
    first = body["matches"][0]
    assert {c["name"] for c in first["components"]} == {"topic", "stage", "tenure", "field", "practical"}
    assert first["evidence"] and "postdoc-standard" in first["eligible_programmes"]


def test_the_eligibility_answer_names_the_routes_and_the_rule_behind_each(service: Service) -> None:
    researcher = researcher_record(statement=QUAKE, fields={"sections": ["3"]})
    body = service.call("POST", "/v1/matches", json={"researcher": researcher, "top": 1}).get_json()
    standard = next(v for v in body["programmes"] if v["programme"] == "postdoc-standard")
    assert [r["id"] for r in standard["routes"]] == ["standard-host", "standard-british-academy"]
    assert standard["routes"][1]["because"][0] == "works in GB"


JA_QUAKE = "建物の免震と地震動の研究を行いたいと考えています。"  # QUAKE's statement, in Japanese


def test_a_japanese_statement_is_named_in_the_note_and_an_english_one_is_not(service: Service) -> None:
    researcher = researcher_record(
        statement=JA_QUAKE, publications=[{"title": "Ground motion and base isolation of hospitals"}]
    )
    body = service.call("POST", "/v1/matches", json={"researcher": researcher}).get_json()
    assert body["languages"] == {"statement": "ja", "pub:0": "en"}
    assert body["notes"] == [body["note"]] and "Your research statement is in Japanese" in body["note"]
    assert "Add an English abstract, or ask the service to enable the multilingual encoder." in body["note"]
    english = service.call("POST", "/v1/matches", json={"researcher": researcher_record(statement=QUAKE)}).get_json()
    assert (english["note"], english["notes"], english["languages"]) == (None, [], {"statement": "en"})


def test_readiness_counts_hosts_whose_documents_the_model_does_not_read(service: Service) -> None:
    details = service.call("GET", "/readyz").get_json()["details"]
    assert details["languages_read"] == ["en"] and details["unread"] == {"hosts": 0, "documents": {}}
    lab = host_record("h-ja", description=JA_QUAKE, publications=[{"title": "免震構造の設計"}, {"title": "Isolation"}])
    assert service.call("POST", "/v1/hosts", "admin", json=lab).status_code == 201
    details = service.call("GET", "/readyz").get_json()["details"]
    assert details["unread"] == {"hosts": 1, "documents": {"ja": 2}}


def test_matching_a_stored_researcher_needs_staff(service: Service) -> None:
    request = {"researcher_id": "r-poetry"}
    assert_error(service.call("POST", "/v1/matches", json=request), 401)
    response = service.call("POST", "/v1/matches", "staff", json=request)
    assert response.status_code == 200
    assert response.get_json()["matches"][0]["host_id"] == "h-poetry"
    assert_error(service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-nobody"}), 404)


def test_match_filters_programme_and_exclusions(service: Service) -> None:
    profile = researcher_record(statement=QUAKE)
    response = service.call("POST", "/v1/matches", json={"researcher": profile, "section": "A", "exclude": ["h-x"]})
    assert [m["host_id"] for m in response.get_json()["matches"]] == ["h-poetry"]
    response = service.call("POST", "/v1/matches", json={"researcher": profile, "exclude": ["h-quake"]})
    body = response.get_json()
    assert [m["host_id"] for m in body["matches"]] == ["h-poetry"]
    assert body["excluded"] == {"excluded by request": 1}
    late = researcher_record(statement=QUAKE, phd=2012)
    body = service.call("POST", "/v1/matches", json={"researcher": late, "programme": "postdoc-standard"}).get_json()
    assert body["matches"] == [] and "not eligible" in body["note"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"researcher": researcher_record(statement="")}, "researcher.statement"),
        ({"researcher": researcher_record(programmes=["nope"])}, "researcher.programmes.0"),
        ({"researcher": researcher_record(desired_tenure="-1 months")}, "researcher.desired_tenure"),
        ({"researcher": researcher_record(phd=2101)}, "researcher.phd"),
        ({"researcher": researcher_record(desired_start="2027-13-01")}, "researcher.desired_start"),
        ({"researcher": researcher_record(), "top": 0}, "top"),
        ({"researcher": researcher_record(), "section": "Q"}, "section"),
        ({"researcher": researcher_record(), "region": "Atlantis"}, "region"),
        ({"researcher": researcher_record(), "weights": {"topic": -1}}, "weights"),
        ({"researcher": researcher_record(), "colour": "blue"}, "colour"),
        ({}, ""),
    ],
)
def test_bad_match_requests_are_422_naming_the_field(
    service: Service, request_body: dict[str, Any], field: str
) -> None:
    assert_error(service.call("POST", "/v1/matches", json=request_body), 422, field)


def test_every_match_is_audited_without_storing_inline_profiles(service: Service) -> None:
    service.call("POST", "/v1/matches", json={"researcher": researcher_record(statement=QUAKE)})
    service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-quake"})
    runs = [r for r in service.catalogue.store.audit_runs(limit=100)[0] if r["kind"] == "match"]
    assert [(r["actor"], r["subject"][:7]) for r in runs] == [("staff-1", "r-quake"), ("anonymous", "inline:")]
    assert "researcher" not in runs[1]["parameters"] and runs[1]["results"][0][0] == "h-quake"


def test_a_match_is_answered_when_its_audit_row_cannot_be_written(
    service: Service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database stays busy through every retry: the match is still answered, and the row is logged at
    error level, whole, with the request id (the inline profile only as its digest)."""

    def busy(**run: Any) -> None:
        raise OperationalError("INSERT INTO match_runs ...", {}, Exception("database is locked"))

    monkeypatch.setattr(service.catalogue.store, "record_run", busy)
    with caplog.at_level(logging.ERROR, logger="service.matching"):
        response = service.client.post(
            "/v1/matches", json={"researcher": researcher_record(statement=QUAKE)}, headers={"X-Request-ID": "req-7"}
        )
    assert response.status_code == 200 and response.get_json()["matches"][0]["host_id"] == "h-quake"
    [entry] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "req-7" in entry.getMessage() and '"subject": "inline:' in entry.getMessage()
    assert QUAKE not in entry.getMessage()


# -- hosts ----------------------------------------------------------------------------------------------


def test_hosts_can_be_read_by_anyone_and_filtered(service: Service) -> None:
    body = service.call("GET", "/v1/hosts").get_json()
    assert body["total"] == 2 and [h["id"] for h in body["hosts"]] == ["h-poetry", "h-quake"]
    assert [h["id"] for h in service.call("GET", "/v1/hosts?section=C").get_json()["hosts"]] == ["h-quake"]
    page = service.call("GET", "/v1/hosts?offset=1&limit=1").get_json()
    assert page["total"] == 2 and [h["id"] for h in page["hosts"]] == ["h-quake"]
    assert page["hosts"][0]["description"] == QUAKE  # whole records, not the matching view
    assert service.call("GET", "/v1/hosts/h-quake").get_json()["description"] == QUAKE
    assert service.call("GET", "/v1/hosts/h-quake").get_json()["url"] is None
    assert_error(service.call("GET", "/v1/hosts/h-none"), 404)
    assert_error(service.call("GET", "/v1/hosts?limit=0"), 422, "limit")
    assert_error(service.call("GET", "/v1/hosts?region=Mars"), 422, "region")


def test_hosts_can_be_searched_by_words_with_the_filters(service: Service) -> None:
    def ids(query: str) -> list[str]:
        response = service.call("GET", f"/v1/hosts?{query}")
        assert response.status_code == 200, response.get_json()
        return [h["id"] for h in response.get_json()["hosts"]]

    assert ids("q=EARTHQUAKE") == ["h-quake"]
    assert ids("q=heian+court") == ["h-poetry"]  # every word, in any order
    assert ids("q=heian+earthquake") == []
    assert ids("q=kyoto") == ["h-poetry", "h-quake"]  # the institution and city are searched too
    assert ids("q=kyoto&section=A") == ["h-poetry"]
    assert ids("q=") == ["h-poetry", "h-quake"]  # an empty search box searches for nothing
    assert service.call("GET", "/v1/hosts?q=kyoto&limit=1").get_json()["total"] == 2
    service.call("PUT", "/v1/hosts/h-poetry", "admin", json=host_record("h-poetry", description="地震と和歌"))
    assert ids("q=%E5%9C%B0%E9%9C%87") == ["h-poetry"]  # 地震


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("x" * 201, "201 characters long; at most 200"),
        ("+".join(f"w{i}" for i in range(11)), "11 words; at most 10"),
    ],
)
def test_a_search_beyond_its_bounds_is_422_naming_q(service: Service, q: str, fragment: str) -> None:
    body = assert_error(service.call("GET", f"/v1/hosts?q={q}"), 422, "q")
    assert fragment in body["errors"][0]["message"]


def test_a_host_added_through_the_api_is_matched_next_and_survives_a_restart(service: Service) -> None:
    text = "Deep-sea hydrothermal vents and chemosynthetic tubeworms."
    response = service.call("PUT", "/v1/hosts/h-vents", "admin", json=host_record("h-vents", description=text))
    assert response.status_code == 201 and response.get_json()["created"] == ["h-vents"]
    match = {"researcher": researcher_record(statement=text), "top": 1}
    assert service.call("POST", "/v1/matches", json=match).get_json()["matches"][0]["host_id"] == "h-vents"
    service.restart()
    assert service.call("POST", "/v1/matches", json=match).get_json()["matches"][0]["host_id"] == "h-vents"


def test_a_host_page_is_kept_and_returned(service: Service) -> None:
    page = "https://www.example.ac.jp/quake-lab/"
    response = service.call(
        "PUT", "/v1/hosts/h-quake", "admin", json=host_record("h-quake", description=QUAKE, url=page)
    )
    assert response.status_code == 200 and response.get_json()["updated"] == ["h-quake"]
    assert service.call("GET", "/v1/hosts/h-quake").get_json()["url"] == page
    service.restart()
    assert service.call("GET", "/v1/hosts/h-quake").get_json()["url"] == page
    bad = host_record("h-quake", description=QUAKE, url="javascript:alert(1)")
    body = assert_error(service.call("PUT", "/v1/hosts/h-quake", "admin", json=bad), 422, "url")
    assert "https://" in body["errors"][0]["message"]


def test_updating_and_deleting_hosts(service: Service) -> None:
    changed = host_record("h-poetry", description=QUAKE)
    response = service.call("PUT", "/v1/hosts/h-poetry", "admin", json=changed)
    assert response.status_code == 200 and response.get_json()["updated"] == ["h-poetry"]
    response = service.call("POST", "/v1/hosts", "admin", json=changed)
    assert response.get_json()["unchanged"] == ["h-poetry"]
    assert service.call("DELETE", "/v1/hosts/h-poetry", "admin").status_code == 204
    assert_error(service.call("DELETE", "/v1/hosts/h-poetry", "admin"), 404)
    assert service.call("GET", "/v1/hosts").get_json()["total"] == 1
    assert "h-poetry" not in service.catalogue.engine.index


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/v1/hosts/h-a", host_record("h-b"), "id"),
        ("POST", "/v1/hosts", {"hosts": [host_record("h-a"), host_record("h-a")]}, "hosts.1.id"),
        ("POST", "/v1/hosts", {"hosts": []}, None),
        ("POST", "/v1/hosts", host_record("h-a", capacity=-1), None),
        (
            "PUT",
            "/v1/hosts/h-a",
            host_record("h-a", hosting_window={"min": "9 months", "max": "1 month"}),
            "hosting_window",
        ),
    ],
)
def test_bad_host_writes_are_422_and_store_nothing(
    service: Service, method: str, path: str, body: dict[str, Any], field: str | None
) -> None:
    body_out = assert_error(service.call(method, path, "admin", json=body), 422, field)
    assert body_out["errors"]
    assert service.call("GET", "/v1/hosts").get_json()["total"] == 2


def test_a_write_that_fails_midway_stores_nothing(
    service: Service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The index save fails after the rows were written: the transaction rolls back, the index is put back,
    and the client gets a plain 500 with a request id, the exception only in the log."""

    def broken_save(folder: Path, *, generation: object = None) -> None:
        raise OSError("disk full: secret detail")

    monkeypatch.setattr(service.catalogue.engine, "save", broken_save)
    with caplog.at_level(logging.ERROR):
        response = service.call("PUT", "/v1/hosts/h-new", "admin", json=host_record("h-new"))
    body = assert_error(response, 500)
    assert "secret" not in json.dumps(body) and "Traceback" not in response.get_data(as_text=True)
    assert body["request_id"] in caplog.text and "disk full" in caplog.text
    monkeypatch.undo()
    assert service.catalogue.store.get_host("h-new") is None
    assert "h-new" not in service.catalogue.engine.hosts and "h-new" not in service.catalogue.engine.index
    service.restart()
    assert_error(service.call("GET", "/v1/hosts/h-new"), 404)


def test_candidates_for_a_host_are_staff_only(service: Service) -> None:
    assert_error(service.call("GET", "/v1/hosts/h-quake/candidates"), 401)
    body = service.call("GET", "/v1/hosts/h-quake/candidates?top=1", "staff").get_json()
    assert [c["researcher_id"] for c in body["candidates"]] == ["r-quake"]
    assert_error(service.call("GET", "/v1/hosts/h-none/candidates", "staff"), 404)
    assert_error(service.call("GET", "/v1/hosts/h-quake/candidates?top=500", "staff"), 422, "top")


# -- researchers ----------------------------------------------------------------------------------------


def test_researchers_crud_for_staff(service: Service) -> None:
    assert service.call("GET", "/v1/researchers", "staff").get_json()["total"] == 2
    assert service.call("GET", "/v1/researchers/r-quake", "staff").get_json()["statement"] == QUAKE
    updated = researcher_record("r-quake", statement=POETRY)
    assert service.call("PUT", "/v1/researchers/r-quake", "staff", json=updated).get_json()["updated"] == ["r-quake"]
    assert_error(service.call("DELETE", "/v1/researchers/r-quake", "staff"), 403)  # erasing needs admin
    assert service.call("DELETE", "/v1/researchers/r-quake", "admin").status_code == 204
    assert_error(service.call("GET", "/v1/researchers/r-quake", "staff"), 404)
    assert_error(
        service.call("POST", "/v1/researchers", "staff", json=researcher_record("r-x", email="nope")), 422, "email"
    )


# -- authentication matrix ------------------------------------------------------------------------------

ANY, STAFF, ADMIN = "anyone", "staff", "admin"
ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", "/v1/matches", {"researcher": researcher_record(statement=QUAKE)}, ANY),
    ("POST", "/v1/matches", {"researcher_id": "r-quake"}, STAFF),
    ("GET", "/v1/hosts", None, ANY),
    ("GET", "/v1/hosts/h-quake", None, ANY),
    ("POST", "/v1/hosts", host_record("h-quake", description=QUAKE, fields={"sections": ["22"]}), ADMIN),
    ("PUT", "/v1/hosts/h-quake", host_record("h-quake", description=QUAKE, fields={"sections": ["22"]}), ADMIN),
    ("DELETE", "/v1/hosts/h-poetry", None, ADMIN),
    ("GET", "/v1/hosts/h-quake/candidates", None, STAFF),
    ("GET", "/v1/researchers", None, STAFF),
    ("POST", "/v1/researchers", researcher_record("r-new"), STAFF),
    ("GET", "/v1/researchers/r-quake", None, STAFF),
    ("PUT", "/v1/researchers/r-quake", researcher_record("r-quake", statement=QUAKE), STAFF),
    ("DELETE", "/v1/researchers/r-poetry", None, ADMIN),
    ("GET", "/v1/programmes", None, ANY),
    ("GET", "/v1/openapi.json", None, ANY),
    ("GET", "/healthz", None, ANY),
    ("GET", "/readyz", None, ANY),
]
ALLOWED = {ANY: {"anonymous", "staff", "admin"}, STAFF: {"staff", "admin"}, ADMIN: {"admin"}}


HEALTH = {"/healthz", "/readyz"}


@pytest.mark.parametrize("who", ["anonymous", "garbage", "expired", "staff", "admin"])
@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
def test_authentication_matrix(service: Service, who: str, method: str, path: str, body: Any, needs: str) -> None:
    headers = service.headers(who) if who in {"anonymous", "staff", "admin"} else {"Authorization": "Bearer hm_x"}
    if who == "expired":
        headers = {"Authorization": f"Bearer {service.expired_token()}"}
    response = service.client.open(path, method=method, headers=headers, **({"json": body} if body else {}))
    if path in HEALTH or who in ALLOWED[needs]:
        assert response.status_code in {200, 201, 204}, (who, response.get_json())
    elif who in {"anonymous", "garbage", "expired"}:
        body_text = assert_error(response, 401)["description"]
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
        assert who != "expired" or "expired" in body_text
    else:
        assert_error(response, 403)


PROTECTED = [r for r in ROUTES if r[3] != ANY and r[2] is not None and r[1] != "/v1/matches"]  # matches: anyone


@pytest.mark.parametrize(("method", "path", "body", "needs"), PROTECTED)
def test_authentication_comes_before_validation(
    service: Service, method: str, path: str, body: Any, needs: str
) -> None:
    """An anonymous caller learns nothing of a protected route's body: 401 for an incomplete one, or none."""
    assert_error(service.client.open(path, method=method, json={"x": 1}), 401)
    assert_error(service.client.open(path, method=method, data="not json", content_type="text/plain"), 401)
    if needs == ADMIN:
        assert_error(service.call(method, path, "staff", json={"x": 1}), 403)


def test_a_bad_or_revoked_token_is_refused_even_where_anonymous_is_allowed(service: Service) -> None:
    assert_error(service.client.get("/v1/hosts", headers={"Authorization": "Bearer hm_forged"}), 401)
    assert_error(service.client.get("/v1/hosts", headers={"Authorization": "Basic abc"}), 401)
    Tokens(service.catalogue.store).revoke("staff-1")
    assert_error(service.call("GET", "/v1/researchers", "staff"), 401)


def test_anonymous_callers_never_see_researcher_data(service: Service) -> None:
    secret = researcher_record("r-secret", name="Ottilie Secretname", email="ottilie@example.org", statement=POETRY)
    service.call("POST", "/v1/researchers", "staff", json=secret)
    for who in ("anonymous", "garbage"):
        headers = {} if who == "anonymous" else {"Authorization": "Bearer hm_garbage"}
        for method, path, body, _ in ROUTES:
            path = path.replace("r-quake", "r-secret").replace("r-poetry", "r-secret")
            text = service.client.open(path, method=method, headers=headers, **({"json": body} if body else {}))
            page = text.get_data(as_text=True)
            assert "Ottilie" not in page and "ottilie@example.org" not in page and "r-secret" not in page, path
            assert POETRY not in page or path.startswith("/v1/hosts") or path == "/v1/matches", path


# -- errors, limits, documents --------------------------------------------------------------------------


def test_body_errors_400_413_415(service: Service) -> None:
    assert_error(service.client.post("/v1/matches", data="{oops", content_type="application/json"), 400)
    assert_error(service.client.post("/v1/matches", data="researcher=x"), 415)
    big = {"researcher": researcher_record(), "padding": "x" * (1 << 20)}  # just over the 1 MB default
    assert_error(service.client.post("/v1/matches", json=big), 413)


def test_the_body_limit_comes_from_the_environment_and_the_instance_file(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = {"researcher": researcher_record(statement="y" * 3000)}
    monkeypatch.setenv("HOSTMATCH_MAX_CONTENT_LENGTH", "2000")
    service.restart()
    assert_error(service.client.post("/v1/matches", json=request), 413)
    monkeypatch.delenv("HOSTMATCH_MAX_CONTENT_LENGTH")
    (service.home / "instance").mkdir(exist_ok=True)  # the service keeps its session key there
    (service.home / "instance" / "hostmatch.cfg").write_text("MAX_CONTENT_LENGTH = 2500\n")
    service.restart()
    assert service.app.config["MAX_CONTENT_LENGTH"] == 2500
    assert_error(service.client.post("/v1/matches", json=request), 413)


def test_unknown_routes_and_methods_use_the_same_shape(service: Service) -> None:
    assert_error(service.client.get("/v1/nothing"), 404)
    assert_error(service.client.patch("/v1/hosts/h-quake", json={}), 405)


def test_the_request_id_is_echoed(service: Service) -> None:
    response = service.client.get("/v1/hosts/none", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123" and response.get_json()["request_id"] == "abc-123"


def test_openapi_is_3_1_and_generated_from_the_request_models(service: Service) -> None:
    doc = service.client.get("/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert {
        "/v1/matches",
        "/v1/hosts",
        "/v1/hosts/{host_id}",
        "/v1/hosts/{host_id}/candidates",
        "/v1/researchers",
        "/v1/researchers/{researcher_id}",
        "/v1/programmes",
    } <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    from service.schemas import MatchRequest

    assert set(schemas["MatchRequest"]["properties"]) == set(MatchRequest.model_fields)
    assert "bearer" in doc["components"]["securitySchemes"]


def test_programmes_and_health(service: Service) -> None:
    programmes = service.client.get("/v1/programmes").get_json()["programmes"]
    assert {p["id"] for p in programmes} >= {"postdoc-standard", "summer", "bridge"}
    by_id = {p["id"]: p for p in programmes}
    assert by_id["postdoc-short"]["name_ja"] == "外国人特別研究員（欧米短期）"
    assert by_id["postdoc-short"]["url"] == "https://www.jsps.go.jp/english/e-fellow/e-oubei-s/index.html"
    assert all(p["url"].startswith("https://") and p["name_ja"] for p in programmes)
    assert service.client.get("/healthz").get_json() == {"status": "ok"}
    ready = service.client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["details"]["hosts"] == 2


def test_on_start_an_index_that_differs_from_the_store_is_rebuilt(service: Service) -> None:
    """Someone deleted the index folder: the next start rebuilds it from the database."""
    import shutil

    shutil.rmtree(service.home / "index")
    service.restart()
    assert sorted(service.catalogue.engine.hosts) == ["h-poetry", "h-quake"]
    assert (service.home / "index" / "manifest.json").exists()


def test_a_serving_worker_reloads_a_newer_index_with_its_term_statistics_ready(service: Service) -> None:
    """Another worker writes a host; this one reloads on its next request, and the statistics explanations
    need are built during the reload, not inside a later request."""
    other = Catalogue.open(service.catalogue.store, service.embedder, index_dir=service.home / "index")
    other.upsert_hosts([other.engine.hosts["h-quake"].model_copy(update={"description": POETRY})])
    serving = Catalogue.open(service.catalogue.store, service.embedder, index_dir=service.home / "index", serving=True)
    assert serving.engine._terms is not None
    other.upsert_hosts([other.engine.hosts["h-quake"].model_copy(update={"description": QUAKE})])
    assert serving.refresh()
    assert serving.engine._terms is not None and serving.engine.hosts["h-quake"].description == QUAKE
