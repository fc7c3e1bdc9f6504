"""Bearer tokens and scopes.

Anonymous callers may submit their own profile for matching and read hosts and programmes. Staff tokens
also reach researchers and candidate lists; admin tokens may also change hosts. A token that is sent
must be valid: an unknown or revoked token is a 401 even on a route anonymous callers may use.
"""

from __future__ import annotations

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from matcher.store import Principal, Scope, Store


def authenticate(store: Store) -> None:
    """Read the Authorization header into g.principal (None when absent)."""
    g.principal = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    principal = store.authenticate(token.strip())
    if principal is None:
        raise _unauthorized("the token is unknown or revoked")
    g.principal = principal


def require(scope: Scope) -> Principal:
    """The caller's principal if it has `scope` (admin includes staff); else 401 or 403."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise _unauthorized(f"this needs a token with the {scope} scope: send 'Authorization: Bearer <token>'")
    if not principal.allows(scope):
        raise Forbidden(f"this needs the {scope} scope; the token '{principal.name}' has {principal.scope}")
    return principal


def actor() -> str:
    principal: Principal | None = g.get("principal")
    return principal.name if principal else "anonymous"


def _unauthorized(description: str) -> Unauthorized:
    return Unauthorized(description, www_authenticate=WWWAuthenticate("bearer", {"realm": "hostmatch"}))
