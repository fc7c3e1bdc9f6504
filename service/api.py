"""JSON API v1: matches, hosts, researchers, candidates and programmes. Views only translate between HTTP
and the catalogue; the logic lives in `matcher` and `models`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from matcher.errors import UnknownResearcher
from matcher.store import profile_digest
from models.profiles import HostLab, ResearcherProfile
from models.programmes import programmes
from models.results import CandidateResult, MatchResult
from service import matching
from service.auth import needs, require
from service.errors import invalid
from service.matching import catalogue, matching_host_ids, run_candidates, run_match
from service.schemas import (
    CandidateQuery,
    ErrorBody,
    HostList,
    HostPath,
    HostQuery,
    HostUpsert,
    MatchRequest,
    PageQuery,
    ProgrammeList,
    ResearcherList,
    ResearcherPath,
    ResearcherUpsert,
    WriteResult,
)

# What any operation may answer, whoever asks: a body that is not JSON or too deep (400), a token sent that is
# unknown, revoked or expired (401), too large (413) or not JSON (415), not valid (422), too many requests
# (429), the service too busy or its index being rebuilt (503). Each operation adds its own (403, 404, ...).
EVERY_OPERATION: dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None] = {
    code: ErrorBody for code in (400, 401, 413, 415, 422, 429, 503)
}
api = APIBlueprint("v1", __name__, url_prefix="/v1", abp_responses=EVERY_OPERATION)

STAFF: list[dict[str, list[str]]] = [{"bearer": []}]
matches_tag, hosts_tag = Tag(name="matches"), Tag(name="hosts")
researchers_tag, programmes_tag = Tag(name="researchers"), Tag(name="programmes")
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {401: ErrorBody, 403: ErrorBody, 404: ErrorBody}


def _json(model: Any, status: int = 200) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


# -- matches --------------------------------------------------------------------------------------------


@api.post("/matches", tags=[matches_tag], responses={200: MatchResult, **ERRORS}, security=[*STAFF, {}])
def post_match(body: MatchRequest) -> Response:
    """Rank host labs for a researcher: a profile inline (anyone), or a stored researcher's id (staff)."""
    if body.researcher_id is not None:
        require("staff")
        researcher = catalogue().store.get_researcher(body.researcher_id)
        if researcher is None:
            raise UnknownResearcher(body.researcher_id)
        subject = researcher.id
    else:
        assert body.researcher is not None  # one of the two, by MatchRequest's validator
        researcher, subject = body.researcher, f"inline:{profile_digest(body.researcher)}"
    return _json(run_match(body, researcher, subject=subject))


# -- hosts ----------------------------------------------------------------------------------------------


@api.get("/hosts", tags=[hosts_tag], responses={200: HostList})
def list_hosts(query: HostQuery) -> Response:
    """Host labs, optionally filtered and searched by words (q); anyone may read them."""
    records = catalogue().engine.hosts
    ids = matching_host_ids(query)
    page = [records[h] for h in ids[query.offset : query.offset + query.limit]]  # only these are unpacked
    return _json(HostList(total=len(ids), hosts=page))


@api.post("/hosts", tags=[hosts_tag], responses={200: WriteResult, 201: WriteResult, **ERRORS}, security=STAFF)
@needs("admin")
def post_hosts(body: HostUpsert) -> Response:
    """Add or replace one host, or many as {"hosts": [...]} (admin)."""
    hosts = body.items()
    _unique_ids([h.id for h in hosts], "hosts")
    return _write_hosts(hosts)


@api.get("/hosts/<host_id>", tags=[hosts_tag], responses={200: HostLab, 404: ErrorBody})
def get_host(path: HostPath) -> Response:
    host = catalogue().engine.hosts.get(path.host_id)
    if host is None:
        raise NotFound(f"no host with id {path.host_id!r}")
    return _json(host)


