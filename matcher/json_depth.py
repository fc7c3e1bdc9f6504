"""How deeply a JSON document nests, found without parsing it.

Python's `json` parser recurses once per nested array or object, so a document nested 10,000 deep raises
RecursionError while it is parsed, in whatever code parses it. `check_json_depth` refuses such a document
first, with a linear scan of the raw text: strings are removed (with their escapes, so a bracket inside a
string does not count), then the brackets left are counted. A 1 MiB body takes about 20 ms at worst.

The scan does not validate the JSON: a document it accepts may still be invalid, and the parser says so.
`load_json` does both, for the files hostmatch reads (records, publications, a call's inputs).
"""

from __future__ import annotations

import json
import re
from typing import Any

from models.limits import MAX_JSON_DEPTH

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth_exceeds(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in `data` nest more than `limit` deep at any point.

    Args:
        data: the raw JSON text (bytes as received, or str).
        limit: the deepest nesting allowed; `[]` is depth 1, `{"a": [1]}` depth 2.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPENING else -1
        if depth > limit:
            return True
    return False


def check_json_depth(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` before anything parses it.

    Raises:
        ValueError: the message states the limit.
    """
    if json_depth_exceeds(data, limit):
        raise ValueError(f"arrays and objects are nested more than {limit} levels deep; the limit is {limit}")


def load_json(text: str | bytes) -> Any:
    """Parse JSON text after checking its depth.

    Raises:
        ValueError: nested deeper than MAX_JSON_DEPTH, not valid JSON (with the line), or a number the parser
            refuses (more than 4,300 digits); the message says which, without the text itself.
    """
    check_json_depth(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno}" if "\n" in str(exc.doc) else ""  # one-line texts: the caller says where
        raise ValueError(exc.msg + where) from exc
