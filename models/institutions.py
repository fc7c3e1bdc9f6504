"""Japanese universities and research institutes under every name they go by, read from `institutions.toml`.

An institution is data: its Japanese and English names, other current spellings, common abbreviations and
the names it had before a renaming or a merger. The conflict check (matcher.ranking.conflicts) folds every one of
them and treats two institutions as one place when their names lead to the same entry, so "東北大学" and
"Tohoku University", or "Tokyo Institute of Technology" and "Institute of Science Tokyo", are recognised.
The names are as commonly published (see the header of the data file): check them before relying on them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InstitutionKind = Literal["national university", "public university", "private university", "research institute"]
_Names = tuple[str, ...]


class Institution(BaseModel):
    """One institution and its names (see the field notes at the top of institutions.toml)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: InstitutionKind
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    other_names: _Names = ()
    abbreviations: _Names = ()
    former_names: _Names = ()

    @property
    def names(self) -> _Names:
        """Every name, the Japanese and English ones first."""
        return (self.name_ja, self.name_en, *self.other_names, *self.abbreviations, *self.former_names)


def parse_institutions(text: str) -> tuple[Institution, ...]:
    """Institutions from the text of a TOML file shaped like institutions.toml, in file order.

    Raises:
        ValueError: an entry is malformed (pydantic's error names the field), or two entries share an id.
    """
    entries = tuple(Institution.model_validate(entry) for entry in tomllib.loads(text).get("institution", []))
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ValueError(f"two institutions have the id {entry.id!r}")
        seen.add(entry.id)
    return entries


@cache
def institutions() -> tuple[Institution, ...]:
    """Every institution of the packaged table, in file order."""
    return parse_institutions(files("models").joinpath("institutions.toml").read_text(encoding="utf-8"))


def alias_index(entries: Iterable[Institution], key: Callable[[str], str]) -> dict[str, Institution]:
    """Each name's key (as `key` folds it) -> the institution it names.

    Raises:
        ValueError: one key names two institutions (the message gives both names and both entries), so the
            table cannot say which place a name means; or a name folds to nothing.
    """
    index: dict[str, Institution] = {}
    for entry in entries:
        for name in entry.names:
            folded = key(name)
            if not folded:
                raise ValueError(f"{entry.id}: the name {name!r} folds to nothing")
            other = index.setdefault(folded, entry)
            if other.id != entry.id:
                raise ValueError(
                    f"{name!r} of {entry.id} and a name of {other.id} both fold to {folded!r}: "
                    "a name may point at one institution only"
                )
    return index
