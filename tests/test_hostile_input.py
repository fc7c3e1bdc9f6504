"""Arbitrary JSON against the validators and the API (Hypothesis).

Properties:

- `ResearcherProfile`, `HostLab` and the request models (`MatchRequest`, `HostUpsert`, `ResearcherUpsert`,
  `HostQuery`) either return a valid object or raise pydantic's ValidationError (which the API answers with
  422) whose errors name fields: never another exception. A valid profile survives the JSON round trip the
  store makes.
- Through the app, `POST /v1/matches` (anonymous) and `POST /v1/hosts` (admin) answer any body with a 2xx
  or a 4xx in the one error shape: never a 500.

Inputs are JSON-like values built recursively (objects, lists, text with control and bidirectional
characters, integers up to 10^400, floats with Infinity and NaN, booleans, null, lists nested up to 100
deep) and near-valid records with one or two fields replaced or removed, which reach the deeper checks.
The runs are derandomized (the same examples each run, so CI is repeatable); HOSTMATCH_FUZZ_EXAMPLES sets
how many each test tries (default 300 for a model, 100 through the app).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from matcher.errors import field_errors
from models.profiles import HostLab, ResearcherProfile
from service.schemas import HostQuery, HostUpsert, MatchRequest, ResearcherUpsert
from tests.conftest import host_record, researcher_record
from tests.test_service import QUAKE, Service

EXAMPLES = int(os.environ.get("HOSTMATCH_FUZZ_EXAMPLES", "300"))
APP_EXAMPLES = max(1, EXAMPLES // 3)
MODEL_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True)
APP_SETTINGS = settings(
    max_examples=APP_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -----------------------------------------------------------------------------------------

HOSTILE_CHARACTERS = "\x00\x07\t\n\r\x1b\x7f\x85\u200e\u202a\u202e\u2066\u2069\ufeff\ud800\udfff"
NOTABLE_TEXTS = [
    "", " ", "in progress", "12 months", "999 years", "1e308 days", "9" * 400 + " days", "-3 months", "0 days",
    "61", "07", "J", "R2", "en", "GB", "postdoc-standard", "R-CASE", "2027-04-01", "2027-02-30", "https://x.jp/",
    "javascript:alert(1)", "a@b.c", "x" * 20_001, "[[[[[[", '"}', "\\", "Ω" * 301,
]  # fmt: skip
NOTABLE_NUMBERS = [0, -1, 1, 1939, 1940, 2100, 2101, 3653, 3654, 2**63, -(2**63), 10**400, -(10**400)]
NOTABLE_FLOATS = [0.5, -0.0, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, 1e-308, 61.0]

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(HOSTILE_CHARACTERS + "ab 1-"), max_size=12),
    st.sampled_from(NOTABLE_TEXTS),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(NOTABLE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NOTABLE_FLOATS),
    texts,
)


def _nest(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


json_values = st.recursive(
    scalars | st.integers(min_value=0, max_value=100).map(_nest),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(texts, children, max_size=6),
    max_leaves=25,
)

RESEARCHER = researcher_record(
    "r-fuzz",
    fields={"sections": ["61", 17], "keywords": ["seismic isolation"]},
    publications=[{"title": "Ground motion", "abstract": "Records.", "year": 2023, "coauthors": ["A. B"]}],
    desired_start="2027-04-01",
    email="r@example.org",
)
HOST = host_record(
    "h-fuzz",
    description=QUAKE,
    publications=[{"title": "Seismic isolation", "abstract": "Tall buildings.", "year": 2022, "coauthors": ["C. D"]}],
    url="https://lab.example.ac.jp/",
)
MATCH = {"researcher": RESEARCHER, "top": 3, "min_score": 0.1, "exclude": ["h-x"], "weights": {"topic": 0.6}}
HOSTS = {"hosts": [HOST, host_record("h-fuzz-2")]}
RESEARCHERS = {"researchers": [RESEARCHER]}
QUERY = {"q": "seismic", "region": "Kansai", "limit": 5, "offset": 0}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a record a value sits: keys of objects and indexes of lists, at any depth."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _holds(container: Any, step: Any) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and step < len(container)


@st.composite
def near_valid(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """`base` with up to two of its values replaced by arbitrary JSON (a scalar more often than not: closer to
    what the field expects), or removed."""
    record = copy.deepcopy(base)
    places = list(_paths(base))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        path = draw(st.sampled_from(places))
        parent: Any = record
        for step in path[:-1]:  # an earlier replacement may have removed the way there
            if not _holds(parent, step):
                break
            parent = parent[step]
        else:
            key = path[-1]
            if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
                parent.pop(key, None)
            elif isinstance(parent, dict) or _holds(parent, key):
                parent[key] = draw(st.one_of(scalars, json_values))
    return record


def inputs(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, near_valid(base))


# Valid but unusual records and requests: they pass validation and reach the engine (ranking, eligibility,
# the audit record) with values at the edges of their ranges.
words = st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs", "Cf"]), min_size=1, max_size=60).filter(
    str.strip
)
stays = st.integers(min_value=1, max_value=3653) | st.sampled_from(["1 day", "10 years", "3 weeks", {"months": 0.5}])
papers = st.lists(st.fixed_dictionaries({"title": words, "abstract": words | st.just("")}), max_size=4)
section_codes = st.lists(st.sampled_from(["1", "17", "61", "90", 7, "07"]), max_size=5)
odd_researchers = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["r-odd", "R-ODD", "0", "a" * 64]),
        "name": words,
        "institution": words,
        "country": st.sampled_from(["GB", "jp", "US", "FR"]),
        "statement": words,
        "phd": st.integers(min_value=1940, max_value=2100) | st.just("in progress"),
        "position": st.sampled_from(["postdoc", "doctoral student", "professor", "other"]),
        "desired_tenure": stays,
        "fields": st.fixed_dictionaries({"sections": section_codes, "keywords": st.lists(words, max_size=3)}),
        "publications": papers,
    },
    optional={"desired_start": st.dates(dt.date(2100, 1, 1) - dt.timedelta(days=365 * 160), dt.date(2100, 12, 31))
              .map(dt.date.isoformat), "jsps_alumni": st.booleans()},
)  # fmt: skip
odd_matches = st.fixed_dictionaries(
    {"researcher": odd_researchers},
    optional={
        "top": st.integers(min_value=1, max_value=100),
        "min_score": st.floats(min_value=0, max_value=1),
        "weights": st.dictionaries(
            st.sampled_from(["topic", "stage", "tenure", "field", "practical"]),
            st.floats(min_value=0, max_value=1000),
            max_size=5,
        ),
        "exclude": st.lists(st.sampled_from(["h-fuzz", "H-FUZZ-2", "h-none"]), max_size=3),
        "programme": st.sampled_from(["postdoc-standard", "summer", "bridge"]),
        "section": st.sampled_from(["A", "J", "61", "90"]),
        "region": st.sampled_from(["Kanto", "Kansai"]),
        "enforce_capacity": st.booleans(),
    },
)
odd_hosts = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["h-odd", "H-ODD-2", "h-fuzz"]),
        "pi_name": words,
        "lab_name": words,
        "institution": words,
        "prefecture": words,
        "city": words,
        "description": words,
        "publications": papers,
        "capacity": st.integers(min_value=0, max_value=1000),
        "accepted_stages": st.lists(st.sampled_from(["R1", "R2", "R3", "R4"]), min_size=1, max_size=4),
        "hosting_window": st.fixed_dictionaries({"min": st.just("1 day"), "max": stays}),
        "programmes": st.lists(st.sampled_from(["postdoc-standard", "summer", "bridge"]), min_size=1, max_size=3),
        "fields": st.fixed_dictionaries({"sections": section_codes}),
    }
)


# -- the models -----------------------------------------------------------------------------------------


def validates_or_refuses(model: type[BaseModel], data: Any) -> BaseModel | None:
    """The property: a valid object, or a ValidationError the API can turn into its error shape."""
    try:
        valid = model.model_validate(data)
    except ValidationError as exc:
        problems = field_errors(exc)
        assert problems and all(isinstance(p.field, str) and p.message for p in problems)
        json.dumps([(p.field, p.message) for p in problems])  # what the 422 body carries
        return None
    return valid


@MODEL_SETTINGS
@given(st.one_of(inputs(RESEARCHER), odd_researchers))
def test_researcher_profiles_validate_or_refuse(data: Any) -> None:
    profile = validates_or_refuses(ResearcherProfile, data)
    if profile is not None:
        assert ResearcherProfile.model_validate_json(profile.model_dump_json()) == profile  # the store's round trip


@MODEL_SETTINGS
@given(st.one_of(inputs(HOST), odd_hosts))
def test_host_labs_validate_or_refuse(data: Any) -> None:
    host = validates_or_refuses(HostLab, data)
    if host is not None:
        assert HostLab.model_validate_json(host.model_dump_json()) == host


@pytest.mark.parametrize(
    ("model", "base"),
    [(MatchRequest, MATCH), (HostUpsert, HOSTS), (ResearcherUpsert, RESEARCHERS), (HostQuery, QUERY)],
    ids=["MatchRequest", "HostUpsert", "ResearcherUpsert", "HostQuery"],
)
def test_request_models_validate_or_refuse(model: type[BaseModel], base: dict[str, Any]) -> None:
    @MODEL_SETTINGS
    @given(inputs(base))
    def check(data: Any) -> None:
        validates_or_refuses(model, data)

    check()


def test_the_near_valid_records_start_valid() -> None:
    """The bases are valid, so a mutation is what any refusal is about."""
    for model, base in [(ResearcherProfile, RESEARCHER), (HostLab, HOST), (MatchRequest, MATCH), (HostUpsert, HOSTS)]:
        model.model_validate(base)


# -- the app --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    svc = Service(tmp_path_factory.mktemp("fuzz"))
    assert svc.call("POST", "/v1/hosts", "admin", json=HOSTS).status_code == 201
    return svc


def _body(value: Any) -> str:
    """The request body a client would send: JSON with Python's extensions (NaN, Infinity) where values have
    them, and lone surrogates as \\u escapes."""
    return json.dumps(value)


def answers_without_500(post: Callable[[str], Any], text: str) -> None:
    response = post(text)
    assert response.status_code < 500, (response.status_code, text[:300])
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"code", "name", "description", "errors", "request_id"}, body
        assert body["code"] == response.status_code


raw_texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "null", "[]", "{", '{"researcher": ', "NaN", "1" * 5000, "[" * 70 + "]" * 70]),
)


@APP_SETTINGS
@given(body=st.one_of(inputs(MATCH).map(_body), odd_matches.map(_body), raw_texts))
def test_post_matches_never_answers_500(app_service: Service, body: str) -> None:
    answers_without_500(
        lambda text: app_service.client.post("/v1/matches", data=text, content_type="application/json"), body
    )


@APP_SETTINGS
@given(body=st.one_of(inputs(HOSTS).map(_body), inputs(HOST).map(_body), odd_hosts.map(_body), raw_texts))
def test_post_hosts_never_answers_500(app_service: Service, body: str) -> None:
    answers_without_500(
        lambda text: app_service.call("POST", "/v1/hosts", "admin", data=text, content_type="application/json"),
        body,
    )


def test_fuzz_inputs_reach_the_app_as_sent() -> None:
    """Python's JSON encoder writes NaN and Infinity as bare words and a 400-digit integer in full, as a
    hostile client would."""
    assert (
        _body({"a": math.nan, "b": math.inf, "c": 10**400}) == '{"a": NaN, "b": Infinity, "c": ' + "1" + "0" * 400 + "}"
    )
