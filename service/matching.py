"""What the JSON API and the pages both do with a request: run it on the catalogue and record it.

One function per operation, so a match asked for through `/v1/matches` and one asked for through the
applicant's page are the same call, with the same audit record.

The audit record never fails the request it records: `Store.record_run` tries again while the database is
busy (for longer than any host write holds it); a row still not written is logged at error level, whole
(it holds no inline profile, only its digest), with the request id, and the answer goes out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from matcher.catalogue import Catalogue
from matcher.ranking import HostFilter, Weights
from models.profiles import ResearcherProfile
from models.results import CandidateResult, MatchResult
from service.auth import actor
from service.errors import invalid
from service.schemas import HostFilterFields, HostQuery, MatchRequest

log = logging.getLogger(__name__)


def catalogue() -> Catalogue:
    result: Catalogue = current_app.extensions["hostmatch"]
    return result


def host_filter(fields: HostFilterFields) -> HostFilter:
    """The filter a request asks for; a value the filter refuses is a 422 naming its field."""
    try:
        return HostFilter(**fields.host_filter_values())
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise invalid(field, message) from exc


def matching_host_ids(query: HostQuery) -> list[str]:
    """The ids of the hosts a directory query asks for (its words and filters), in id order."""
    return catalogue().engine.hosts.find(host_filter(query), query.word_query())


def weights(body: MatchRequest) -> Weights:
    try:
        return Weights(**body.weights) if body.weights else Weights()
    except (TypeError, ValueError) as exc:
        raise invalid("weights", str(exc).replace("__init__() ", "")) from exc


def run_match(body: MatchRequest, researcher: ResearcherProfile, *, subject: str) -> MatchResult:
    """Rank hosts for `researcher` as `body` asks, and record who asked (an inline profile only as `subject`,
    its digest)."""
    result = catalogue().engine.match(
        researcher,
        top=body.top,
        host_filter=host_filter(body),
        weights=weights(body),
        min_score=body.min_score,
        exclude=set(body.exclude),
        enforce_capacity=body.enforce_capacity,
    )
    record(
        actor=actor(),
        kind="match",
        subject=subject,
        parameters=body.model_dump(mode="json", exclude={"researcher"}),
        results=[[m.host_id, m.score] for m in result.matches],
    )
    return result


def run_candidates(host_id: str, *, top: int) -> CandidateResult:
    """Stored researchers ranked for one host (staff), recorded in the audit trail."""
    cat = catalogue()
    result = cat.engine.rank_researchers(host_id, list(cat.store.researchers().values()), top=top)
    record(
        actor=actor(),
        kind="candidates",
        subject=host_id,
        parameters={"top": top},
        results=[[c.researcher_id, c.score] for c in result.candidates],
    )
    return result


def record(**run: Any) -> None:
    """Add a run to the audit trail (`Store.record_run`'s arguments); if the database refuses it even after
    the store's retries, log the row at error level with the request id instead of failing the request."""
    try:
        catalogue().store.record_run(**run)
    except SQLAlchemyError:
        row = json.dumps(run, ensure_ascii=False, default=str)
        log.exception("audit row not written (request %s); the row: %s", g.get("request_id", "-"), row)
