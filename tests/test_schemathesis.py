"""The JSON API against its own OpenAPI document, with Schemathesis: generated requests for every operation,
anonymous and with an admin token, then sequences of calls (the stateful phase, with the links Schemathesis
infers between operations). Every response must be no server error, match its documented schema, and
have a documented status and content type.

The app runs in this process over the fake embedder (the schema, not the model, is under test), with a
fixed seed. `HOSTMATCH_SCHEMATHESIS_EXAMPLES` sets the examples per operation and identity (default 50:
over 1,000 cases in all, each test printing its count); `HOSTMATCH_SCHEMATHESIS_EXAMPLES=250` is the
thorough run (over 5,000).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models.profiles import HostLab, ResearcherProfile
from tests.conftest import host_record, researcher_record
from tests.test_service import POETRY, QUAKE, Service

EXAMPLES = int(os.environ.get("HOSTMATCH_SCHEMATHESIS_EXAMPLES", "50"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same cases on every run
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


TOPICS = (("quake", QUAKE), ("poetry", POETRY))
HOSTS = [HostLab.model_validate(host_record(f"h-{name}", description=text)) for name, text in TOPICS]
PEOPLE = [ResearcherProfile.model_validate(researcher_record(f"r-{name}", statement=text)) for name, text in TOPICS]


@pytest.fixture
def served(tmp_path: Path) -> Service:
    service = Service(tmp_path, config={"RATELIMIT_ENABLED": False})
    reset(service)
    return service


def reset(service: Service) -> None:
    """The two labs and two researchers the tests start from, and nothing else."""
    service.catalogue.replace_all(HOSTS)
    store = service.catalogue.store
    with store.session() as session:
        for researcher_id in set(store.researchers()) - {r.id for r in PEOPLE}:
            store.delete_researcher(session, researcher_id)
        store.put_researchers(session, PEOPLE)


def _identity(service: Service, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.tokens['admin']}"} if who == "admin" else {}


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_operation_answers_as_documented(served: Service, who: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", served.app)
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        ran, failed = _generate(result.ok(), _identity(served, who))
        cases += ran
        failures += failed
    print(f"schemathesis ({who}): {cases} cases")
    assert not failures, "\n\n".join(failures[:5]) + f"\n\n{len(failures)} failures in all"
    assert cases >= 10 * EXAMPLES  # every operation really ran


def _generate(operation: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Run EXAMPLES generated cases of one operation; how many ran, and every failure (not only the first)."""
    failures: list[str] = []
    cases = 0

    @given(case=operation.as_strategy())
    @SETTINGS
    def check(case: Any) -> None:
        nonlocal cases
        cases += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:2000])

    check()
    return cases, failures


def test_sequences_of_calls_answer_as_documented(served: Service) -> None:
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", served.app)
    token = served.tokens["admin"]
    calls: list[str] = []

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            reset(served)  # every sequence starts from the same data, so the same draws make the same calls

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            calls.append(case.operation.label)
            case.validate_response(response, checks=CHECKS)

    Sequences.run(settings=settings(SETTINGS, max_examples=max(10, EXAMPLES // 2), stateful_step_count=6))
    print(f"schemathesis (sequences): {len(calls)} calls over {len(set(calls))} operations")
    assert len(set(calls)) >= 5  # the sequences reach beyond one operation
