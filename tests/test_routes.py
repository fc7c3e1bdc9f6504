"""Through whom to apply: the routes an eligibility answer names, and the rule that chose each."""

from __future__ import annotations

import datetime as dt

import pytest

from models.eligibility import eligibility
from models.routes import Route, open_routes, routes

ON = dt.date(2027, 4, 1)


def _routes(verdict):
    return {route.id: route for route in verdict.routes}


def test_a_uk_physicist_applies_for_standard_through_the_royal_society(make_researcher):
    physicist = make_researcher(fields={"sections": ["13"]}, phd=2023)
    verdict = eligibility(physicist, "postdoc-standard", on=ON)
    assert verdict.eligible
    found = _routes(verdict)
    assert set(found) == {"standard-host", "standard-royal-society"}
    assert found["standard-royal-society"].because == (
        "works in GB",
        "works in the natural sciences (KAKENHI broad section B)",
    )
    assert found["standard-host"].submits == "host" and found["standard-host"].because == ()


def test_a_uk_historian_applies_through_the_british_academy(make_researcher):
    historian = make_researcher(fields={"sections": ["3"]}, phd=2023)
    found = _routes(eligibility(historian, "postdoc-standard", on=ON))
    assert set(found) == {"standard-host", "standard-british-academy"}
    assert "humanities and social sciences (KAKENHI broad section A)" in found["standard-british-academy"].because[1]


def test_without_a_field_both_uk_routes_are_listed_with_the_field_to_check(make_researcher):
    found = _routes(eligibility(make_researcher(phd=2023), "postdoc-standard", on=ON))
    assert {"standard-royal-society", "standard-british-academy"} <= set(found)
    assert "natural sciences" in found["standard-royal-society"].to_check


def test_the_uk_routes_are_not_open_to_a_researcher_working_elsewhere(make_researcher):
    in_france = make_researcher(country="FR", nationality="GB", fields={"sections": ["13"]}, phd=2023)
    assert set(_routes(eligibility(in_france, "postdoc-standard", on=ON))) == {"standard-host"}


def test_a_french_summer_applicant_is_nominated_by_the_cnrs(make_researcher):
    student = make_researcher(
        country="FR",
        nationality="FR",
        phd="in progress",
        phd_expected=2029,
        position="doctoral student",
        desired_tenure="2 months",
        desired_start="2027-06-15",
        programmes=["summer"],
    )
    verdict = eligibility(student, "summer", on=dt.date(2027, 6, 15))
    assert verdict.eligible, verdict.summary
    assert [(r.id, r.because) for r in verdict.routes] == [("summer-cnrs", ("a national of FR",))]


def test_uk_alumni_take_the_uk_bridge_route_and_others_their_association(make_researcher):
    alumnus = dict(jsps_alumni=True, position="associate professor", phd=2010, desired_tenure="20 days")
    in_uk = eligibility(make_researcher(**alumnus), "bridge", on=ON)
    in_us = eligibility(make_researcher(country="US", nationality="US", **alumnus), "bridge", on=ON)
    assert [r.id for r in in_uk.routes] == ["bridge-uk"]
    assert [r.id for r in in_us.routes] == ["bridge-alumni"]


def test_an_ineligible_verdict_names_no_route(make_researcher):
    verdict = eligibility(make_researcher(phd=2010), "postdoc-standard", on=ON)
    assert not verdict.eligible and verdict.routes == ()


def test_every_route_names_a_known_programme_and_a_source():
    assert routes(), "routes.toml holds routes"
    for route in routes().values():
        assert route.sources, route.id
    # every programme has a route everybody eligible can take, or routes for named groups only
    assert {r.programme for r in routes().values()} >= {"postdoc-standard", "postdoc-short", "summer", "bridge"}


def test_a_route_restricting_the_field_must_name_it():
    with pytest.raises(ValueError, match="field_name"):
        Route(id="x", programme="postdoc-standard", name="x", authority="x", submits="researcher", broad_sections={"A"})


def test_open_routes_reads_only_the_programme_asked_for(make_researcher):
    assert all(r.id.startswith("standard") for r in open_routes(make_researcher(), "postdoc-standard"))
