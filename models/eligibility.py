"""Programme eligibility: every rule a programme's data states, checked against one researcher.

The rule checks below are generic: each reads one kind of field of `Programme` (tenure range, years since
the PhD, nationality, position, alumni status, start month) and applies to whatever programme has that
field set. No check knows which programme it is looking at; the data in programmes.toml decides.

A rule passes (True), fails (False) or cannot be decided from the profile (None, e.g. no nationality given,
or a condition only staff can check). A researcher is eligible when no rule fails.

Every rule is judged on one explicit date, `on`. A profile is valid whatever today's date (a stored record
must keep loading), so the one check that needs today lives here: a PhD given as awarded in a year after
`on` fails the "phd" rule of every programme, with the change that fixes the record ('in progress' with
phd_expected).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from models.durations import format_days
from models.profiles import ResearcherProfile
from models.programmes import Programme, programmes
from models.routes import OpenRoute, open_routes
from models.stages import years_since_phd


class RuleCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    passed: bool | None
    reason: str


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    programme: str
    programme_name: str
    eligible: bool
    checks: tuple[RuleCheck, ...]
    nearest_change: str | None = None
    routes: tuple[OpenRoute, ...] = ()  # through whom to apply, when eligible or still to check

    @property
    def failed(self) -> list[RuleCheck]:
        return [c for c in self.checks if c.passed is False]

    @property
    def summary(self) -> str:
        if self.eligible:
            return "eligible"
        reasons = "; ".join(c.reason for c in self.failed)
        return f"not eligible: {reasons}" + (f" ({self.nearest_change})" if self.nearest_change else "")

    @property
    def refusal(self) -> str:
        """Why this programme is closed to the researcher, as a match and a call both say it."""
        return f"not eligible for {self.programme_name}: {self.summary.removeprefix('not eligible: ')}"


Check = Callable[[ResearcherProfile, Programme, dt.date], RuleCheck | None]


def _tenure(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck:
    stay, low, high = format_days(r.desired_tenure), format_days(p.tenure_min), format_days(p.tenure_max)
    if r.desired_tenure < p.tenure_min:
        return RuleCheck(rule="tenure", passed=False, reason=f"a stay of {stay} is shorter than the {low} minimum")
    if r.desired_tenure > p.tenure_max:
        return RuleCheck(rule="tenure", passed=False, reason=f"a stay of {stay} is longer than the {high} maximum")
    return RuleCheck(rule="tenure", passed=True, reason=f"a stay of {stay} is within {low} to {high}")


def _phd(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck | None:
    if r.phd_year is not None and r.phd_year > on.year:
        return RuleCheck(
            rule="phd",
            passed=False,
            reason=f"the PhD is given as awarded in {r.phd_year}, after {on.year}, the year eligibility is judged for",
        )
    if p.max_years_since_phd is None and p.predoc == "no":
        return None
    if r.phd_year is not None:
        years = years_since_phd(r.phd_year, on)
        if p.max_years_since_phd is None:
            return RuleCheck(rule="phd", passed=True, reason=f"PhD awarded in {r.phd_year}")
        ok = years <= p.max_years_since_phd
        relation = "within" if ok else "more than"
        return RuleCheck(
            rule="phd",
            passed=ok,
            reason=f"PhD awarded {years} years before {on.year}: {relation} the {p.max_years_since_phd}-year limit",
        )
    expected = f"expected in {r.phd_expected}" if r.phd_expected else "in progress, no expected year given"
    if p.predoc == "no":
        return RuleCheck(rule="phd", passed=False, reason=f"a PhD is required; the researcher's is {expected}")
    if r.phd_expected is None:
        return RuleCheck(rule="phd", passed=None, reason="PhD in progress; give phd_expected to check the deadline")
    if p.predoc == "before_start":
        ok = r.phd_expected <= on.year
        when = "by" if ok else "after"
        return RuleCheck(rule="phd", passed=ok, reason=f"PhD {expected}, {when} the start in {on.year}")
    assert p.predoc_within_years is not None  # enforced by Programme's validator
    ok = r.phd_expected - on.year <= p.predoc_within_years
    limit = f"{p.predoc_within_years} years of {on.year}"
    return RuleCheck(
        rule="phd", passed=ok, reason=f"doctoral student, PhD {expected}: {'within' if ok else 'not within'} {limit}"
    )


def _nationality(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck | None:
    if r.nationality is not None and r.nationality in p.excluded_nationalities:
        return RuleCheck(rule="nationality", passed=False, reason=f"nationals of {r.nationality} are not eligible")
    if not p.nationalities:
        if p.excluded_nationalities and r.nationality is None:
            return RuleCheck(rule="nationality", passed=None, reason="nationality not given")
        return None
    if r.nationality in p.nationalities:
        return RuleCheck(rule="nationality", passed=True, reason=f"nationality {r.nationality} is eligible")
    if p.nationality_or_residence and r.country in p.nationalities:
        return RuleCheck(rule="nationality", passed=True, reason=f"works in {r.country}, an eligible country")
    if r.nationality is None:
        return RuleCheck(rule="nationality", passed=None, reason="nationality not given")
    where = "nationality or country of work" if p.nationality_or_residence else "nationality"
    eligible = ", ".join(sorted(p.nationalities)) if len(p.nationalities) <= 8 else "the listed countries"
    return RuleCheck(rule="nationality", passed=False, reason=f"{where} must be one of {eligible}")


def _position(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck | None:
    if not p.positions:
        return None
    if r.position in p.positions:
        return RuleCheck(rule="position", passed=True, reason=f"position '{r.position}' is eligible")
    if p.or_min_years_since_phd is not None and r.phd_year is not None:
        years = years_since_phd(r.phd_year, on)
        if years > p.or_min_years_since_phd:
            return RuleCheck(rule="position", passed=True, reason=f"PhD held for {years} years")
    alternative = f", or a PhD held for more than {p.or_min_years_since_phd} years" if p.or_min_years_since_phd else ""
    return RuleCheck(
        rule="position",
        passed=False,
        reason=f"position '{r.position}' is not one of {', '.join(sorted(p.positions))}{alternative}",
    )


def _alumni(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck | None:
    if not p.alumni_required:
        return None
    if r.jsps_alumni:
        return RuleCheck(rule="alumni", passed=True, reason="former JSPS fellow")
    return RuleCheck(rule="alumni", passed=False, reason="only former JSPS fellows (alumni) may apply")


def _start_month(r: ResearcherProfile, p: Programme, on: dt.date) -> RuleCheck | None:
    if not p.start_months:
        return None
    months = ", ".join(dt.date(2000, m, 1).strftime("%B") for m in sorted(p.start_months))
    if r.desired_start is None:
        return RuleCheck(rule="start", passed=None, reason=f"no desired start given; the stay starts in {months}")
    ok = r.desired_start.month in p.start_months
    return RuleCheck(
        rule="start", passed=ok, reason=f"a start in {r.desired_start:%B} ({'' if ok else 'not '}{months})"
    )


RULES: tuple[Check, ...] = (_tenure, _phd, _nationality, _position, _alumni, _start_month)


def _nearest_change(r: ResearcherProfile, p: Programme, failed: list[RuleCheck], on: dt.date) -> str | None:
    """The one change to what the researcher asks for that would make them eligible, when there is one."""
    if len(failed) != 1:
        return None
    rule = failed[0].rule
    if rule == "tenure":
        if r.desired_tenure < p.tenure_min:
            return f"a stay of {format_days(p.tenure_min)} or more would qualify for {p.name}"
        return f"a stay of at most {format_days(p.tenure_max)} would qualify for {p.name}"
    if rule == "start":
        months = " or ".join(dt.date(2000, m, 1).strftime("%B") for m in sorted(p.start_months))
        return f"a start in {months} would qualify for {p.name}"
    if rule == "phd" and r.phd_year is not None and r.phd_year > on.year:
        return f"if the PhD is not awarded yet, give 'in progress' and phd_expected {r.phd_year}"
    return None


def eligibility(researcher: ResearcherProfile, programme: Programme | str, *, on: dt.date | None = None) -> Verdict:
    """Check every rule of a programme for a researcher.

    Args:
        researcher: the profile.
        programme: a Programme or its id.
        on: the date the rules are judged at; default the researcher's desired start, else today.

    Raises:
        KeyError: an unknown programme id.
    """
    if isinstance(programme, str):
        try:
            programme = programmes()[programme]
        except KeyError:
            raise KeyError(f"unknown programme {programme!r}") from None
    when = on or researcher.desired_start or dt.date.today()
    checks = [c for rule in RULES if (c := rule(researcher, programme, when)) is not None]
    checks.extend(RuleCheck(rule="unchecked", passed=None, reason=f"to check: {text}") for text in programme.unchecked)
    failed = [c for c in checks if c.passed is False]
    return Verdict(
        programme=programme.id,
        programme_name=programme.name,
        eligible=not failed,
        checks=tuple(checks),
        nearest_change=_nearest_change(researcher, programme, failed, when),
        routes=() if failed else open_routes(researcher, programme.id),
    )


def eligible_programmes(researcher: ResearcherProfile, *, on: dt.date | None = None) -> list[Verdict]:
    """A verdict for every programme, in the order of the programme data."""
    return [eligibility(researcher, p, on=on) for p in programmes().values()]
