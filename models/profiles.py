"""Researcher profiles and host-lab descriptions, validated at the boundary.

Every model forbids unknown fields, so a misspelt key is an error that names it rather than a silently
dropped value. pydantic reports each problem with its location (`publications.2.title`), which the CLI and
the HTTP layer pass on as the field name.

Every value is bounded (`models.limits`: lengths, counts, years, the texts of a profile together), and
texts refuse control and bidirectional formatting characters (`models.text`).

Ids are case-insensitive: they are stored and compared in lower case (`normalise_id`), so "R-CASE" and
"r-case" name one researcher, wherever the id comes from (a body, a path, a file, the command line).

Validation never reads the clock. A stored record is validated again each time it is read, so a rule
against today's date would make yesterday's valid record fail to load tomorrow. Dates are checked against
fixed plausible ranges (`FIRST_YEAR` to `LAST_YEAR`) and against the record's own dates (a PhD awarded
after the desired start is refused); whether a PhD year is still in the future on the day eligibility is
judged is an eligibility rule (`models.eligibility`), where that day is explicit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from models.durations import Days, format_days
from models.limits import (
    FIRST_PUBLICATION_YEAR,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_CAPACITY,
    MAX_COAUTHORS,
    MAX_EMAIL_CHARS,
    MAX_ID_CHARS,
    MAX_KEYWORDS,
    MAX_LANGUAGES,
    MAX_NAME_CHARS,
    MAX_PROFILE_CHARS,
    MAX_PROGRAMMES,
    MAX_PUBLICATIONS,
    MAX_SECTIONS,
    MAX_TEXT_CHARS,
)
from models.programmes import check_programme_id
from models.stages import CareerStage, Position, career_stage
from models.taxonomy import broad_sections_of, normalise_section
from models.text import check_long_text, check_one_line, first_refused, shown
from models.urls import WebUrl

# Sets are written as sorted lists, so a profile has one JSON form: equal profiles serialise to equal bytes
# (hostmatch compares stored hosts by their JSON) and API output does not vary with hash order.
_SORTED = PlainSerializer(lambda values: sorted(str(v) for v in values), return_type=list[str], when_used="json")

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_ID_PUNCTUATION = frozenset("._:-")


def _id_character(ch: str, *, first: bool) -> bool:
    """Whether `ch` may stand in an id (at its start when `first`): an ASCII letter or digit, or . _ : -."""
    return ch.isascii() and (ch.isalnum() or (not first and ch in _ID_PUNCTUATION))


def normalise_id(value: str) -> str:
    """The one form of a host or researcher id: without surrounding spaces, in lower case.

    For ids taken from outside a model (a page's path, the command line, a call's CSV files); the
    `Identifier` type applies it to every id a model reads.
    """
    return value.strip().lower()


def check_id(value: str) -> str:
    """Validate an id and return it normalised (`normalise_id`); the message says what is wrong, in words.

    Raises:
        ValueError: empty, longer than MAX_ID_CHARS, or a character other than letters, digits and . _ : -
            (or not starting with a letter or digit).
    """
    text = value.strip()
    if not text:
        raise ValueError("an id cannot be empty")
    if len(text) > MAX_ID_CHARS:
        raise ValueError(f"is {len(text):,} characters long; an id has at most {MAX_ID_CHARS}")
    if problem := first_refused(text):
        raise ValueError(problem)
    if not _ID_PATTERN.fullmatch(text):
        position, ch = next((i, c) for i, c in enumerate(text, start=1) if not _id_character(c, first=i == 1))
        raise ValueError(
            f"{ch!r} at character {position} is not allowed; an id holds letters, digits and . _ : - "
            "and starts with a letter or digit"
        )
    return normalise_id(text)


Identifier = Annotated[
    str,
    AfterValidator(check_id),
    Field(
        description=(
            f"Letters, digits and . _ : - ; at most {MAX_ID_CHARS} characters. Case does not matter: ids are "
            "stored in lower case."
        ),
        json_schema_extra={"pattern": rf"^[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_ID_CHARS - 1}}}$"},
    ),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS),
    AfterValidator(check_one_line),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(check_long_text),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(check_one_line),
]
CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code, e.g. GB."),
]
LanguageCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 639-1 language code, e.g. en."),
]
ProgrammeId = Annotated[str, AfterValidator(check_programme_id)]


def _section_code(value: Any) -> str:
    """A KAKENHI medium section given as text ("61") or a whole number (61), normalised.

    Raises:
        ValueError: another type of value (an object, a list, true/false...), or not a medium section.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'a section is a code such as "61" (text or a whole number), not {_kind(value)}')
    if isinstance(value, int) and not 0 <= value < 1000:
        raise ValueError(f"{shown(value)} is not a KAKENHI medium section (1-64 or 90)")
    return normalise_section(value)


