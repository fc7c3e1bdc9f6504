"""One JSON error shape for every failure, registered once.

    {"code": 422, "name": "Unprocessable Entity", "description": "...",
     "errors": [{"field": "researcher.statement", "message": "Field required"}], "request_id": "..."}

hostmatch's own errors map to status codes here; anything unexpected becomes a 500 whose body says only
that, with the request id; the exception itself goes to the log under the same id, never to the client.

Pages for people (any path outside `/v1/` and the health checks) get the same statuses as an HTML page
in the interface language instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from matcher.errors import (
    AssignmentInfeasible,
    FieldError,
    IndexMismatch,
    InvalidInput,
    MatcherError,
    Overloaded,
    UnknownHost,
    UnknownResearcher,
    field_errors,
)

log = logging.getLogger("hostmatch.service")
_STOCK_DESCRIPTIONS = frozenset(kind.description for kind in default_exceptions.values() if kind.description)

_STATUS: dict[type[MatcherError], int] = {
    InvalidInput: 422,
    UnknownHost: 404,
    UnknownResearcher: 404,
    AssignmentInfeasible: 422,
    IndexMismatch: 503,
    Overloaded: 503,
}


def error_response(code: int, description: str, errors: Sequence[FieldError] = ()) -> Response:
    body = {
        "code": code,
        "name": HTTP_STATUS_CODES.get(code, "Error"),
        "description": description,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
        "request_id": g.get("request_id", ""),
    }
    response = jsonify(body)
    response.status_code = code
    return response


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook for request bodies, queries and paths that fail validation."""
    return error_response(422, "The request is not valid; see errors.", field_errors(exc))


def wants_page() -> bool:
    """Whether the request is for a page for people rather than the JSON API or a health check."""
    path = request.path
    return not (path.startswith("/v1/") or path in {"/healthz", "/readyz"})


def page_error(code: int, description: str | None = None) -> Response:
    """An error as a page: a title for the status and what went wrong, in words for a person. A view's own
    description (e.g. "There is no lab with the id h-x") is shown for 4xx; werkzeug's stock texts are not."""
    titles = {
        400: gettext("Something in the request was wrong"),
        401: gettext("Sign in to see this page"),
        403: gettext("You cannot open this page"),
        404: gettext("Page not found"),
        405: gettext("This page cannot be used that way"),
        413: gettext("The file or form is too large"),
        422: gettext("Something in the request was wrong"),
        429: gettext("Too many requests"),
    }
    if code >= 500:
        message = gettext("Sorry, something went wrong on our side. Try again in a moment.")
    elif code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        message = gettext("Send at most %(mb)s MB at once.", mb=f"{limit / 1_000_000:g}")
    elif not description or description in _STOCK_DESCRIPTIONS:
        message = gettext("Check the address, or start again from the start page.")
    else:
        message = description
    page = render_template(
        "error.html",
        title=titles.get(code, gettext("Sorry, something went wrong")),
        message=message,
        request_id=g.get("request_id"),
    )
    return Response(page, status=code, mimetype="text/html")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if wants_page():
            response = page_error(code, exc.description)
            for name, value in exc.get_headers():
                if name.lower() in {"allow", "retry-after"}:
                    response.headers[name] = value
            return response
        if code >= 500:
            return error_response(code, "The server could not complete the request.")
        response = error_response(code, exc.description or HTTP_STATUS_CODES.get(code, ""))
        for name, value in exc.get_headers():  # e.g. WWW-Authenticate on 401, Allow on 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(MatcherError)
    def matcher_error(exc: MatcherError) -> Response:
        code = next((status for kind, status in _STATUS.items() if isinstance(exc, kind)), 400)
        if isinstance(exc, Overloaded):  # the request was refused, not failed: say when to come back
            response = page_error(code) if wants_page() else error_response(code, str(exc))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if wants_page():
            return page_error(code, str(exc))
        if code >= 500:
            log.error("request %s: %s", g.get("request_id"), exc)
            return error_response(code, "The index is not usable right now; the service is rebuilding it.")
        errors = exc.errors if isinstance(exc, InvalidInput) else ()
        return error_response(code, str(exc) if not errors else "The request is not valid; see errors.", errors)

    @app.errorhandler(ValidationError)
    def pydantic_error(exc: ValidationError) -> Response:
        return validation_error_response(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("request %s failed", g.get("request_id"))
        if wants_page():
            return page_error(500)
        return error_response(500, InternalServerError.description)


def invalid(field: str, message: str) -> InvalidInput:
    """A 422 naming one field, for a view to raise."""
    return InvalidInput([FieldError(field, message)])
