"""Themes: one taxonomy of priority areas for partner search, events and lab search.

A theme id is ``<scheme>:<code>``. The UK–Japan priority areas, the JEUPISTE event themes and the SDGs are
data (``themes.toml``); KAKENHI sections come from :mod:`models.taxonomy` (``kakenhi:J``, ``kakenhi:61``).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib.resources import files

from models.taxonomy import BROAD_SECTIONS, MEDIUM_SECTIONS, broad_section_label


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    name_ja: str = ""

    @property
    def scheme(self) -> str:
        return self.id.split(":", 1)[0]


@functools.cache
def themes() -> dict[str, Theme]:
    """Every theme by id, the file's themes first, then KAKENHI's broad and medium sections."""
    raw = tomllib.loads(files("models").joinpath("themes.toml").read_text(encoding="utf-8"))
    found = {entry["id"]: Theme(**entry) for entry in raw["theme"]}
    found.update(
        {f"kakenhi:{letter}": Theme(f"kakenhi:{letter}", broad_section_label(letter)) for letter in BROAD_SECTIONS}
    )
    found.update({f"kakenhi:{code}": Theme(f"kakenhi:{code}", name) for code, name in MEDIUM_SECTIONS.items()})
    return found


def check_theme(value: str) -> str:
    """A theme id as written in the taxonomy (surrounding spaces and the scheme's case forgiven).

    Raises:
        ValueError: not a theme id, naming the schemes there are.
    """
    scheme, _, code = value.strip().partition(":")
    wanted = f"{scheme.lower()}:{code.upper() if scheme.lower() == 'kakenhi' and code.isalpha() else code}"
    if wanted not in themes():
        schemes = sorted({theme.scheme for theme in themes().values()})
        raise ValueError(f"{value!r} is not a theme; a theme is <scheme>:<code>, schemes: {', '.join(schemes)}")
    return wanted
