"""Bearer tokens and scopes.

Anonymous callers may submit their own profile for matching and read hosts and programmes. Staff tokens
also reach researchers and candidate lists; admin tokens may also change hosts and delete researchers. A
token that is sent must be valid: an unknown, revoked or expired token is a 401 even on a route anonymous
callers may use (the health checks excepted: they answer whoever asks). The tokens themselves (lifetimes,
rotation, revocation) are `service.tokens`.

Staff pages sign in with the same tokens: `sign_in` exchanges a token for a session cookie that keeps only
the token's digest, and `session_principal` checks on every page that the token is still live, so revoking
a token ends its sessions too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g, request, session
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from matcher.store import Store
from service.tokens import Principal, Scope, Tokens, digest_token

_SESSION_KEY = "staff_token"
V = TypeVar("V", bound=Callable[..., object])
_NEEDED: dict[str, Scope] = {}  # view function name -> the scope its route needs


def needs(scope: Scope) -> Callable[[V], V]:
    """Mark an API view as needing `scope`. The scope is checked by `require_route_scope` before the request
    is validated, so an anonymous caller gets 401 whatever its body, never a 422 listing required fields."""

    def mark(view: V) -> V:
        _NEEDED[view.__name__] = scope
        return view

    return mark


def require_route_scope() -> None:
    """401 or 403 unless the caller has the scope the requested API route was marked with (`needs`)."""
    endpoint = request.endpoint or ""
    blueprint, _, view = endpoint.rpartition(".")
    if blueprint == "v1" and view in _NEEDED:
        require(_NEEDED[view])


def authenticate(store: Store) -> None:
    """Read the Authorization header into g.principal (None when absent)."""
    g.principal = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    tokens = Tokens(store)
    principal = tokens.authenticate(token.strip())
    if principal is None:
        state = tokens.state(token.strip())
        why = {"expired": "the token has expired; ask for it to be rotated", "revoked": "the token was revoked"}
        raise _unauthorized(why.get(state, "the token is unknown"))
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


def sign_in(store: Store, token: str) -> Principal | None:
    """Start a staff session for a live token (a fresh session, so no earlier cookie carries over); None
    and no session for an unknown or revoked one."""
    principal = Tokens(store).authenticate(token.strip()) if token.strip() else None
    session.clear()
    if principal is not None:
        session.permanent = True  # lasts the configured session lifetime, not only until the browser closes
        session[_SESSION_KEY] = digest_token(token.strip())
    return principal


def sign_out() -> None:
    session.clear()


def session_principal(store: Store) -> Principal | None:
    """The signed-in staff member of this page request, if their token is still live."""
    digest = session.get(_SESSION_KEY)
    if not isinstance(digest, str):
        return None
    principal = Tokens(store).principal_of(digest)
    if principal is None:
        session.clear()  # revoked since: the session ends with it
    return principal
