"""Characters hostmatch refuses in what people give it: control characters and bidirectional formatting.

Refused everywhere a person's text is accepted:

- C0 and C1 control characters (U+0000–U+001F, U+007F–U+009F), NUL among them. Long texts (a research
  statement, a lab description, an abstract) may hold tab, line feed and carriage return; one-line texts
  (ids, names, institutions, places, titles, keywords, co-authors, e-mail addresses) none at all.
- The bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, which make text
  display in another order than it is stored (a name that reads one way and sorts another).
- Lone surrogates (U+D800–U+DFFF), which JSON's \\u escapes can produce but no text encoding can store.

The choice is to refuse, not to strip: the message says which character and where ("contains a control
character (U+0000 NULL) at character 4"), so the sender can fix their data, and what hostmatch stores is
exactly what it was sent. Stripping would store something the sender never wrote, and hide the problem
from them.
"""

from __future__ import annotations

import math
import unicodedata

LINE_BREAKS = frozenset("\t\n\r")
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Names of the C0 and C1 controls, which unicodedata does not have.
_CONTROL_NAMES = {0x00: "NULL", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE"}


def _refused(ch: str, *, line_breaks: bool) -> str | None:
    """What kind of refused character `ch` is, or None when it is allowed."""
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return None if line_breaks and ch in LINE_BREAKS else "a control character"
    if ch in _BIDI:
        return "a bidirectional formatting character"
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate, which is not a character"
    return None


def _describe(ch: str) -> str:
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "")
    return f"U+{code:04X} {name}" if name else f"U+{code:04X}"


def first_refused(value: str, *, line_breaks: bool = False) -> str | None:
    """A sentence naming the first refused character of `value` and its position, or None when there is none.

    Args:
        value: the text.
        line_breaks: whether tab, line feed and carriage return are allowed (long texts).
    """
    if value.isprintable() or (line_breaks and all(ch.isprintable() or ch in LINE_BREAKS for ch in value)):
        return None  # the common case, checked at C speed
    for position, ch in enumerate(value, start=1):
        kind = _refused(ch, line_breaks=line_breaks)
        if kind is not None:
            return f"contains {kind} ({_describe(ch)}) at character {position}; remove it"
    return None


def without_refused(value: str, *, line_breaks: bool = False) -> str:
    """`value` with every character `first_refused` would name dropped (a tab or line break becomes a space
    when they are not allowed): for third-party text read as it is, such as mojibake in a data set's titles."""
    if first_refused(value, line_breaks=line_breaks) is None:
        return value
    kept = (("" if ch not in LINE_BREAKS else " ") if _refused(ch, line_breaks=line_breaks) else ch for ch in value)
    return "".join(kept)


def check_one_line(value: str) -> str:
    """Validator: refuse any control character (tab and line breaks included) or bidirectional formatting.

    Raises:
        ValueError: the message names the character and where it is.
    """
    problem = first_refused(value)
    if problem:
        raise ValueError(problem)
    return value


def check_long_text(value: str) -> str:
    """Validator: as `check_one_line`, but tab, line feed and carriage return are allowed.

    Raises:
        ValueError: the message names the character and where it is.
    """
    problem = first_refused(value, line_breaks=True)
    if problem:
        raise ValueError(problem)
    return value


def cut(text: str, *, limit: int = 40) -> str:
    """`text` cut to `limit` characters (the last one an ellipsis), so a message never echoes a huge input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, *, limit: int = 40) -> str:
    """`value` as a message quotes it: its repr, cut to `limit` characters."""
    if isinstance(value, int) and value.bit_length() > 64:  # repr() refuses ints beyond 4,300 digits
        return f"about {'-' if value < 0 else ''}10^{int(value.bit_length() * math.log10(2))}"
    return cut(repr(value), limit=limit)
