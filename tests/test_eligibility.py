"""Eligibility scenarios: each test tells one applicant's story."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from models.eligibility import eligibility, eligible_programmes
from models.profiles import ResearcherProfile

START = dt.date(2027, 4, 1)
Make = Callable[..., ResearcherProfile]


def test_nine_years_after_the_phd_is_too_late_for_standard_and_says_why(make_researcher: Make) -> None:
    """A postdoc whose PhD was in 2018 wants 18 months in Japan from April 2027. Standard takes PhDs of
    the last six years, so she is told she is out, and by how much."""
    researcher = make_researcher(phd=2018, desired_tenure="18 months", desired_start=START)
    verdict = eligibility(researcher, "postdoc-standard")
    assert not verdict.eligible
    (failed,) = verdict.failed
    assert failed.rule == "phd"
    assert "9 years before 2027" in failed.reason and "6-year limit" in failed.reason
    assert verdict.nearest_change is None  # nothing she can change about her PhD year


def test_a_doctoral_student_finishing_within_two_years_gets_short_term_not_standard(make_researcher: Make) -> None:
    """A French doctoral student expecting his PhD in 2028 wants six months from April 2027. Short-term
    takes doctoral students finishing within two years; Standard needs the PhD before the start."""
    researcher = make_researcher(
        phd="in progress",
        phd_expected=2028,
        position="doctoral student",
        nationality="FR",
        country="FR",
        desired_tenure="6 months",
        desired_start=START,
        programmes=[],
    )
    assert eligibility(researcher, "postdoc-short").eligible
    standard = eligibility(researcher, "postdoc-standard")
    assert not standard.eligible
    assert {c.rule for c in standard.failed} == {"tenure", "phd"}
    assert "PhD expected in 2028, after the start in 2027" in standard.summary


def test_a_near_miss_on_tenure_names_the_change_that_would_qualify(make_researcher: Make) -> None:
    """Ten months is two short of Standard's twelve; everything else fits, so the tool says so."""
    researcher = make_researcher(phd=2023, desired_tenure="10 months", desired_start=START)
    verdict = eligibility(researcher, "postdoc-standard")
    assert not verdict.eligible
    assert (
        verdict.nearest_change
        == "a stay of 12 months or more would qualify for JSPS Postdoctoral Fellowship (Standard)"
    )


def test_summer_program_needs_a_june_start_and_an_eligible_nationality(make_researcher: Make) -> None:
    """A Canadian PhD student asks for two months from July: only the start month is wrong."""
    researcher = make_researcher(
        phd="in progress",
        phd_expected=2029,
        position="doctoral student",
        nationality="CA",
        country="CA",
        desired_tenure="2 months",
        desired_start=dt.date(2027, 7, 1),
        programmes=[],
    )
    verdict = eligibility(researcher, "summer")
    assert [c.rule for c in verdict.failed] == ["start"]
    assert verdict.nearest_change == "a start in June would qualify for JSPS Summer Program"
    assert eligibility(researcher.model_copy(update={"desired_start": dt.date(2027, 6, 10)}), "summer").eligible
    brazilian = researcher.model_copy(
        update={"nationality": "BR", "country": "BR", "desired_start": dt.date(2027, 6, 1)}
    )
    assert [c.rule for c in eligibility(brazilian, "summer").failed] == ["nationality"]


def test_short_term_accepts_residence_as_well_as_nationality(make_researcher: Make) -> None:
    """An Indian postdoc working in Germany qualifies for Short-term through residence."""
    researcher = make_researcher(nationality="IN", country="DE", desired_tenure="3 months", desired_start=START)
    verdict = eligibility(researcher, "postdoc-short")
    assert verdict.eligible
    assert any("works in DE" in c.reason for c in verdict.checks)


def test_invitational_fellowships_take_faculty_or_long_held_phds(make_researcher: Make) -> None:
    """A professor on a 30-day visit fits Invitational Short-term; a young postdoc does not; a senior
    research fellow whose PhD is 10 years old qualifies under the years rule."""
    professor = make_researcher(phd=2005, position="professor", desired_tenure="30 days", desired_start=START)
    assert eligibility(professor, "invitational-short").eligible
    postdoc = make_researcher(phd=2024, position="postdoc", desired_tenure="30 days", desired_start=START)
    assert [c.rule for c in eligibility(postdoc, "invitational-short").failed] == ["position"]
    fellow = make_researcher(phd=2017, position="research fellow", desired_tenure="30 days", desired_start=START)
    assert eligibility(fellow, "invitational-short").eligible


def test_bridge_is_for_alumni_only(make_researcher: Make) -> None:
    researcher = make_researcher(phd=2012, position="associate professor", desired_tenure="21 days")
    assert [c.rule for c in eligibility(researcher, "bridge").failed] == ["alumni"]
    alumna = researcher.model_copy(update={"jsps_alumni": True})
    assert eligibility(alumna, "bridge").eligible


def test_japanese_nationals_are_excluded_from_standard(make_researcher: Make) -> None:
    researcher = make_researcher(nationality="JP", country="GB", desired_start=START)
    assert [c.rule for c in eligibility(researcher, "postdoc-standard").failed] == ["nationality"]


def test_conditions_no_profile_can_show_are_listed_not_assumed(make_researcher: Make) -> None:
    verdict = eligibility(make_researcher(desired_start=START), "postdoc-standard")
    assert verdict.eligible
    unchecked = [c for c in verdict.checks if c.passed is None]
    assert any("permanent resident" in c.reason for c in unchecked)


def test_every_programme_gets_a_verdict_in_data_order(make_researcher: Make) -> None:
    verdicts = eligible_programmes(make_researcher(desired_start=START))
    assert [v.programme for v in verdicts][:2] == ["postdoc-standard", "postdoc-short"]
    assert len(verdicts) == 7
    assert all(v.checks for v in verdicts)


def test_a_phd_awarded_after_the_day_of_judgement_fails_with_the_change_that_fixes_it(make_researcher: Make) -> None:
    """A postdoc typed 2028 as the year of her PhD and gave no start. The profile is valid whatever the date
    (it is stored, and read again years later); judged on 1 April 2027 the PhD is not awarded yet, so the PhD
    rule fails for every programme, and she is told how to say it. Judged in 2028 it passes."""
    researcher = make_researcher(phd=2028, desired_tenure="18 months")
    verdict = eligibility(researcher, "postdoc-standard", on=START)
    assert [c.rule for c in verdict.failed] == ["phd"]
    assert (
        verdict.failed[0].reason
        == "the PhD is given as awarded in 2028, after 2027, the year eligibility is judged for"
    )
    assert verdict.nearest_change == "if the PhD is not awarded yet, give 'in progress' and phd_expected 2028"
    professor = make_researcher(phd=2028, position="professor", desired_tenure="30 days")
    assert [c.rule for c in eligibility(professor, "invitational-short", on=START).failed] == ["phd"]
    assert eligibility(researcher, "postdoc-standard", on=dt.date(2028, 4, 1)).eligible


def test_an_unknown_programme_is_refused(make_researcher: Make) -> None:
    with pytest.raises(KeyError, match="unknown programme 'postdoc-eternal'"):
        eligibility(make_researcher(), "postdoc-eternal")
