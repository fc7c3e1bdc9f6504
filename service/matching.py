"""What the JSON API and the pages both do with a request: run it on the catalogue and record it.

One function per operation, so a match asked for through `/v1/matches` and one asked for through the
applicant's page are the same call, with the same audit record; and every read or change of a researcher's
record, whichever way it came, is audited the same way (`matcher.privacy`).

The audit record never fails the request it records: `Store.record_run` tries again while the database is
busy (for longer than any host write holds it); a row still not written is logged at error level, whole
(it holds no inline profile, only its digest), with the request id, and the answer goes out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from matcher.catalogue import Catalogue
from matcher.errors import UnknownResearcher
from matcher.privacy import changed_fields, erase_researcher
from matcher.ranking.components import HostFilter, Weights
from models.profiles import HostLab, ResearcherProfile
from models.results import CandidateResult, MatchResult
from service.auth import actor
from service.costs import request_encoder, request_multilingual_encoder
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
    its digest).

    The researcher's texts are embedded within the request's limits (`service.costs.request_encoder`): an
    inline profile's never touch the shared cache on disk; over the budget is a 422, past the deadline a 503,
    and either stores nothing. What the match embedded is left in `g` for the rate limits to charge."""
    chosen_filter, chosen_weights = host_filter(body), weights(body)
    encoder = request_encoder(stored=body.researcher_id is not None)
    multilingual = request_multilingual_encoder(stored=body.researcher_id is not None)
    g.matched = True
    try:
        result = catalogue().engine.match(
            researcher,
            top=body.top,
            host_filter=chosen_filter,
            weights=chosen_weights,
            min_score=body.min_score,
            exclude=set(body.exclude),
            enforce_capacity=body.enforce_capacity,
            embedder=encoder,
            multilingual_embedder=multilingual,
        )
    finally:
        embedded = encoder.embedded + (multilingual.embedded if multilingual is not None else 0)
        g.texts_embedded = int(g.get("texts_embedded") or 0) + embedded
    record(
        actor=actor(),
        kind="match",
        subject=subject,
        parameters=body.model_dump(mode="json", exclude={"researcher"}),
        results=[[m.host_id, m.score] for m in result.matches],
    )
    return result


def read_researcher(researcher_id: str) -> ResearcherProfile:
    """A stored researcher, the read recorded.

    Raises:
        UnknownResearcher: no such researcher.
    """
    store = catalogue().store
    researcher = store.get_researcher(researcher_id)
    if researcher is None:
        raise UnknownResearcher(researcher_id)
    store.record_access(actor=actor(), action="read", ids=[researcher.id])
    return researcher


def list_researchers(*, offset: int, limit: int) -> tuple[list[ResearcherProfile], int]:
    """A page of the stored researchers and how many there are; the ids shown are recorded."""
    store = catalogue().store
    everyone = list(store.researchers().values())
    page = everyone[offset : offset + limit]
    if page:
        store.record_access(actor=actor(), action="list", ids=[r.id for r in page])
    return page, len(everyone)


def write_researchers(researchers: Sequence[ResearcherProfile]) -> Written:
    """Add or replace researchers in one transaction, each change recorded with the fields it touched."""
    store = catalogue().store
    before = store.get_researchers(r.id for r in researchers)
    with store.session() as session:
        store.put_researchers(session, researchers)
        for researcher in researchers:
            fields = changed_fields(before.get(researcher.id), researcher)
            if fields:
                action = "update" if researcher.id in before else "create"
                store.record_access(actor=actor(), action=action, ids=[researcher.id], fields=fields, session=session)
    return Written.of(researchers, before)


def erase(researcher_id: str) -> None:
    """Delete a researcher and what the service keeps of them (see `matcher.privacy.erase_researcher`).

    Raises:
        UnknownResearcher: no such researcher.
    """
    cat = catalogue()
    cache = getattr(cat.engine.embedder, "cache", None)
    if not erase_researcher(cat.store, cache, researcher_id, actor=actor()):
        raise UnknownResearcher(researcher_id)


@dataclass(frozen=True)
class Written:
    """What a write did to each record: created, updated, left unchanged (ids, in the order given)."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]

    @classmethod
    def of(cls, records: Sequence[HostLab | ResearcherProfile], before: Mapping[str, object]) -> Written:
        return cls(
            created=[r.id for r in records if r.id not in before],
            updated=[r.id for r in records if r.id in before and before[r.id] != r],
            unchanged=[r.id for r in records if r.id in before and before[r.id] == r],
        )


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
