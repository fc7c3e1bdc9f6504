"""Word search over host labs: which labs mention every word of a query.

A lab matches when each word of the query occurs in its lab name, PI name, institution, prefecture, city,
keywords or description (a word may be found in one field and the next word in another). Both sides are
folded the same way before comparing, so the search ignores case, accents and Unicode width:

- NFKC, so full-width "ＡＢＣ" and half-width "ｶﾀｶﾅ" compare as "ABC" and "カタカナ";
- casefold, so "STRASSE" finds "Straße";
- the marks of the Combining Diacritical Marks blocks are dropped, so "kyoto" finds "Kyōto" and "muller"
  finds "Müller". The kana voicing marks (゛ ゜) are not among them, so "か" does not find "が".

Words are the whitespace-separated parts of the query, and a word matches any part of a text ("quake"
finds "earthquake"): Japanese is written without spaces, so "地震 京都" finds a lab whose description has
"京都大学の地震研究所".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from models.limits import MAX_QUERY_CHARS as MAX_QUERY_CHARS  # defined with every other bound
from models.limits import MAX_QUERY_WORDS as MAX_QUERY_WORDS
from models.profiles import HostLab

_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """`text` as the search compares it: NFKC, casefolded, without combining diacritical marks."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", folded)))


@dataclass(frozen=True)
class WordQuery:
    """The folded words of a search; a text matches when it contains every one."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, q: str) -> WordQuery:
        """Split and fold a query. A blank query has no words and matches every text.

        Raises:
            ValueError: the query is longer than MAX_QUERY_CHARS characters or has more than MAX_QUERY_WORDS
                words (the message says which, in words fit to show beside the search box).
        """
        if len(q) > MAX_QUERY_CHARS:
            raise ValueError(f"the search is {len(q)} characters long; at most {MAX_QUERY_CHARS} are allowed")
        words = tuple(dict.fromkeys(fold(q).split()))  # each word once, in the order given
        if len(words) > MAX_QUERY_WORDS:
            raise ValueError(f"the search has {len(words)} words; at most {MAX_QUERY_WORDS} are allowed")
        return cls(words)

    def matches(self, folded_text: str) -> bool:
        """Whether a text folded by `fold` (e.g. `search_text(host)`) contains every word."""
        return all(word in folded_text for word in self.words)


def search_text(host: HostLab) -> str:
    """The folded text a word search looks in: the searched fields, one a line (no word spans two)."""
    parts: Iterable[str] = (
        host.lab_name,
        host.pi_name,
        host.institution,
        host.prefecture,
        host.city,
        *host.fields.keywords,
        host.description,
    )
    return fold("\n".join(parts))
