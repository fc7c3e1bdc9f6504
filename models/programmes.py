"""Fellowship programmes, read from `programmes.toml` beside this module.

A programme is data: its tenure range and eligibility rules are fields, so adding a programme or changing a
rule for a new call year is an edit of the TOML file, not of code.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.durations import Days, format_days
from models.stages import CareerStage, Position
from models.urls import WebUrl


class Programme(BaseModel):
    """One programme and its rules (see the field notes at the top of programmes.toml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    name_ja: str = Field(min_length=1)
    url: WebUrl
    summary: str
    tenure_min: Days
    tenure_max: Days
    max_years_since_phd: int | None = None
    predoc: Literal["no", "before_start", "within_years"] = "no"
    predoc_within_years: int | None = None
    nationalities: frozenset[str] = frozenset()
    nationality_or_residence: bool = False
    excluded_nationalities: frozenset[str] = frozenset()
    positions: frozenset[Position] = frozenset()
    or_min_years_since_phd: int | None = None
    alumni_required: bool = False
    start_months: frozenset[int] = frozenset()
    unchecked: tuple[str, ...] = ()
    stages: frozenset[CareerStage] = Field(min_length=1)
    applies: str
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Programme:
        if self.tenure_min > self.tenure_max:
            raise ValueError(f"tenure_min ({self.tenure_min} days) is longer than tenure_max ({self.tenure_max} days)")
        if (self.predoc == "within_years") != (self.predoc_within_years is not None):
            raise ValueError("predoc_within_years is set exactly when predoc is 'within_years'")
        return self

    @property
    def tenure_text(self) -> str:
        return f"{format_days(self.tenure_min)} to {format_days(self.tenure_max)}"


@cache
def programmes() -> dict[str, Programme]:
    """Every programme by id, in the order of the data file."""
    raw = tomllib.loads(files("models").joinpath("programmes.toml").read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = raw.get("groups", {})

    def expand(codes: list[str]) -> list[str]:
        return [member for code in codes for member in groups.get(code, [code])]

    result: dict[str, Programme] = {}
    for entry in raw["programme"]:
        for key in ("nationalities", "excluded_nationalities"):
            entry[key] = expand(entry.get(key, []))
        programme = Programme.model_validate(entry)
        result[programme.id] = programme
    return result


PROGRAMME_IDS: tuple[str, ...] = tuple(programmes())


def check_programme_id(value: str) -> str:
    """Validate a programme id (for use in validators); the error lists the known ids."""
    if value not in programmes():
        raise ValueError(f"unknown programme {value!r}; known programmes: {', '.join(PROGRAMME_IDS)}")
    return value
