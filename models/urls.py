"""Web addresses of public pages (a programme's official page, a lab's home page).

Kept as the string that was given, not normalised, so a record serialises to the bytes it was read from
(hostmatch compares stored hosts by their JSON). Only http and https are accepted: these addresses are shown
to people as links, and another scheme (javascript:, file:, mailto:) is never a page to visit.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from models.limits import MAX_URL_CHARS as MAX_URL_LENGTH  # defined with every other bound

_EXAMPLE = "https://www.example.ac.jp/lab/"


def check_web_url(value: str) -> str:
    """Validate an http(s) address with a host name; the message says what is wrong and gives an example."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"is {len(value):,} characters long; a web address may have at most {MAX_URL_LENGTH:,}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("contains spaces or control characters; write a space as %20")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"is not a valid web address ({exc})") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError(f"must be a web address starting with https:// or http://, like {_EXAMPLE}")
    if not parts.hostname:
        raise ValueError(f"has no host name; give the whole address, like {_EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    return value


WebUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(check_web_url),
    Field(description=f"An http or https address, at most {MAX_URL_LENGTH} characters, like {_EXAMPLE}."),
]
