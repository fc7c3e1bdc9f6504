"""API tokens: who may call the service, with which scope, until when.

A token is shown once, when it is created or rotated; the database keeps only its SHA-256 digest (the
`api_tokens` table, defined with the store's other tables so that `Store.create_all` makes it). A token lives
`DEFAULT_TOKEN_DAYS` unless made or rotated with another lifetime; revoking or rotating it stops the old secret,
and the staff sessions signed in with it (`service.auth`), at once. `hostmatch tokens create|rotate|revoke|list`
manages them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from matcher.store import Store, TokenRow

Scope = Literal["staff", "admin"]
SCOPES: tuple[Scope, ...] = ("staff", "admin")
DEFAULT_TOKEN_DAYS = 90  # a token's lifetime unless its creator says otherwise (`hostmatch tokens create --days`)
TokenState = Literal["live", "expired", "revoked", "unknown"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC time (SQLite gives back naive times for what was written in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name and scope."""

    name: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        return self.scope == "admin" or needed == self.scope


def _new_token() -> str:
    return "hm_" + secrets.token_urlsafe(32)


def _days(days: float) -> dt.timedelta:
    return dt.timedelta(days=days)


def _check_days(days: float) -> None:
    if not 0 < days <= 3660:
        raise ValueError(f"a token lives more than 0 and at most 3,660 days (ten years), not {days:g}")


def _expiry(row: TokenRow) -> dt.datetime:
    return _utc(row.expires_at) if row.expires_at else _utc(row.created_at) + _days(DEFAULT_TOKEN_DAYS)


def _state(row: TokenRow) -> TokenState:
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if _expiry(row) <= _now() else "live"


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The tokens kept in `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, scope: Scope, *, days: float = DEFAULT_TOKEN_DAYS) -> str:
        """Create a token that lives `days` days and return it: the only time it is ever shown.

        Raises:
            ValueError: an unknown scope, an empty name, a name already in use, or a lifetime not in (0, 3660].
        """
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if not name.strip():
            raise ValueError("a token needs a name")
        _check_days(days)
        token = _new_token()
        with self.store.session() as s:
            if s.scalar(select(TokenRow).where(TokenRow.name == name)) is not None:
                raise ValueError(f"a token named {name!r} exists already; rotate it, or pick another name")
            s.add(TokenRow(name=name, scope=scope, digest=digest_token(token), expires_at=_now() + _days(days)))
        return token

    def rotate(self, name: str, *, days: float = DEFAULT_TOKEN_DAYS) -> str:
        """Give the token `name` a new secret and a new lifetime (revoked or expired ones too) and return it;
        the old secret stops working at once, and so do sessions signed in with it.

        Raises:
            ValueError: no token has that name, or the lifetime is not in (0, 3660].
        """
        _check_days(days)
        token = _new_token()
        with self.store.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.name == name))
            if row is None:
                raise ValueError(f"no token named {name!r}")
            row.digest, row.revoked_at, row.expires_at = digest_token(token), None, _now() + _days(days)
        return token

    def authenticate(self, token: str) -> Principal | None:
        """The principal a live token belongs to, or None for an unknown, revoked or expired token."""
        return self.principal_of(digest_token(token))

    def principal_of(self, digest: str) -> Principal | None:
        """The principal of a live token given by its digest (what a signed-in session keeps), or None."""
        with self.store.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.digest == digest))
            if row is None or _state(row) != "live":
                return None
            return Principal(row.name, row.scope)  # type: ignore[arg-type]

    def state(self, token: str) -> TokenState:
        """Why a token is or is not accepted, for the message of a refusal."""
        with self.store.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.digest == digest_token(token)))
            return "unknown" if row is None else _state(row)

    def revoke(self, name: str) -> bool:
        with self.store.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.name == name, TokenRow.revoked_at.is_(None)))
            if row is None:
                return False
            row.revoked_at = _now()
            return True

    def entries(self) -> list[dict[str, Any]]:
        """Every token's name, scope, dates and state (never the token or its digest)."""
        with self.store.session() as s:
            rows = s.scalars(select(TokenRow).order_by(TokenRow.name)).all()
            return [
                {
                    "name": r.name,
                    "scope": r.scope,
                    "created_at": _utc(r.created_at).isoformat(),
                    "expires_at": _expiry(r).isoformat(),
                    "revoked_at": _utc(r.revoked_at).isoformat() if r.revoked_at else None,
                    "state": _state(r),
                }
                for r in rows
            ]
