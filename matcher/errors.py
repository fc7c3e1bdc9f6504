"""Errors hostmatch raises for callers' mistakes and broken state.

    MatcherError                 base class; `str()` is a message fit to show a user
    ├── InvalidInput             a record or request failed validation; `.errors` lists (field, message)
    │   └── TooManyTexts         a request would embed more texts than its budget allows
    ├── UnknownHost              a host id that is not in the index or store
    ├── UnknownResearcher        a researcher id that is not in the store
    ├── IndexMismatch            an index on disk was built by another model, or is damaged
    ├── AssignmentInfeasible     a batch assignment cannot meet its constraints (says which and by how much)
    └── Overloaded               the work would not finish in time, or the capacity for it is taken: try again
                                 after `.retry_after` seconds (the service answers 503 with Retry-After)

The CLI prints the message and exits non-zero; the HTTP layer maps each class to one status code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class MatcherError(Exception):
    """Base of every error hostmatch raises on purpose."""


class InvalidInput(MatcherError):
    """Input failed validation. `record` says which record (file and position, or id) when known."""

    def __init__(self, errors: Sequence[FieldError], *, record: str | None = None) -> None:
        self.errors = tuple(errors)
        self.record = record
        where = f"{record}: " if record else ""
        super().__init__(where + "; ".join(str(e) for e in self.errors))


class TooManyTexts(InvalidInput):
    """A request needs more texts embedded (those not in a cache) than one request may embed."""

    def __init__(self, *, needed: int, budget: int, field: str) -> None:
        self.needed = needed
        self.budget = budget
        message = f"{needed} texts would have to be embedded; one request may embed at most {budget}"
        super().__init__([FieldError(field, message)])


class UnknownHost(MatcherError):
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        super().__init__(f"no host with id {host_id!r}")


class UnknownResearcher(MatcherError):
    def __init__(self, researcher_id: str) -> None:
        self.researcher_id = researcher_id
        super().__init__(f"no researcher with id {researcher_id!r}")


class IndexMismatch(MatcherError):
    """The index on disk cannot be used with this embedder (other model, dimension, or damaged files)."""


class AssignmentInfeasible(MatcherError):
    """The assignment's constraints cannot all hold; the message names them."""


class Overloaded(MatcherError):
    """Work refused for now because it would not finish within its deadline, or because the capacity for it is
    taken; nothing was stored. `retry_after` is a hint in whole seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[FieldError]:
    """pydantic's errors as (dotted field path, message) pairs, without pydantic's URL noise."""
    return [FieldError(_dotted(prefix, error["loc"]), _clean(error["msg"])) for error in exc.errors()]


def _dotted(prefix: str, loc: Iterable[int | str]) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(part) for part in loc)
    return ".".join(parts)


def _clean(message: str) -> str:
    # pydantic prefixes errors raised by our validators with "Value error, ".
    return message.removeprefix("Value error, ")
