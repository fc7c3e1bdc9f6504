"""Researchers' personal data: every access audited without its content, erasure, and tokens that expire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.encoders.embedding import text_key
from matcher.privacy import changed_fields, erased_name
from matcher.text.documents import researcher_texts
from models.profiles import ResearcherProfile
from scripts.cli import cli
from tests.conftest import researcher_record
from tests.test_service import QUAKE, Service, assert_error

STATEMENT = "My private statement about deep-sea vents."


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return Service(tmp_path, cached=True)


def accesses(service: Service) -> list[dict[str, object]]:
    return [r for r in service.catalogue.store.audit_runs(limit=100)[0] if str(r["kind"]).startswith("researcher.")]


def test_every_access_to_a_researcher_is_audited_with_fields_never_content(service: Service) -> None:
    record = researcher_record("r-1", statement=STATEMENT, name="Ada Private", email="ada@example.org")
    service.call("POST", "/v1/researchers", "staff", json=record)
    service.call("GET", "/v1/researchers/r-1", "staff")
    service.call("GET", "/v1/researchers", "admin")
    service.call("PUT", "/v1/researchers/r-1", "staff", json={**record, "institution": "University of York"})
    service.call("PUT", "/v1/researchers/r-1", "staff", json={**record, "institution": "University of York"})
    runs = list(reversed(accesses(service)))
    assert [(r["kind"], r["actor"], r["subject"]) for r in runs] == [
        ("researcher.create", "staff-1", "r-1"),
        ("researcher.read", "staff-1", "r-1"),
        ("researcher.list", "admin-1", "r-1"),
        ("researcher.update", "staff-1", "r-1"),  # the same write again changes nothing: not recorded
    ]
    assert runs[3]["parameters"] == {"fields": ["institution"]}
    assert "statement" in runs[0]["parameters"]["fields"]  # type: ignore[index]
    trail = json.dumps(runs)
    assert STATEMENT not in trail and "Ada Private" not in trail and "ada@example.org" not in trail


def test_changed_fields_names_what_a_write_touches() -> None:
    before = ResearcherProfile.model_validate(researcher_record("r-1"))
    after = before.model_copy(update={"statement": "new", "languages": frozenset({"en", "ja"})})
    assert changed_fields(before, after) == ["languages", "statement"]
    assert changed_fields(None, before) == sorted(before.model_dump(mode="json", exclude_defaults=True))
    assert changed_fields(before, before) == []


def test_erasing_a_researcher_leaves_no_record_no_vectors_and_only_a_digest(service: Service) -> None:
    record = researcher_record("r-1", statement=STATEMENT, publications=[{"title": "Vent fauna of the Okinawa"}])
    service.call("POST", "/v1/researchers", "staff", json=record)
    service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-1"})  # embeds and caches its texts
    cache = service.catalogue.engine.embedder.cache  # type: ignore[attr-defined]
    keys = [text_key(t.text) for t in researcher_texts(ResearcherProfile.model_validate(record))]
    assert len(cache.get_many(service.embedder.fingerprint, keys, service.embedder.dim)) == len(keys)

    assert_error(service.call("DELETE", "/v1/researchers/r-1", "staff"), 403)
    assert service.call("DELETE", "/v1/researchers/r-1", "admin").status_code == 204

    assert service.catalogue.store.get_researcher("r-1") is None
    assert cache.get_many(service.embedder.fingerprint, keys, service.embedder.dim) == {}
    trail = json.dumps(service.catalogue.store.audit_runs(limit=1000)[0])
    assert '"r-1"' not in trail and erased_name("r-1") in trail
    deletion = accesses(service)[0]
    assert deletion["kind"] == "researcher.delete" and deletion["subject"] == erased_name("r-1")
    assert deletion["actor"] == "admin-1"
    assert_error(service.call("DELETE", "/v1/researchers/r-1", "admin"), 404)


def test_erasure_keeps_other_researchers_and_host_vectors(service: Service) -> None:
    service.call("POST", "/v1/researchers", "staff", json={"researchers": [
        researcher_record("r-1", statement=STATEMENT), researcher_record("r-2", statement=QUAKE)]})  # fmt: skip
    service.call("POST", "/v1/matches", "staff", json={"researcher_id": "r-2"})
    service.call("DELETE", "/v1/researchers/r-1", "admin")
    assert service.catalogue.store.get_researcher("r-2") is not None
    assert any(r["subject"] == "r-2" for r in service.catalogue.store.audit_runs(limit=100)[0])


# -- tokens -----------------------------------------------------------------------------------------------


def test_an_expired_tokens_session_ends(service: Service) -> None:
    token = service.expired_token()
    page = service.client.get("/staff/sign-in")
    csrf = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = service.client.post("/staff/sign-in", data={"csrf_token": csrf, "token": token})
    assert response.status_code == 401


def test_the_cli_creates_rotates_lists_and_revokes_tokens(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    first = runner.invoke(cli, [*home, "tokens", "create", "--name", "ops", "--scope", "admin", "--days", "7"])
    assert first.exit_code == 0, first.output
    rotated = runner.invoke(cli, [*home, "tokens", "rotate", "ops"])
    assert rotated.exit_code == 0 and rotated.output.strip() != first.output.strip()
    listing = runner.invoke(cli, [*home, "tokens", "list"]).output
    assert "ops" in listing and "expires" in listing and first.output.strip() not in listing
    assert runner.invoke(cli, [*home, "tokens", "revoke", "ops"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, [*home, "tokens", "list"]).output
    bad = runner.invoke(cli, [*home, "tokens", "create", "--name", "x", "--scope", "staff", "--days", "0"])
    assert bad.exit_code == 2
