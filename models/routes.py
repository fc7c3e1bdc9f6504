"""How to apply: the routes through which an application for each programme goes, read from `routes.toml`.

An eligibility answer names the routes open to the researcher and, for each, the rules that chose it (where
they work, their nationality, their field, their position), so "eligible for Postdoctoral Standard" comes with
"through the Royal Society, as a researcher working in GB in the natural sciences".
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from models.profiles import ResearcherProfile
from models.programmes import programmes
from models.stages import Position
from models.taxonomy import BROAD_SECTIONS


class Route(BaseModel):
    """One route (see the field notes at the top of routes.toml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    programme: str
    name: str
    authority: str
    submits: Literal["host", "researcher"]
    countries: frozenset[str] = frozenset()
    nationalities: frozenset[str] = frozenset()
    broad_sections: frozenset[str] = frozenset()
    field_name: str = ""
    positions: frozenset[Position] = frozenset()
    other_countries: frozenset[str] = frozenset()
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Route:
        if not self.broad_sections <= set(BROAD_SECTIONS):
            raise ValueError(f"broad_sections must be KAKENHI broad letters, got {sorted(self.broad_sections)}")
        if bool(self.broad_sections) != bool(self.field_name):
            raise ValueError("a route that restricts the field names it (field_name), and only then")
        return self


class OpenRoute(BaseModel):
    """A route open to one researcher: which, and the rules that chose it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    authority: str
    submits: Literal["host", "researcher"]
    because: tuple[str, ...]  # the conditions met, in words ("works in GB"); empty when the route is open to all
    to_check: str | None = None  # what the profile cannot show (a field not given)


@cache
def routes() -> dict[str, Route]:
    raw = tomllib.loads(files("models").joinpath("routes.toml").read_text(encoding="utf-8"))
    found = {entry["id"]: Route.model_validate(entry) for entry in raw["route"]}
    for route in found.values():
        if route.programme not in programmes():
            raise ValueError(f"route {route.id!r}: unknown programme {route.programme!r}")
    return found


def open_routes(researcher: ResearcherProfile, programme: str) -> tuple[OpenRoute, ...]:
    """The routes of a programme this researcher may take, in the file's order (whether the researcher is
    eligible for the programme is the verdict's business, not this)."""
    chosen = []
    for route in routes().values():
        if route.programme != programme:
            continue
        because: list[str] = []
        to_check = None
        if route.countries:
            if researcher.country not in route.countries:
                continue
            because.append(f"works in {researcher.country}")
        if researcher.country in route.other_countries:
            continue
        if route.nationalities:
            if researcher.nationality not in route.nationalities:
                continue
            because.append(f"a national of {researcher.nationality}")
        if route.positions:
            if researcher.position not in route.positions:
                continue
            because.append(f"a {researcher.position}")
        if route.broad_sections:
            given = researcher.fields.broad_sections
            if not given:
                to_check = f"this route is for {route.field_name}; the profile gives no KAKENHI section"
            elif given.isdisjoint(route.broad_sections):
                continue
            else:
                letters = ", ".join(sorted(given & route.broad_sections))
                because.append(f"works in {route.field_name} (KAKENHI broad section {letters})")
        chosen.append(
            OpenRoute(
                id=route.id,
                name=route.name,
                authority=route.authority,
                submits=route.submits,
                because=tuple(because),
                to_check=to_check,
            )
        )
    return tuple(chosen)
