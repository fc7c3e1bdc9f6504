"""The choices the pages offer (countries, languages, positions, programmes, sections, regions), named in the
interface language. Country and language names come from Babel's CLDR data, so they are right in Japanese
too; programme names from the programme data (`name_ja` as JSPS writes them)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from babel import Locale
from flask_babel import get_locale, gettext, lazy_gettext

from models.programmes import Programme, programmes
from models.regions import REGIONS
from models.stages import Position
from models.taxonomy import BROAD_SECTIONS, MEDIUM_SECTIONS, medium_sections_in

# The languages a lab or applicant most often works in here; a profile's other languages are shown too.
COMMON_LANGUAGES = ("en", "ja", "zh", "ko", "fr", "de", "es", "it", "pt", "ru", "id", "vi", "th", "hi", "ar")

POSITIONS = {
    Position.DOCTORAL_STUDENT: lazy_gettext("Doctoral student"),
    Position.POSTDOC: lazy_gettext("Postdoctoral researcher"),
    Position.RESEARCH_FELLOW: lazy_gettext("Research fellow"),
    Position.RESEARCH_SCIENTIST: lazy_gettext("Research scientist"),
    Position.LECTURER: lazy_gettext("Lecturer"),
    Position.ASSISTANT_PROFESSOR: lazy_gettext("Assistant professor"),
    Position.ASSOCIATE_PROFESSOR: lazy_gettext("Associate professor"),
    Position.SENIOR_RESEARCH_SCIENTIST: lazy_gettext("Senior research scientist"),
    Position.PROFESSOR: lazy_gettext("Professor"),
    Position.EMERITUS_PROFESSOR: lazy_gettext("Emeritus professor"),
    Position.GROUP_LEADER: lazy_gettext("Group leader"),
    Position.DIRECTOR: lazy_gettext("Director"),
    Position.OTHER: lazy_gettext("Other"),
}

COMPONENTS = {
    "topic": lazy_gettext("Research topic"),
    "stage": lazy_gettext("Career stage"),
    "tenure": lazy_gettext("Length of stay"),
    "field": lazy_gettext("Field"),
    "practical": lazy_gettext("Practicalities"),
}

EXCLUSION_REASONS = {
    "same institution": lazy_gettext("same institution as yours"),
    "co-authorship": lazy_gettext("you have published together"),
    "excluded by request": lazy_gettext("left out on request"),
    "no places left": lazy_gettext("no places left"),
}


_GROUPS = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB", "XK"})  # CLDR's unions, pseudo and unknown codes


def _code() -> str:
    locale = get_locale()
    return str(locale.language) if locale else "en"


@cache
def _countries(language: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(language).territories
    pairs = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha() and code not in _GROUPS]
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


def countries() -> tuple[tuple[str, str], ...]:
    """(ISO 3166 code, name) for every country, sorted by name in the interface language."""
    return _countries(_code())


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return dict(countries()).get(code.upper(), code)


def languages(extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(ISO 639-1 code, name) for the common languages and any `extra` ones, in that order."""
    names = Locale.parse(_code()).languages
    codes = list(dict.fromkeys((*COMMON_LANGUAGES, *extra)))
    return [(code, names.get(code, code)) for code in codes]


def language_name(code: str) -> str:
    return str(Locale.parse(_code()).languages.get(code, code))


def programme_name(programme: Programme | str) -> str:
    """A programme's name in the interface language."""
    if isinstance(programme, str):
        found = programmes().get(programme)
        if found is None:
            return programme
        programme = found
    return programme.name_ja if _code() == "ja" else programme.name


def programme_choices() -> list[tuple[str, str]]:
    return [(p.id, programme_name(p)) for p in programmes().values()]


def section_choices() -> list[tuple[str, str]]:
    """Medium sections grouped under their broad letter: ("61", "J · 61 Human informatics")."""
    choices = []
    for letter in BROAD_SECTIONS:
        for code in medium_sections_in(letter):
            if letter == "I" and code == "90":
                continue  # 90 is listed once, under D
            choices.append((code, f"{letter} · {code} {MEDIUM_SECTIONS[code]}"))
    return choices


def section_filter_choices() -> list[tuple[str, str]]:
    """Broad letters and medium codes, for filters that take either."""
    choices: list[tuple[str, str]] = []
    broad = gettext("Broad section %(letter)s (all)", letter="{letter}")
    for letter in BROAD_SECTIONS:
        choices.append((letter, broad.replace("{letter}", letter)))
        choices.extend(
            (code, f"  {code} {MEDIUM_SECTIONS[code]}")
            for code in medium_sections_in(letter)
            if not (letter == "I" and code == "90")
        )
    return choices


def card_labels(mine: str, theirs: str) -> dict[str, Any]:
    """Every word the score cards (_cards.html) show, translated once for a whole page rather than once per
    card: a results page of ten labs asked for ~200 translations, a quarter of its rendering time."""
    return {
        "components": {name: str(label) for name, label in COMPONENTS.items()},
        "programmes": dict(programme_choices()),
        "caption": gettext("How the score is made"),
        "pair": gettext("Programmes for this pair:"),
        "no_programme": gettext("none in common"),
        "why": gettext("Why: the closest texts"),
        "terms": gettext("Shared terms:"),
        "score": gettext("Score, 0 to 1"),
        "shortlist": gettext("Shortlist"),
        "multilingual": gettext("(compared across languages by the multilingual encoder)"),
        "mine": mine,
        "theirs": theirs,
    }


def regions() -> list[tuple[str, str]]:
    return [(region, region) for region in REGIONS]


def prefectures() -> list[tuple[str, str]]:
    return [(p, p) for p in sorted(p for members in REGIONS.values() for p in members)]