@api.put("/hosts/<host_id>", tags=[hosts_tag], responses={200: WriteResult, 201: WriteResult, **ERRORS}, security=STAFF)
@needs("admin")
def put_host(path: HostPath, body: HostLab) -> Response:
    """Create or replace one host (admin)."""
    if body.id != path.host_id:
        raise invalid("id", f"{body.id!r} does not match the host id in the path ({path.host_id!r})")
    return _write_hosts([body])


@api.delete("/hosts/<host_id>", tags=[hosts_tag], responses={204: None, **ERRORS}, security=STAFF)
@needs("admin")
def delete_host(path: HostPath) -> Response:
    catalogue().delete_host(path.host_id)
    return Response(status=204)


@api.get("/hosts/<host_id>/candidates", tags=[hosts_tag], responses={200: CandidateResult, **ERRORS}, security=STAFF)
@needs("staff")
def host_candidates(path: HostPath, query: CandidateQuery) -> Response:
    """Stored researchers ranked for one host (staff)."""
    return _json(run_candidates(path.host_id, top=query.top))


def _written(written: matching.Written) -> Response:
    """What a write did to each record: 201 when any was created."""
    body = WriteResult(created=written.created, updated=written.updated, unchanged=written.unchanged)
    return _json(body, 201 if written.created else 200)


def _write_hosts(hosts: list[HostLab]) -> Response:
    cat = catalogue()
    before = {h.id: cat.engine.hosts[h.id] for h in hosts if h.id in cat.engine.hosts}
    cat.upsert_hosts(hosts)
    return _written(matching.Written.of(hosts, before))


def _unique_ids(ids: list[str], field: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise invalid(f"{field}.{i}.id", f"{item!r} appears more than once in the request")
        seen.add(item)


# -- researchers (staff) --------------------------------------------------------------------------------


@api.get("/researchers", tags=[researchers_tag], responses={200: ResearcherList, **ERRORS}, security=STAFF)
@needs("staff")
def list_researchers(query: PageQuery) -> Response:
    page, total = matching.list_researchers(offset=query.offset, limit=query.limit)
    return _json(ResearcherList(total=total, researchers=page))


@api.post(
    "/researchers", tags=[researchers_tag], responses={200: WriteResult, 201: WriteResult, **ERRORS}, security=STAFF
)
@needs("staff")
def post_researchers(body: ResearcherUpsert) -> Response:
    """Add or replace one researcher, or many as {"researchers": [...]} (staff)."""
    researchers = body.items()
    _unique_ids([r.id for r in researchers], "researchers")
    return _write_researchers(researchers)


@api.get(
    "/researchers/<researcher_id>", tags=[researchers_tag], responses={200: ResearcherProfile, **ERRORS}, security=STAFF
)
@needs("staff")
def get_researcher(path: ResearcherPath) -> Response:
    return _json(matching.read_researcher(path.researcher_id))


@api.put(
    "/researchers/<researcher_id>",
    tags=[researchers_tag],
    responses={200: WriteResult, 201: WriteResult, **ERRORS},
    security=STAFF,
)
@needs("staff")
def put_researcher(path: ResearcherPath, body: ResearcherProfile) -> Response:
    if body.id != path.researcher_id:
        raise invalid("id", f"{body.id!r} does not match the researcher id in the path ({path.researcher_id!r})")
    return _write_researchers([body])


@api.delete("/researchers/<researcher_id>", tags=[researchers_tag], responses={204: None, **ERRORS}, security=STAFF)
@needs("admin")
def delete_researcher(path: ResearcherPath) -> Response:
    """Erase a researcher (admin): the record, their cached vectors, and their id in the audit trail."""
    matching.erase(path.researcher_id)
    return Response(status=204)


def _write_researchers(researchers: list[ResearcherProfile]) -> Response:
    return _written(matching.write_researchers(researchers))


# -- programmes -----------------------------------------------------------------------------------------


@api.get("/programmes", tags=[programmes_tag], responses={200: ProgrammeList})
def list_programmes() -> Response:
    """The fellowship programmes and their rules."""
    return _json(ProgrammeList(programmes=list(programmes().values())))
