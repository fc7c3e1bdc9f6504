"""Every bound through the JSON API: a 4xx in the one error shape, naming the field and the limit, and nothing
stored. Each of these was a 500, or was accepted, before the bounds existed (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from models.limits import MAX_JSON_DEPTH, MAX_PUBLICATIONS
from tests.conftest import host_record, researcher_record
from tests.test_service import QUAKE, Service, assert_error


@pytest.fixture
def api(tmp_path: Path) -> Service:
    svc = Service(tmp_path)
    response = svc.call("POST", "/v1/hosts", "admin", json=host_record("h-quake", description=QUAKE))
    assert response.status_code == 201, response.get_json()
    return svc


def message(body: dict[str, Any], field: str) -> str:
    return next(e["message"] for e in body["errors"] if e["field"] == field)


def raw_match(api: Service, text: str) -> Any:
    return api.client.post("/v1/matches", data=text, content_type="application/json")


# -- the body -------------------------------------------------------------------------------------------


def nested_exclude(depth: int) -> str:
    """A match request whose deepest value (in "exclude") is nested `depth` levels, the request's object
    included."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"researcher": {json.dumps(researcher_record())}, "exclude": {inner}}}'


def test_a_body_nested_deeper_than_64_levels_is_refused_before_parsing(api: Service) -> None:
    for depth in (MAX_JSON_DEPTH + 1, 10_000):  # 10,000 raised RecursionError while the body was parsed
        body = assert_error(raw_match(api, nested_exclude(depth)), 400)
        assert "nested more than 64 levels deep; the limit is 64" in body["description"]
    body = assert_error(raw_match(api, nested_exclude(MAX_JSON_DEPTH)), 422, "exclude.0")  # parsed, then refused
    assert api.catalogue.store.audit_runs(limit=100)[0] == []


def test_brackets_inside_strings_do_not_count(api: Service) -> None:
    record = researcher_record(statement="[" * 500 + " seismic isolation " + "{" * 500)
    assert raw_match(api, json.dumps({"researcher": record})).status_code == 200


# -- numbers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenure", "words"),
    [
        ("1e308", "a stay of 1e+308 days is longer than the 10-year limit"),
        ('{"months": 1e308}', "a stay of 1e+308 months is longer than the 10-year limit"),
        ("Infinity", "a stay of inf days is longer than the 10-year limit"),
        ("NaN", "a length of stay must be a number"),
        ('"999 years"', "a stay of 999 years is longer than the 10-year limit"),
        ('"' + "9" * 400 + ' days"', "is longer than the 10-year limit"),
    ],
)
def test_a_stay_beyond_ten_years_or_not_finite_is_422(api: Service, tenure: str, words: str) -> None:
    """The raw bodies are what a hostile client sends; Python's parser reads Infinity and NaN as floats."""
    record = json.dumps(researcher_record(desired_tenure="TENURE")).replace('"TENURE"', tenure)
    body = assert_error(raw_match(api, f'{{"researcher": {record}}}'), 422, "researcher.desired_tenure")
    assert words in message(body, "researcher.desired_tenure")


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ('"min_score": NaN', "min_score", "finite number"),
        ('"top": 1e308', "top", ""),
        ('"weights": {"topic": 1e308}', "weights", "topic is 1e+308; a weight is from 0 to 1000"),
        ('"weights": {"topic": Infinity}', "weights.topic", "finite number"),
        ('"weights": {"colour": 1}', "weights", "'colour' is not a component"),
    ],
)
def test_numbers_in_a_match_request_are_finite_and_within_range(
    api: Service, extra: str, field: str, words: str
) -> None:
    body = assert_error(raw_match(api, f'{{"researcher": {json.dumps(researcher_record())}, {extra}}}'), 422, field)
    assert words in message(body, field)


def test_paging_and_capacity_are_bounded(api: Service) -> None:
    assert_error(api.client.get("/v1/hosts?offset=1000001"), 422, "offset")
    assert_error(api.client.get("/v1/hosts?limit=501"), 422, "limit")
    assert_error(api.client.get("/v1/hosts?institution=" + "x" * 301), 422, "institution")
    body = assert_error(api.call("POST", "/v1/hosts", "admin", json=host_record("h-big", capacity=1e308)), 422)
    assert body["errors"][0]["field"] == "capacity"


# -- counts and texts -----------------------------------------------------------------------------------


def test_at_most_200_publications_per_profile(api: Service) -> None:
    papers = [{"title": f"Seismic paper {i}"} for i in range(MAX_PUBLICATIONS + 1)]
    body = assert_error(
        api.call("POST", "/v1/matches", json={"researcher": researcher_record(publications=papers)}),
        422,
        "researcher.publications",
    )
    assert "at most 200 items" in message(body, "researcher.publications")
    response = api.call("POST", "/v1/matches", json={"researcher": researcher_record(publications=papers[:200])})
    assert response.status_code == 200


