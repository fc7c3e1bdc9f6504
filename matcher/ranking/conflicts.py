"""Conflicts of interest between a researcher and a host. Pure functions over profiles.

A host is in conflict with a researcher when any of these holds:

- same institution: the researcher works where the lab is (a fellowship is for going abroad);
- co-authorship: the researcher is a co-author on the lab's listed publications, or the lab's PI is a
  co-author on the researcher's;
- explicit exclusion: staff or the researcher listed the host.

**Folding.** Names are compared after `fold`: NFKC, case folding, accents and strokes removed from Latin
letters (Núñez, Łukasz, Øresund), every script's letters, digits and marks kept (東北大学, 김민수, Иванов),
anything else a space. A name without a letter or digit (emoji, punctuation) folds to itself, stripped, so
it equals only the same text; no name folds to nothing.

**Institutions** are the same place when their names lead to the same entry of the alias table
(models/institutions.toml: Japanese and English names, abbreviations, former names; "東北大学" = "Tohoku
University", "Tokyo Tech" = "Institute of Science Tokyo"), else when their folded names are equal. A
profile's own `institution_aliases` count as its institution too.

**People.** A name's keys, compared as sets (one shared key is a conflict):

- as today for Latin names: the folded name, and its first initial + last word, so "K. Tanaka" and "Kenji
  Tanaka" are one person for this purpose. That errs towards excluding, the safe side for conflicts;
- in any order: the words sorted, so "Kenichi Sato" = "Sato Kenichi" = "SATO Kenichi" (Japanese, Chinese
  and Korean names are often written family name first);
- Hepburn variants folded in words that read as romaji: ō/ou/oo/oh -> o, ū/uu -> u, n' -> n, m before b/p/m
  -> n, apostrophes and hyphens dropped (Satō = Satou = Satoh = Sato, Ken'ichi = Ken-ichi = Kenichi);
  "SATO Kenichi" and "Sato, Kenichi" say which word is the family name, so their initial key is "k sato";
- Japanese script (kanji, kana) read as romaji by cutlet (UniDic's readings; it tags family and given
  names, so 佐藤 健一 -> "sato kenichi" and "k sato"), besides the name as written without spaces (佐藤健一).

Limitations. A kanji name has several possible readings and the dictionary picks one (翔太 is read right;
rarer given names may not be), so a conflict can be missed, never invented by a wrong reading of one side
alone. Chinese names in hanzi are read as Japanese (張 偉 -> "chou i", not "Zhang Wei"), and characters
Japanese lacks (simplified 伟) have no reading: such names match only the same characters, so a Chinese
co-author written once in hanzi and once in pinyin is not recognised. Hangul is not romanised. Different
kanji with one reading (佐藤 健一, 佐藤 憲一) become one key, as "Kenichi Sato" is for both.

Speed. Keys are built once per profile (`host_keys`, `researcher_keys`; the engine keeps the hosts'), so
romanising runs once per name, never per pair; `conflict_between` only intersects small sets.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from models.institutions import alias_index, institutions
from models.profiles import HostLab, Publication, ResearcherProfile

SAME_INSTITUTION = "same institution"
CO_AUTHORSHIP = "co-authorship"
EXCLUDED = "excluded by request"

# -- folding -----------------------------------------------------------------------------------------------

# Latin letters that carry their "accent" inside the letter (no decomposition), as lower case after casefold.
_LATIN_STROKES = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ƀ": "b", "ɨ": "i", "ƶ": "z", "ŀ": "l"}
    | {"æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ŋ": "n"}
)
_APOSTROPHES = frozenset("'’‘ʼ`´′")
_HYPHENS = frozenset("-‐‑‒–—")
_ASCII_OTHER = re.compile(r"[^a-z0-9]+")
_ASCII_OTHER_KEEP_JOINERS = re.compile(r"[^a-z0-9'-]+")


def _is_latin(ch: str) -> bool:
    if ch < "\u0250":  # ASCII, Latin-1, Latin Extended-A and -B
        return True
    if "\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af":  # kana, kanji, Hangul: no name look-up
        return False
    return unicodedata.name(ch, "").startswith("LATIN")


def _fold_text(text: str, *, joiners: bool) -> str:
    """NFKC, casefold, Latin accents removed, every non-letter/digit/mark a space (apostrophes and hyphens
    kept as ' and - with `joiners`); words joined by single spaces. May be empty."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if text.isascii():
        return " ".join((_ASCII_OTHER_KEEP_JOINERS if joiners else _ASCII_OTHER).sub(" ", text).split())
    out: list[str] = []
    # A combining mark is kept only on a kept letter or digit of another script (a vowel sign, a voicing
    # mark): on a Latin letter it is an accent, and on a symbol or space it would be left alone.
    keep_marks = False
    for ch in unicodedata.normalize("NFD", text):
        kind = unicodedata.category(ch)[0]
        if kind == "M":
            if keep_marks:
                out.append(ch)
        elif kind in "LN":
            keep_marks = not _is_latin(ch)
            out.append(ch)
        else:
            keep_marks = False
            if joiners and ch in _APOSTROPHES:
                out.append("'")
            elif joiners and ch in _HYPHENS:
                out.append("-")
            else:
                out.append(" ")
    # NFC puts Hangul syllables and kana with their voicing marks back together.
    return " ".join(unicodedata.normalize("NFC", "".join(out)).translate(_LATIN_STROKES).split())


def fold(text: str) -> str:
    """`text` as names are compared: NFKC, casefolded, Latin letters without accents, every script's letters
    and digits kept, anything else a space. A text with no letter or digit folds to itself, stripped, so that
    no name folds to nothing and two such names are equal only when they are the same."""
    return _fold_text(text, joiners=False) or text.strip()


# -- scripts -----------------------------------------------------------------------------------------------

_JAPANESE = "japanese"  # kanji and kana: romanised, and compared without spaces
_LATIN = "latin"
_ALPHABETIC = frozenset({_LATIN, "cyrillic", "greek", "armenian", "georgian"})  # scripts with initials
_UNSPACED = frozenset({_JAPANESE, "hangul"})  # family and given names often written together
_JAPANESE_NAMES = ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC", "HALFWIDTH")
_JAPANESE_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヵヶ"


def _script(ch: str) -> str:
    """The script of a letter or digit: latin, japanese (kanji or kana), or the first word of its Unicode
    name in lower case (hangul, cyrillic, arabic, ...). Digits count as Latin."""
    if ch.isascii():
        return _LATIN
    if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff":  # kana and common kanji, without a look-up
        return _JAPANESE
    first = unicodedata.name(ch, "").split(" ", 1)[0]
    if first in _JAPANESE_NAMES:
        return _JAPANESE
    if first == "LATIN" or unicodedata.category(ch) == "Nd":
        return _LATIN
    return first.lower() or "unknown"


def _script_of(word: str) -> str:
    return next((_script(ch) for ch in word if ch.isalnum()), _LATIN)


# -- romaji ------------------------------------------------------------------------------------------------

# A word that reads as romaji: morae (k+a, ky+a, sh+i, ts+u, ...), the moraic n (n, n'), a doubled consonant,
# m before b/p/m (Homma), and a long-vowel h after o (Satoh, Ohno).
_ROMAJI_WORD = re.compile(
    r"(?:(?:[kgnhbpmr]y|sh|ch|ts|[kgsztdnhbpmrwyfjv])?[aeiou]|n'|n(?![aeiouy])|-"
    r"|k(?=k)|s(?=s)|t(?=t|ch)|p(?=p)|g(?=g)|d(?=d)|b(?=b)|z(?=z)|j(?=j)|f(?=f)|c(?=ch)|m(?=[bpm])"
    r"|(?<=o)h(?![aeiouy]))+"
)
# One pass over a romaji word: apostrophes and hyphens dropped, a long o (oh before a consonant, oo, ou) as o,
# uu as u, m before b/p/m as n.
_HEPBURN_VARIANT = re.compile(r"['-]|oh(?![aeiouy])|o[ou]|uu|m(?=[bpm])")
_HEPBURN_SPELLING = {"'": "", "-": "", "oh": "o", "oo": "o", "ou": "o", "uu": "u", "m": "n"}


def _hepburn(word: str) -> str:
    """One spelling for the Hepburn variants of a romaji word: Satō/Satou/Satoh/Sato -> sato."""
    return _HEPBURN_VARIANT.sub(lambda m: _HEPBURN_SPELLING[m.group()], word)


def _words(token: str) -> list[str]:
    """A folded token (with ' and -) as today's fold splits it: on apostrophes and hyphens."""
    if "'" not in token and "-" not in token:
        return [token]
    return [w for w in re.split(r"['-]+", token) if w]


def _reading(token: str) -> list[str]:
    """A folded token's words for comparison across spellings: a romaji word as one Hepburn-folded word
    (Ken'ichi -> kenichi), any other token split as today (O'Brien -> o, brien)."""
    if token.isascii() and _ROMAJI_WORD.fullmatch(token) and token.strip("'-"):
        return [_hepburn(token)]
    return _words(token)


class _Romaniser:
    """cutlet over UniDic (lite), loaded at the first Japanese name; one tagger, used under a lock."""

    def __init__(self) -> None:
        import cutlet  # imported here: a process that never sees a Japanese name never loads the dictionary

        self._katsu: Any = cutlet.Cutlet(use_foreign_spelling=True)
        self._lock = threading.Lock()

    def read(self, text: str) -> tuple[list[str], list[str]] | None:
        """Romaji words of a Japanese name and, for each, "family", "given" or "" as UniDic tags it; None when
        a character has no reading (a simplified hanzi, say)."""
        words: list[str] = []
        roles: list[str] = []
        with self._lock:
            nodes = self._katsu.tagger(text)
            tokens = self._katsu.romaji_tokens(nodes, capitalize=False)
            for node, token in zip(nodes, tokens, strict=True):
                feature = node.feature
                if feature.pos1 == "補助記号":  # punctuation such as ・ separates words
                    words.append("")
                    roles.append("")
                    continue
                roma = str(token.surface).casefold()
                if not roma or "?" in roma:
                    return None
                role = {"姓": "family", "名": "given"}.get(feature.pos4, "") if feature.pos3 == "人名" else ""
                same_word = words and words[-1] and not node.white_space and role == roles[-1]
                if same_word:
                    words[-1] += roma
                else:
                    words.append(roma)
                    roles.append(role)
        kept = [(w, r) for w, r in zip(words, roles, strict=True) if w]
        return [w for w, _ in kept], [r for _, r in kept]


@cache
def _romaniser() -> _Romaniser:
    return _Romaniser()


# -- person names ------------------------------------------------------------------------------------------


def _initial_key(given: str, family: str) -> str:
    return f"{given[0]} {family}"


def _tokens(name: str) -> list[str]:
    return _fold_text(name, joiners=True).split()


def _by_script(tokens: list[str]) -> Iterable[tuple[str, list[str]]]:
    """A name's tokens grouped by script, in order of first appearance: "Kenji Tanaka 田中 健二" is read as
    two names, "Kenji Tanaka" and "田中 健二"."""
    if all(t.isascii() for t in tokens):
        return [(_LATIN, tokens)] if tokens else []
    groups: dict[str, list[str]] = {}
    for token in tokens:
        groups.setdefault(_script_of(token), []).append(token)
    return groups.items()


def _family_first(name: str) -> tuple[str, str] | None:
    """(given, family) when a Latin name says which word is the family name: "SATO Kenichi" (the family name
    in capitals, another word not) or "Sato, Kenichi" (family name before the comma)."""
    text = unicodedata.normalize("NFKC", name)
    if "," not in text and not any(word.isupper() for word in text.split()):
        return None  # the common case, checked cheaply
    if text.count(",") == 1:
        family_part, given_part = text.split(",")
        family = [w for t in _tokens(family_part) for w in _reading(t)]
        given = [w for t in _tokens(given_part) for w in _reading(t)]
        if family and given and all(_script_of(w) == _LATIN for w in family + given):
            return given[0], family[-1]
    raw = text.split()
    capitals = [w for w in raw if sum(c.isalpha() for c in w) >= 2 and w.isupper()]
    others = [w for w in raw if not w.isupper() and any(c.isalpha() for c in w)]
    if capitals and others:
        family = [w for t in _tokens(capitals[-1]) for w in _reading(t)]
        given = [w for t in _tokens(others[0]) for w in _reading(t)]
        if family and given and _script_of(family[0]) == _script_of(given[0]) == _LATIN:
            return given[0], family[-1]
    return None


def _written_keys(script: str, tokens: list[str]) -> set[str]:
    """Today's keys, for the words of one script: the folded name and, for an alphabetic script, first initial
    + last word; Japanese and Hangul also without spaces."""
    words = [w for t in tokens for w in _words(t)]
    if not words:
        return set()
    keys = {" ".join(words)}
    if script in _UNSPACED:
        keys.add("".join(words))
    if len(words) >= 2 and script in _ALPHABETIC:
        keys.add(_initial_key(words[0], words[-1]))
    return keys


def _reading_keys(words: list[str], *, initials: bool) -> set[str]:
    """Keys of a name's words in any order: the words sorted and, in an alphabetic script, first initial +
    last word (today's rule)."""
    if not words:
        return set()
    keys = {" ".join(sorted(words))}
    if initials and len(words) >= 2:
        keys.add(_initial_key(words[0], words[-1]))
    return keys


def _japanese_keys(tokens: list[str]) -> set[str]:
    """Keys of a name in kanji or kana from its romaji reading: the words sorted and, when UniDic tags the
    family and given names, given initial + family name."""
    read = _romaniser().read(" ".join(tokens))
    if read is None:
        return set()
    words, roles = read
    folded = [w for word in words for t in _tokens(word) for w in _reading(t)]
    if not folded:
        return set()
    keys = {" ".join(sorted(folded))}
    if sorted(roles) == ["family", "given"]:
        family, given = (_hepburn(w) for w in (words if roles[0] == "family" else words[::-1]))
        if family and given:
            keys.add(_initial_key(given, family))
    return keys


def name_keys(name: str) -> set[str]:
    """Every key a person's name is known by (two names are one person when they share a key).

    Per script of the name's words: today's keys in any order (the folded words sorted; first initial + last
    word in alphabetic scripts), again with Hepburn variants folded; given initial + family name where the
    name shows which is which; for kanji and kana the romaji reading's keys and the name without spaces.
    A name with no letter or digit has one key, itself stripped.
    """
    keys: set[str] = set()
    for script, tokens in _by_script(_tokens(name)):
        words = [w for t in tokens for w in _words(t)]
        keys |= _reading_keys(words, initials=script in _ALPHABETIC)
        if script in _UNSPACED:
            keys.add("".join(words))
        if script == _LATIN:
            read = [w for t in tokens for w in _reading(t)]
            if read != words:
                keys |= _reading_keys(read, initials=True)
            named = _family_first(name)
            if named is not None:
                keys.add(_initial_key(*named))
        elif script == _JAPANESE:
            keys |= _japanese_keys(tokens)
    return keys or {fold(name)}


def _same_as_written(a: str, b: str) -> bool:
    """Whether two names share one of today's keys (no reading, order or spelling variant needed)."""

    def written(name: str) -> set[str]:
        return {k for script, tokens in _by_script(_tokens(name)) for k in _written_keys(script, tokens)}

    return bool(written(a) & written(b)) or fold(a) == fold(b)


# -- institutions ------------------------------------------------------------------------------------------

_CORPORATE_PREFIXES = (
    "国立大学法人",
    "国立研究開発法人",
    "独立行政法人",
    "大学共同利用機関法人",
    "公立大学法人",
    "学校法人",
    "national university corporation ",
)
_ABBREVIATED = {"univ": "university", "inst": "institute", "natl": "national"}
_JAPANESE_GAP = re.compile(f"(?<=[{_JAPANESE_CHARS}]) (?=[{_JAPANESE_CHARS}])")
_PARENTHESES = re.compile(r"\([^()]*\)")


def _institution_fold(name: str) -> str:
    """A name folded for institutions: `fold`, "&" as "and", "Univ." as "University", a leading "the" and a
    corporate prefix (国立大学法人, ...) dropped, no spaces between Japanese characters."""
    words = fold(unicodedata.normalize("NFKC", name).replace("&", " and ")).split()
    folded = " ".join(_ABBREVIATED.get(w, w) for w in words).removeprefix("the ")
    folded = _JAPANESE_GAP.sub("", folded)
    for prefix in _CORPORATE_PREFIXES:
        folded = folded.removeprefix(prefix).strip()
    return folded or fold(name)


@cache
def _aliases() -> Mapping[str, str]:
    """Each folded name of the alias table -> its institution's id (loaded once per process)."""
    return {key: entry.id for key, entry in alias_index(institutions(), _institution_fold).items()}


def institution_key(name: str) -> str:
    """What two institutions are compared by: "@" + the alias table's id for a name it knows (also without a
    parenthesised part: "National Institute for Materials Science (NIMS)", or with a final 学 added:
    東北大), else the folded name (today's rule)."""
    aliases = _aliases()
    folded = _institution_fold(name)
    text = unicodedata.normalize("NFKC", name)
    bare = _institution_fold(_PARENTHESES.sub(" ", text)) if "(" in text else ""
    for candidate in (folded, bare, folded + "学" if folded.endswith("大") else ""):
        found = aliases.get(candidate)
        if found is not None:
            return f"@{found}"
    return folded


# -- keys and checks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """What conflict checks compare, folded once per profile: institution (and its aliases), own name,
    co-authors (each key -> the co-author as first written, to name in a reason)."""

    id: str
    name: str
    institution: str
    institution_aliases: tuple[str, ...]
    institution_keys: frozenset[str]
    name_keys: frozenset[str]
    coauthors: Mapping[str, str] = field(compare=False)


def host_keys(host: HostLab) -> Keys:
    return _keys(host.id, host.pi_name, host.institution, host.institution_aliases, host.publications)


def researcher_keys(researcher: ResearcherProfile) -> Keys:
    return _keys(
        researcher.id, researcher.name, researcher.institution, researcher.institution_aliases, researcher.publications
    )


def _keys(
    profile_id: str, name: str, institution: str, aliases: tuple[str, ...], publications: Iterable[Publication]
) -> Keys:
    coauthors: dict[str, str] = {}
    for coauthor in dict.fromkeys(a for pub in publications for a in pub.coauthors):  # each name once
        for key in name_keys(coauthor):
            coauthors.setdefault(key, coauthor)
    return Keys(
        profile_id,
        name,
        institution,
        aliases,
        frozenset(institution_key(n) for n in (institution, *aliases)),
        frozenset(name_keys(name)),
        coauthors,
    )


def _same_institution(researcher: Keys, host: Keys) -> str:
    """The reason for a shared institution key: "both at X" when the names fold alike, else both forms."""
    shared = min(researcher.institution_keys & host.institution_keys)  # min: the same answer in every run
    mine = next(n for n in (researcher.institution, *researcher.institution_aliases) if institution_key(n) == shared)
    theirs = next(n for n in (host.institution, *host.institution_aliases) if institution_key(n) == shared)
    if _institution_fold(mine) == _institution_fold(theirs):
        return f"both at {host.institution}"
    return f"{mine} = {theirs}"


def _coauthored(person: str, person_keys: frozenset[str], coauthors: Mapping[str, str], of: str) -> str:
    """The reason for a co-author match: today's sentence when the names are written alike, else both forms."""
    written = coauthors[min(k for k in person_keys if k in coauthors)]  # min: the same answer in every run
    if _same_as_written(person, written):
        return f"{person} co-authored a publication of {of}"
    return f"{person} = {written}, a co-author of a publication of {of}"


def conflict_between(researcher: Keys, host: Keys, *, excluded_hosts: Collection[str] = ()) -> tuple[str, str] | None:
    """(kind, detail) of the first conflict found between pre-folded keys, or None."""
    if host.id in excluded_hosts:
        return EXCLUDED, f"{host.id} is on the exclusion list"
    if not researcher.institution_keys.isdisjoint(host.institution_keys):
        return SAME_INSTITUTION, _same_institution(researcher, host)
    if any(key in host.coauthors for key in researcher.name_keys):
        return CO_AUTHORSHIP, _coauthored(researcher.name, researcher.name_keys, host.coauthors, "the lab")
    if any(key in researcher.coauthors for key in host.name_keys):
        return CO_AUTHORSHIP, _coauthored(host.name, host.name_keys, researcher.coauthors, researcher.name)
    return None