def _kind(value: Any) -> str:
    """How a JSON value's type is said in a message."""
    kinds: dict[type, str] = {
        bool: "true or false",
        type(None): "null",
        dict: "an object",
        list: "a list",
        float: "a decimal number",
    }
    return next((said for kind, said in kinds.items() if isinstance(value, kind)), f"a {type(value).__name__}")


SectionCode = Annotated[str, BeforeValidator(_section_code), Field(description='KAKENHI medium section, e.g. "61".')]

MAX_INSTITUTION_ALIASES = 10
InstitutionAliases = Annotated[
    tuple[Name, ...],
    Field(
        max_length=MAX_INSTITUTION_ALIASES,
        description=(
            "Other names of the same institution (in another script or language, an abbreviation, a former "
            "name), so that the conflict check recognises it: e.g. 東北大学 for Tohoku University."
        ),
    ),
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str | None) -> str | None:
    if value is None:
        return value
    if len(value) > MAX_EMAIL_CHARS:
        raise ValueError(f"is {len(value):,} characters long; an e-mail address has at most {MAX_EMAIL_CHARS}")
    check_one_line(value)
    if not _EMAIL.match(value):
        raise ValueError(f"{shown(value)} is not an e-mail address")
    return value


def _located_error(model: str, field: str, value: Any, message: str) -> ValidationError:
    """A validation error of one field, raised by a check of the whole record (a model validator) so that the
    message names the field it is about rather than the record."""
    detail = InitErrorDetails(type="value_error", loc=(field,), input=value, ctx={"error": ValueError(message)})
    return ValidationError.from_exception_data(model, [detail])


def _text_chars(main: str, publications: Sequence[Publication]) -> int:
    return len(main) + sum(len(p.title) + len(p.abstract) for p in publications)


def text_volume(record: HostLab | ResearcherProfile) -> tuple[int, int]:
    """How many texts a record has to embed (its statement or description, and each publication) and how many
    characters they hold together (titles and abstracts counted apart)."""
    main = record.description if isinstance(record, HostLab) else record.statement
    return 1 + len(record.publications), _text_chars(main, record.publications)


def _check_text_total(model: str, main: str, publications: Sequence[Publication]) -> None:
    """Refuse a profile whose texts together exceed MAX_PROFILE_CHARS (named as a problem of `publications`,
    the part a sender can shorten)."""
    total = _text_chars(main, publications)
    if total > MAX_PROFILE_CHARS:
        raise _located_error(
            model,
            "publications",
            len(publications),
            f"the texts of this profile (statement or description, titles and abstracts) total {total:,} "
            f"characters; at most {MAX_PROFILE_CHARS:,} are accepted",
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class Publication(_Model):
    title: Title
    abstract: Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(check_long_text)] = ""
    year: int | None = Field(default=None, ge=FIRST_PUBLICATION_YEAR, le=LAST_YEAR)
    coauthors: tuple[Name, ...] = Field(default=(), max_length=MAX_COAUTHORS)

    @property
    def text(self) -> str:
        """The text that is embedded: "title. abstract"."""
        if not self.abstract:
            return self.title
        return f"{self.title.rstrip('.')}. {self.abstract}"


class Fields(_Model):
    """Research fields: KAKENHI medium-section codes and free keywords."""

    sections: tuple[SectionCode, ...] = Field(default=(), max_length=MAX_SECTIONS)
    keywords: tuple[Name, ...] = Field(default=(), max_length=MAX_KEYWORDS)

    @property
    def broad_sections(self) -> frozenset[str]:
        return frozenset(letter for code in self.sections for letter in broad_sections_of(str(code)))


class HostingWindow(_Model):
    """The shortest and longest stay a host accepts."""

    min: Days
    max: Days

    @model_validator(mode="after")
    def _ordered(self) -> HostingWindow:
        if self.min > self.max:
            raise ValueError(f"min ({format_days(self.min)}) is longer than max ({format_days(self.max)})")
        return self

    def __str__(self) -> str:
        return f"{format_days(self.min)} to {format_days(self.max)}"


