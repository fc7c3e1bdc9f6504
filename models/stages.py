"""Career stages R1–R4 of the European Framework for Research Careers, derived from the PhD and the position.

The framework defines the stages by independence, not by years (../shared/DOMAIN.md §3):

- R1 First Stage: research under supervision, up to the PhD.
- R2 Recognised: has a PhD, not yet substantially independent.
- R3 Established: independent: own research line, funding or group.
- R4 Leading: a recognised leader in the field, heading a team or a lab.

No official mapping to years exists, so hostmatch uses this proxy, the position first and years second:

1. No PhD yet ("in progress") -> R1, whatever the position.
2. A position that means leading a group (professor, emeritus professor, group leader, director) -> R4.
3. A position that means independence (lecturer, assistant or associate professor, senior research
   scientist) -> R3.
4. Otherwise (postdoc, research fellow, research scientist, other) by years since the PhD: fewer than
   `ESTABLISHED_AFTER_YEARS` (7) -> R2, else R3. Seven years follows KAKENHI's "Early-Career Scientists"
   (< 8 years after the PhD) and ERC's Starting/Consolidator boundary (7 years).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum


class CareerStage(StrEnum):
    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    R4 = "R4"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CareerStage.R1: "First Stage Researcher (up to the PhD)",
    CareerStage.R2: "Recognised Researcher (PhD holder, not yet independent)",
    CareerStage.R3: "Established Researcher (independent)",
    CareerStage.R4: "Leading Researcher (heads a group or lab)",
}


class Position(StrEnum):
    DOCTORAL_STUDENT = "doctoral student"
    POSTDOC = "postdoc"
    RESEARCH_FELLOW = "research fellow"
    RESEARCH_SCIENTIST = "research scientist"
    LECTURER = "lecturer"
    ASSISTANT_PROFESSOR = "assistant professor"
    ASSOCIATE_PROFESSOR = "associate professor"
    SENIOR_RESEARCH_SCIENTIST = "senior research scientist"
    PROFESSOR = "professor"
    EMERITUS_PROFESSOR = "emeritus professor"
    GROUP_LEADER = "group leader"
    DIRECTOR = "director"
    OTHER = "other"


LEADING_POSITIONS = frozenset(
    {Position.PROFESSOR, Position.EMERITUS_PROFESSOR, Position.GROUP_LEADER, Position.DIRECTOR}
)
INDEPENDENT_POSITIONS = frozenset(
    {
        Position.LECTURER,
        Position.ASSISTANT_PROFESSOR,
        Position.ASSOCIATE_PROFESSOR,
        Position.SENIOR_RESEARCH_SCIENTIST,
    }
)
ESTABLISHED_AFTER_YEARS = 7


def years_since_phd(phd_year: int, on: dt.date) -> int:
    """Whole years between the PhD year and `on` (a PhD of 2020 is 6 years old in 2026)."""
    return on.year - phd_year


def career_stage(phd_year: int | None, position: Position, *, on: dt.date) -> CareerStage:
    """Derive the stage from the PhD year (None while the PhD is in progress) and the current position.

    See the module docstring for the mapping and why.
    """
    if phd_year is None:
        return CareerStage.R1
    if position in LEADING_POSITIONS:
        return CareerStage.R4
    if position in INDEPENDENT_POSITIONS:
        return CareerStage.R3
    if years_since_phd(phd_year, on) < ESTABLISHED_AFTER_YEARS:
        return CareerStage.R2
    return CareerStage.R3
