"""Public pages: the applicant's profile form and results, the lab directory and lab pages.

An applicant's profile is never stored: the results page carries it in a hidden field, so the filters and
the shortlist re-rank without re-typing it, and the match is recorded exactly as `POST /v1/matches` records
an inline profile (who asked, the parameters, the results, the profile only as a digest).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from matcher.errors import InvalidInput
from matcher.store import profile_digest
from matcher.text.publications import read_publications
from models.limits import MAX_PUBLICATIONS
from models.profiles import ResearcherProfile, normalise_id
from models.programmes import programmes
from models.results import MatchResult
from models.taxonomy import MEDIUM_SECTIONS
from service.matching import catalogue, run_match
from service.schemas import MatchRequest
from service.web import LANGUAGES, options, whole_number
from service.web.forms import ANONYMOUS_NAME, ProfileForm
from service.web.labs import directory_page

public = Blueprint("public", __name__, template_folder="templates")

FILTERS = ("programme", "region", "prefecture", "section", "language", "min_score", "top")
TOP_CHOICES = (10, 20, 50)


@public.get("/")
def index() -> str:
    return render_template("index.html", form=ProfileForm.blank(), **_form_options())


@public.post("/")
def submit() -> str | tuple[str, int]:
    """The form's buttons: find labs (the main one), read publications from a file, add or remove a row,
    or come back from the results to edit the profile."""
    action = request.form.get("action", "match")
    if action == "edit":
        return render_template("index.html", form=ProfileForm.from_profile(_carried_profile()), **_form_options())
    form = ProfileForm.from_request(request.form)
    upload = request.files.get("publications_file")
    if upload is not None and upload.filename:
        try:
            form.add_publications(read_publications(upload.read(), filename=upload.filename))
        except InvalidInput as exc:
            form.errors["publications_file"] = _file_problem(exc)
            return render_template("index.html", form=form, **_form_options()), 422
        if action == "match":
            action = "read-file"  # show what was read before matching with it
    if action == "add-row":
        form.add_row()
    elif action.startswith("remove-row-"):
        form.remove_row(
            whole_number(action.removeprefix("remove-row-"), lowest=0, highest=MAX_PUBLICATIONS, default=-1)
        )
    if action != "match":
        return render_template("index.html", form=form, **_form_options())
    profile = form.to_profile()
    if profile is None:
        return render_template("index.html", form=form, **_form_options()), 422
    return _results(profile, MultiDict())


@public.post("/results")
def results() -> str | tuple[str, int]:
    """The same profile ranked again with other filters."""
    return _results(_carried_profile(), request.form)


@public.post("/shortlist.csv")
def shortlist() -> Response:
    """The ticked labs of a results page (every lab shown when none is ticked), as CSV."""
    profile = _carried_profile()
    body, _ = _match_request(profile, request.form)
    if body is None:
        abort(400, gettext("The filters of this page are not valid; go back and check them."))
    result = run_match(body, profile, subject=f"inline:{profile_digest(profile)}")
    chosen = set(request.form.getlist("shortlist"))
    rows = [m for m in result.matches if not chosen or m.host_id in chosen]
    hosts = catalogue().engine.hosts
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(options.COMPONENTS)
    writer.writerow(
        ["rank", "lab", "pi", "institution", "prefecture", "score", *names, "programmes", "lab_page", "host_id"]
    )
    for rank, match in enumerate(result.matches, start=1):
        if match not in rows:
            continue
        values = {c.name: f"{c.value:.2f}" for c in match.components}
        record = hosts.get(match.host_id)
        writer.writerow(
            [
                rank,
                match.lab_name,
                match.pi_name,
                match.institution,
                match.prefecture,
                f"{match.score:.3f}",
                *[values.get(name, "") for name in names],
                "; ".join(match.eligible_programmes),
                (
                    record.url
                    if record is not None and record.url
                    else url_for(".lab", host_id=match.host_id, _external=True)
                ),
                match.host_id,
            ]
        )
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=hostmatch-shortlist.csv"
    return response


@public.get("/labs")
def labs() -> str | tuple[str, int]:
    return directory_page("labs.html", staff=False)


@public.get("/labs/<host_id>")
def lab(host_id: str) -> str:
    host = catalogue().engine.hosts.get(normalise_id(host_id))
    if host is None:
        abort(404, gettext("There is no lab with the id %(id)s.", id=host_id))
    return render_template(
        "lab.html", host=host, programmes=programmes(), options=options, section_names=MEDIUM_SECTIONS
    )


@public.get("/language/<code>")
def language(code: str) -> WerkzeugResponse:
    """Remember the interface language in a cookie and go back to the page the switch was on."""
    if code not in LANGUAGES:
        abort(404)
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for(".index")
    response = redirect(target)
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True, secure=request.is_secure)
    return response


# -- helpers -------------------------------------------------------------------------------------------


def _results(profile: ResearcherProfile, form: MultiDict[str, str]) -> str | tuple[str, int]:
    body, filter_errors = _match_request(profile, form)
    result: MatchResult | None = None
    if body is not None:
        try:
            result = run_match(body, profile, subject=f"inline:{profile_digest(profile)}")
        except InvalidInput as exc:
            filter_errors = {e.field: e.message for e in exc.errors}
    chosen = {name: form.get(name, "") for name in FILTERS}
    page = render_template(
        "results.html",
        profile=profile,
        profile_json=profile.model_dump_json(),
        named=profile.name != ANONYMOUS_NAME,
        result=result,
        filters=chosen,
        filter_errors=filter_errors,
        top_choices=[(str(n), str(n)) for n in TOP_CHOICES],
        programmes=programmes(),
        options=options,
    )
    return (page, 422) if filter_errors else page


def _match_request(profile: ResearcherProfile, form: MultiDict[str, str]) -> tuple[MatchRequest | None, dict[str, str]]:
    """The API's match request for this profile and the page's filters; errors by filter name."""
    values: dict[str, Any] = {
        name: form.get(name) for name in ("programme", "region", "prefecture", "section", "language")
    }
    values = {k: v for k, v in values.items() if v}
    if form.get("min_score"):
        values["min_score"] = form.get("min_score")
    top = form.get("top", "")
    chosen = whole_number(top, lowest=min(TOP_CHOICES), highest=max(TOP_CHOICES), default=TOP_CHOICES[0])
    values["top"] = chosen if chosen in TOP_CHOICES else TOP_CHOICES[0]
    try:
        return MatchRequest.model_validate({"researcher": profile, **values}), {}
    except ValidationError as exc:
        errors = {str(e["loc"][0]): _filter_problem(str(e["loc"][0])) for e in exc.errors() if e["loc"]}
        return None, errors


def _filter_problem(name: str) -> str:
    if name == "min_score":
        return str(gettext("Enter a minimum score between 0 and 1, like 0.5."))
    return str(gettext("Choose a value from the list."))


def _carried_profile() -> ResearcherProfile:
    """The profile a results page carries in its hidden field."""
    try:
        return ResearcherProfile.model_validate_json(request.form.get("profile", ""))
    except ValidationError:
        abort(400, gettext("The profile sent with this page is not valid. Start again from the form."))


def _file_problem(exc: InvalidInput) -> str:
    details = "; ".join(e.message for e in exc.errors[:3])
    return str(
        gettext(
            "We could not read publications from this file (%(details)s). Use a BibTeX (.bib), JSON or CSV file "
            "with at most %(n)s publications.",
            details=details,
            n=MAX_PUBLICATIONS,
        )
    )


def _form_options() -> dict[str, Any]:
    return {"options": options, "max_publications": MAX_PUBLICATIONS}