class HostLab(_Model):
    """A host lab in Japan and what it offers a fellow."""

    id: Identifier
    pi_name: Name
    lab_name: Name
    institution: Name
    institution_aliases: InstitutionAliases = ()
    prefecture: Name
    city: Name
    fields: Fields = Fields()
    description: Text
    publications: tuple[Publication, ...] = Field(default=(), max_length=MAX_PUBLICATIONS)
    capacity: int = Field(ge=0, le=MAX_CAPACITY, description="Places for fellows; 0 means full.")
    accepted_stages: Annotated[frozenset[CareerStage], _SORTED] = Field(min_length=1)
    hosting_window: HostingWindow
    programmes: Annotated[frozenset[ProgrammeId], _SORTED] = Field(min_length=1, max_length=MAX_PROGRAMMES)
    languages: Annotated[frozenset[LanguageCode], _SORTED] = Field(default=frozenset({"en"}), max_length=MAX_LANGUAGES)
    url: WebUrl | None = Field(default=None, description="The lab's public page, if it has one.")

    @model_validator(mode="after")
    def _texts_within_bounds(self) -> HostLab:
        _check_text_total("HostLab", self.description, self.publications)
        return self


class ResearcherProfile(_Model):
    """An overseas researcher looking for a host lab."""

    id: Identifier
    name: Name
    institution: Name
    institution_aliases: InstitutionAliases = ()
    country: CountryCode = Field(description="Where the researcher works now.")
    nationality: CountryCode | None = None
    email: Annotated[str | None, AfterValidator(_check_email)] = None
    fields: Fields = Fields()
    statement: Text = Field(description="Research statement or proposal for the stay.")
    publications: tuple[Publication, ...] = Field(default=(), max_length=MAX_PUBLICATIONS)
    phd: int | Literal["in progress"] = Field(
        description=f"Year the PhD was awarded ({FIRST_YEAR}-{LAST_YEAR}), or 'in progress'."
    )
    phd_expected: int | None = Field(
        default=None, description=f"Expected PhD year while it is in progress ({FIRST_YEAR}-{LAST_YEAR})."
    )
    position: Position
    desired_tenure: Days
    desired_start: dt.date | None = Field(default=None, description=f"A date from {FIRST_YEAR} to {LAST_YEAR}.")
    programmes: Annotated[frozenset[ProgrammeId], _SORTED] = Field(default=frozenset(), max_length=MAX_PROGRAMMES)
    languages: Annotated[frozenset[LanguageCode], _SORTED] = Field(default=frozenset({"en"}), max_length=MAX_LANGUAGES)
    jsps_alumni: bool = False

    @field_validator("phd")
    @classmethod
    def _phd_year_plausible(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not FIRST_YEAR <= value <= LAST_YEAR:
            raise ValueError(
                f"{shown(value)} is not a plausible PhD year; give a year from {FIRST_YEAR} to {LAST_YEAR}, "
                "or 'in progress'"
            )
        return value

    @field_validator("phd_expected")
    @classmethod
    def _expected_only_in_progress(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if info.data.get("phd") != "in progress":
            raise ValueError("only for a PhD that is 'in progress'")
        if not FIRST_YEAR <= value <= LAST_YEAR:
            raise ValueError(
                f"{shown(value)} is not a plausible year for a PhD in progress; give a year from {FIRST_YEAR} "
                f"to {LAST_YEAR}"
            )
        return value

    @field_validator("desired_start")
    @classmethod
    def _start_plausible(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValueError(
                f"{value.isoformat()} is not a plausible start; give a date from {FIRST_YEAR} to {LAST_YEAR}"
            )
        return value

    @model_validator(mode="after")
    def _dates_and_texts_agree(self) -> ResearcherProfile:
        if isinstance(self.phd, int) and self.desired_start is not None and self.phd > self.desired_start.year:
            raise _located_error(
                "ResearcherProfile",
                "phd",
                self.phd,
                f"{self.phd} is after the desired start ({self.desired_start.isoformat()}); a PhD not yet "
                f"awarded by then is 'in progress', with phd_expected {self.phd}",
            )
        _check_text_total("ResearcherProfile", self.statement, self.publications)
        return self

    @property
    def phd_year(self) -> int | None:
        return self.phd if isinstance(self.phd, int) else None

    def stage(self, *, on: dt.date | None = None) -> CareerStage:
        """Career stage on a date (default today: the caller's date, never part of validation); see
        models.stages for the mapping."""
        return career_stage(self.phd_year, self.position, on=on or dt.date.today())
