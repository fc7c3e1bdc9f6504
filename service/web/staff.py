"""Staff pages: sign-in with an API token, labs and their candidates, researchers, uploads, calls, audit.

Every page but the sign-in needs a signed-in staff member; an anonymous browser is sent to the sign-in
page. Scopes are the API's: `staff` sees researchers and candidates; `admin` may also change hosts. Views
call the same catalogue and engine as the API, and record what they run in the same audit trail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from matcher.text.search import WordQuery, fold
from models.limits import MAX_OFFSET, MAX_TOP
from models.profiles import ResearcherProfile, normalise_id
from models.programmes import programmes
from models.results import MatchResult
from service.auth import sign_in as start_session
from service.auth import sign_out as end_session
from service.matching import catalogue, read_researcher, run_candidates, run_match
from service.schemas import MatchRequest
from service.tokens import Scope
from service.web import Page, options, whole_number
from service.web import calls as call_jobs
from service.web.labs import directory_page
from service.web.uploads import confirm_upload, upload_form, validate_upload

staff = Blueprint("staff", __name__, url_prefix="/staff")

PAGE_SIZE = 50
_OPEN = {"staff.sign_in", "staff.sign_in_post"}


@staff.before_request
def signed_in() -> Response | None:
    """Staff pages are private (never cached) and need a signed-in staff member."""
    g.private_page = True
    if request.endpoint in _OPEN or g.get("staff") is not None:
        return None
    return redirect(url_for("staff.sign_in", next=request.full_path.rstrip("?")))


def need(scope: Scope) -> None:
    """403 unless the signed-in staff member's token has `scope` (admin includes staff)."""
    if not g.staff.allows(scope):
        abort(
            403,
            gettext("This needs a token with the %(scope)s scope; yours has %(has)s.", scope=scope, has=g.staff.scope),
        )


# -- signing in and out ---------------------------------------------------------------------------------


@staff.get("/sign-in")
def sign_in() -> str:
    return render_template("staff/sign_in.html", next=_local(request.args.get("next")), error=None)


@staff.post("/sign-in")
def sign_in_post() -> str | tuple[str, int] | Response:
    target = _local(request.form.get("next"))
    principal = start_session(catalogue().store, request.form.get("token", ""))
    if principal is None:
        error = gettext("That token is not valid, or it has been revoked. Paste the whole token, starting hm_.")
        return render_template("staff/sign_in.html", next=target, error=error), 401
    flash(gettext("Signed in as %(name)s.", name=principal.name), "success")
    return redirect(target or url_for("staff.home"))


@staff.post("/sign-out")
def sign_out() -> Response:
    end_session()
    flash(gettext("You are signed out."), "success")
    return redirect(url_for("public.index"))


# -- overview, labs and candidates ----------------------------------------------------------------------


@staff.get("/")
def home() -> str:
    cat = catalogue()
    counts = {
        "labs": len(cat.engine.hosts),
        "researchers": cat.store.count("researchers"),
        "calls": len(call_jobs.list_calls()),
    }
    return render_template("staff/home.html", counts=counts)


@staff.get("/labs")
def labs() -> str | tuple[str, int]:
    return directory_page("staff/labs.html", staff=True)


@staff.get("/labs/<host_id>/candidates")
def candidates(host_id: str) -> str:
    top = request.args.get("top", "10")
    shown = whole_number(top, lowest=1, highest=MAX_TOP, default=10)
    host_id = normalise_id(host_id)
    host = catalogue().engine.hosts.get(host_id)
    if host is None:
        abort(404, gettext("There is no lab with the id %(id)s.", id=host_id))
    result = run_candidates(host_id, top=shown)
    return render_template("staff/candidates.html", host=host, result=result, top=shown, options=options)


# -- researchers ----------------------------------------------------------------------------------------


@staff.get("/researchers")
def researchers() -> str:
    words = request.args.get("q", "").strip()
    everyone = list(catalogue().store.researchers().values())
    error = None
    try:
        query = WordQuery.parse(words)
    except ValueError as exc:
        error, query = str(exc), WordQuery(())
    if query.words:
        everyone = [r for r in everyone if query.matches(fold(_searched(r)))]
    page = _page()
    shown = everyone[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if shown:
        catalogue().store.record_access(actor=g.staff.name, action="list", ids=[r.id for r in shown])
    return render_template(
        "staff/researchers.html",
        researchers=shown,
        total=len(everyone),
        page=page,
        pages=max(1, -(-len(everyone) // PAGE_SIZE)),
        q=words,
        error=error,
        options=options,
    )


def _searched(researcher: ResearcherProfile) -> str:
    r = researcher
    return " ".join((r.id, r.name, r.institution, r.country, *r.fields.keywords))


@staff.get("/researchers/<researcher_id>")
def researcher(researcher_id: str) -> str:
    profile = read_researcher(normalise_id(researcher_id))
    result: MatchResult = run_match(MatchRequest(researcher_id=researcher_id), profile, subject=researcher_id)
    return render_template(
        "staff/researcher.html", profile=profile, result=result, programmes=programmes(), options=options
    )


# -- uploads --------------------------------------------------------------------------------------------


@staff.get("/upload")
def upload() -> Page:
    return upload_form()


@staff.post("/upload")
def upload_post() -> Page:
    return validate_upload(need)


@staff.post("/upload/confirm")
def upload_confirm() -> Page:
    return confirm_upload(need)


# -- calls ----------------------------------------------------------------------------------------------


@staff.get("/calls")
def calls() -> Page:
    return call_jobs.calls_page()


@staff.post("/calls")
def start_call() -> Page | Response:
    return call_jobs.start_call()


@staff.get("/calls/<call_id>")
def call(call_id: str) -> str:
    return call_jobs.call_page(call_id)


@staff.get("/calls/<call_id>/status.json")
def call_status(call_id: str) -> Any:
    return call_jobs.call_status(call_id)


@staff.get("/calls/<call_id>/files/<name>")
def call_file(call_id: str, name: str) -> Response:
    return call_jobs.call_file(call_id, name)


# -- audit ----------------------------------------------------------------------------------------------


@staff.get("/audit")
def audit() -> str:
    """Who ran which match or candidate list (or call), when, with which parameters; filterable."""
    filters = {name: request.args.get(name, "").strip() for name in ("actor", "kind", "subject", "since", "until")}
    since, until = _date(filters["since"]), _date(filters["until"])
    page = _page()
    runs, total = catalogue().store.audit_runs(
        actor=filters["actor"] or None,
        kind=filters["kind"] or None,
        subject=filters["subject"] or None,
        since=since,
        until=until + dt.timedelta(days=1) if until else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render_template(
        "staff/audit.html",
        runs=runs,
        total=total,
        filters=filters,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        kinds=[(kind, kind) for kind in catalogue().store.audit_kinds()],
    )


def _page() -> int:
    text = request.args.get("page", "")
    return whole_number(text, lowest=1, highest=MAX_OFFSET, default=1)


def _date(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC) if text else None
    except ValueError:
        return None


def _local(target: str | None) -> str | None:
    """A redirect target only when it is a path on this site (never another site: no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None
