"""The lab directory, public (`/labs`) and for staff (`/staff/labs`, with places and candidate links): words
and filters as `GET /v1/hosts` takes them, a page at a time."""

from __future__ import annotations

from flask import render_template, request
from pydantic import ValidationError

from matcher.errors import InvalidInput
from models.limits import MAX_OFFSET
from models.programmes import programmes
from models.regions import region_of
from models.taxonomy import MEDIUM_SECTIONS
from service.matching import catalogue, matching_host_ids
from service.schemas import HostQuery
from service.web import options, whole_number

PAGE_SIZE = 25
_FIELDS = ("q", "region", "section", "programme", "language")


def directory_page(template: str, *, staff: bool) -> str | tuple[str, int]:
    """Render the directory for the query string's words and filters; a bad value is shown beside its field."""
    chosen = {name: request.args.get(name, "").strip() for name in _FIELDS}
    page = whole_number(request.args.get("page", ""), lowest=1, highest=MAX_OFFSET, default=1)
    errors: dict[str, str] = {}
    ids: list[str] = []
    try:
        query = HostQuery.model_validate({k: v for k, v in chosen.items() if v})
        ids = matching_host_ids(query)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"].removeprefix("Value error, ") for e in exc.errors() if e["loc"]}
    except InvalidInput as exc:
        errors = {e.field: e.message for e in exc.errors}
    hosts = catalogue().engine.hosts
    shown = [hosts[h] for h in ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    page_html = render_template(
        template,
        hosts=shown,
        total=len(ids),
        page=page,
        pages=max(1, -(-len(ids) // PAGE_SIZE)),
        filters=chosen,
        errors=errors,
        staff=staff,
        programmes=programmes(),
        options=options,
        section_names=MEDIUM_SECTIONS,
        region_of=region_of,
    )
    return (page_html, 422) if errors else page_html