def test_the_texts_of_one_request_are_bounded(api: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-request bound holds when an operator raises the body limit; a small limit shows it here."""
    monkeypatch.setattr("service.schemas.MAX_TEXTS_PER_REQUEST", 5)
    hosts = [host_record(f"h-{i}", publications=[{"title": "Paper"}]) for i in range(3)]  # 6 texts
    body = assert_error(api.call("POST", "/v1/hosts", "admin", json={"hosts": hosts}), 422, "hosts")
    assert "6 texts (descriptions, statements and publications) in one request; at most 5" in message(body, "hosts")
    assert sorted(api.catalogue.engine.hosts) == ["h-quake"]


# -- shapes and characters ------------------------------------------------------------------------------


@pytest.mark.parametrize("section", [{}, []])
def test_sections_that_are_not_codes_are_422_for_an_anonymous_match(api: Service, section: object) -> None:
    request = {"researcher": researcher_record(fields={"sections": [section]})}
    body = assert_error(api.call("POST", "/v1/matches", json=request), 422, "researcher.fields.sections.0")
    assert 'a section is a code such as "61"' in message(body, "researcher.fields.sections.0")


@pytest.mark.parametrize(
    ("overrides", "field", "character"),
    [
        ({"name": "Ada\x00Lovelace"}, "name", "U+0000 NULL"),
        ({"institution": "Evil \u202eUniversity"}, "institution", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ({"statement": "Isolate \u2068 here"}, "statement", "U+2068 FIRST STRONG ISOLATE"),
    ],
)
def test_control_and_bidi_characters_are_refused_and_nothing_is_stored(
    api: Service, overrides: dict[str, Any], field: str, character: str
) -> None:
    response = api.call("POST", "/v1/researchers", "staff", json=researcher_record("r-hidden", **overrides))
    body = assert_error(response, 422, field)
    assert character in message(body, field) and "at character" in message(body, field)
    assert_error(api.call("GET", "/v1/researchers/r-hidden", "staff"), 404)
    host = host_record("h-hidden", lab_name="Lab\x00")
    assert_error(api.call("POST", "/v1/hosts", "admin", json=host), 422, "lab_name")
    assert "h-hidden" not in api.catalogue.engine.hosts


# -- ids ------------------------------------------------------------------------------------------------


def test_r_case_and_R_CASE_are_one_researcher(api: Service) -> None:
    created = api.call("POST", "/v1/researchers", "staff", json=researcher_record("R-CASE"))
    assert created.status_code == 201 and created.get_json()["created"] == ["r-case"]
    again = api.call("POST", "/v1/researchers", "staff", json=researcher_record("r-case"))
    assert again.status_code == 200 and again.get_json()["unchanged"] == ["r-case"]
    both = {"researchers": [researcher_record("r-twice"), researcher_record("R-TWICE")]}
    assert_error(api.call("POST", "/v1/researchers", "staff", json=both), 422, "researchers.1.id")
    assert api.call("GET", "/v1/researchers/R-Case", "staff").get_json()["id"] == "r-case"
    listed = api.call("GET", "/v1/researchers", "staff").get_json()["researchers"]
    assert [r["id"] for r in listed] == ["r-case"]
    assert api.call("DELETE", "/v1/researchers/R-CASE", "admin").status_code == 204
    assert_error(api.call("GET", "/v1/researchers/r-case", "staff"), 404)


def test_host_ids_in_paths_and_exclusions_ignore_case(api: Service) -> None:
    assert api.call("GET", "/v1/hosts/H-QUAKE").get_json()["id"] == "h-quake"
    replaced = api.call("PUT", "/v1/hosts/H-Quake", "admin", json=host_record("h-quake", description=QUAKE))
    assert replaced.status_code == 200 and replaced.get_json()["unchanged"] == ["h-quake"]
    request = {"researcher": researcher_record(statement=QUAKE), "exclude": ["H-QUAKE"]}
    assert api.call("POST", "/v1/matches", json=request).get_json()["matches"] == []
    assert api.client.get("/labs/H-QUAKE").status_code == 200


# -- the pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["²", "9" * 5000, "-1", "0"])
def test_a_page_number_that_is_not_a_small_whole_number_shows_the_first_page(api: Service, page: str) -> None:
    """int() refuses "²" (which str.isdigit accepts) and numbers of more than 4,300 digits: both were 500s."""
    response = api.client.get("/labs", query_string={"page": page})
    assert response.status_code == 200 and "Lab h-quake" in response.get_data(as_text=True)
