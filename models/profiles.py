"""Researcher profiles and host-lab descriptions, validated at the boundary.

Every model forbids unknown fields, so a misspelt key is an error that names it rather than a silently
dropped value. pydantic reports each problem with its location (`publications.2.title`), which the CLI and
the HTTP layer pass on as the field name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.durations import Days, format_days
from models.programmes import check_programme_id
from models.stages import CareerStage, Position, career_stage
from models.taxonomy import broad_sections_of, normalise_section
from models.urls import WebUrl

# Sets are written as sorted lists, so a profile has one JSON form: equal profiles serialise to equal bytes
# (hostmatch compares stored hosts by their JSON) and API output does not vary with hash order.
_SORTED = PlainSerializer(lambda values: sorted(str(v) for v in values), return_type=list[str], when_used="json")

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(description="Letters, digits and . _ : - ; at most 64 characters."),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
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
SectionCode = Annotated[
    str, BeforeValidator(normalise_section), Field(description='KAKENHI medium section, e.g. "61".')
]

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
    if value is not None and not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Publication(_Model):
    title: Text
    abstract: str = Field(default="", max_length=20_000)
    year: int | None = Field(default=None, ge=1900, le=2100)
    coauthors: tuple[Name, ...] = ()

    @property
    def text(self) -> str:
        """The text that is embedded: "title. abstract"."""
        if not self.abstract:
            return self.title
        return f"{self.title.rstrip('.')}. {self.abstract}"


class Fields(_Model):
    """Research fields: KAKENHI medium-section codes and free keywords."""

    sections: tuple[SectionCode, ...] = ()
    keywords: tuple[Name, ...] = ()

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
    publications: tuple[Publication, ...] = ()
    capacity: int = Field(ge=0, le=1000, description="Places for fellows; 0 means full.")
    accepted_stages: Annotated[frozenset[CareerStage], _SORTED] = Field(min_length=1)
    hosting_window: HostingWindow
    programmes: Annotated[frozenset[ProgrammeId], _SORTED] = Field(min_length=1)
    languages: Annotated[frozenset[LanguageCode], _SORTED] = frozenset({"en"})
    url: WebUrl | None = Field(default=None, description="The lab's public page, if it has one.")


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
    publications: tuple[Publication, ...] = ()
    phd: int | Literal["in progress"] = Field(description="Year the PhD was awarded, or 'in progress'.")
    phd_expected: int | None = Field(default=None, description="Expected PhD year while it is in progress.")
    position: Position
    desired_tenure: Days
    desired_start: dt.date | None = None
    programmes: Annotated[frozenset[ProgrammeId], _SORTED] = frozenset()
    languages: Annotated[frozenset[LanguageCode], _SORTED] = frozenset({"en"})
    jsps_alumni: bool = False

    @field_validator("phd")
    @classmethod
    def _phd_not_in_future(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value > dt.date.today().year:
                raise ValueError(f"{value} is in the future; give 'in progress' and phd_expected instead")
            if value < 1940:
                raise ValueError(f"{value} is not a plausible PhD year")
        return value

    @field_validator("phd_expected")
    @classmethod
    def _expected_only_in_progress(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if info.data.get("phd") != "in progress":
            raise ValueError("only for a PhD that is 'in progress'")
        this_year = dt.date.today().year
        if not this_year - 1 <= value <= this_year + 10:
            raise ValueError(f"{value} is not a plausible year for a PhD in progress")
        return value

    @property
    def phd_year(self) -> int | None:
        return self.phd if isinstance(self.phd, int) else None

    def stage(self, *, on: dt.date | None = None) -> CareerStage:
        """Career stage on a date (default today); see models.stages for the mapping."""
        return career_stage(self.phd_year, self.position, on=on or dt.date.today())
