"""One JSON error shape for every failure, registered once.

    {"code": 422, "name": "Unprocessable Entity", "description": "...",
     "errors": [{"field": "researcher.statement", "message": "Field required"}], "request_id": "..."}

hostmatch's own errors map to status codes here; anything unexpected becomes a 500 whose body says only
that, with the request id; the exception itself goes to the log under the same id, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask, Response, g, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from matcher.errors import (
    AssignmentInfeasible,
    FieldError,
    IndexMismatch,
    InvalidInput,
    MatcherError,
    UnknownHost,
    UnknownResearcher,
    field_errors,
)

log = logging.getLogger("hostmatch.service")

_STATUS: dict[type[MatcherError], int] = {
    InvalidInput: 422,
    UnknownHost: 404,
    UnknownResearcher: 404,
    AssignmentInfeasible: 422,
    IndexMismatch: 503,
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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
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
        return error_response(500, InternalServerError.description)


def invalid(field: str, message: str) -> InvalidInput:
    """A 422 naming one field, for a view to raise."""
    return InvalidInput([FieldError(field, message)])
