"""Domain validation: every error names the field and the problem."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from matcher.errors import field_errors
from models.durations import format_days, months, parse_duration
from models.limits import MAX_STAY_DAYS
from models.profiles import HostLab, ResearcherProfile
from models.programmes import Programme, programmes
from models.stages import CareerStage, Position, career_stage
from models.taxonomy import broad_sections_of, medium_sections_in, normalise_section
from tests.conftest import host_record, researcher_record


def errors_of(model: type[Any], record: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(record)
    return {e.field: e.message for e in field_errors(info.value)}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("30 days", 30),
        ("12 months", 365),
        ("24 months", 730),
        ("2 weeks", 14),
        ("1 year", 365),
        ({"months": 2}, 61),
        (45, 45),
    ],
)
def test_durations_parse_to_days(text: object, days: int) -> None:
    assert parse_duration(text) == days


@pytest.mark.parametrize("bad", ["-3 months", "0 days", "soon", {"fortnights": 2}, True, {"months": "x"}])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_durations_read_back_the_way_programmes_say_them() -> None:
    assert format_days(months(18)) == "18 months"
    assert format_days(45) == "45 days"
    assert parse_duration(format_days(months(10))) == months(10)


def test_every_length_reads_back_as_itself() -> None:
    """Profiles are stored as JSON with lengths said this way: 92 days once read back as "3 months", 91 days,
    so a stored record changed each time it was written and read."""
    assert [d for d in range(1, MAX_STAY_DAYS + 1) if parse_duration(format_days(d)) != d] == []
    assert format_days(92) == "92 days" and format_days(91) == "3 months"


@pytest.mark.parametrize(
    ("phd", "position", "stage"),
    [
        (None, Position.DOCTORAL_STUDENT, CareerStage.R1),
        (None, Position.RESEARCH_SCIENTIST, CareerStage.R1),
        (2022, Position.POSTDOC, CareerStage.R2),
        (2020, Position.POSTDOC, CareerStage.R2),  # 6 years
        (2019, Position.POSTDOC, CareerStage.R3),  # 7 years: established by the years rule
        (2024, Position.ASSISTANT_PROFESSOR, CareerStage.R3),  # independence counts before years
        (2001, Position.PROFESSOR, CareerStage.R4),
        (2015, Position.GROUP_LEADER, CareerStage.R4),
    ],
)
def test_career_stage_mapping(phd: int | None, position: Position, stage: CareerStage) -> None:
    assert career_stage(phd, position, on=dt.date(2026, 11, 1)) is stage


def test_taxonomy_covers_eleven_broad_sections() -> None:
    assert normalise_section("07") == "7" == normalise_section(7)
    assert broad_sections_of("90") == ("D", "I")
    assert "61" in medium_sections_in("j")
    assert all(medium_sections_in(letter) for letter in "ABCDEFGHIJK")
    with pytest.raises(ValueError, match="not a KAKENHI medium section"):
        normalise_section("99")


def test_programmes_are_data_with_the_documented_tenures() -> None:
    table = programmes()
    assert set(table) == {
        "postdoc-standard",
        "postdoc-short",
        "invitational-long",
        "invitational-short",
        "invitational-short-s",
        "summer",
        "bridge",
    }
    assert (table["postdoc-standard"].tenure_min, table["postdoc-standard"].tenure_max) == (365, 730)
    assert (table["invitational-short"].tenure_min, table["invitational-short"].tenure_max) == (14, 60)
    assert "FR" in table["postdoc-short"].nationalities  # the EU group is expanded


def test_every_programme_has_its_japanese_name_and_official_jsps_page() -> None:
    table = programmes()
    for programme in table.values():
        assert programme.url.startswith("https://www.jsps.go.jp/english/"), programme.id
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in programme.name_ja), programme.id
    assert table["postdoc-standard"].name_ja == "外国人特別研究員（一般）"
    assert table["postdoc-short"].url == "https://www.jsps.go.jp/english/e-fellow/e-oubei-s/index.html"
    assert table["summer"].name_ja == "外国人特別研究員（サマー・プログラム）"
    assert table["bridge"].name_ja == "外国人研究者再招へい事業（BRIDGE Fellowship）"


@pytest.mark.parametrize("missing", ["url", "name_ja"])
def test_a_programme_without_its_page_or_japanese_name_is_refused(missing: str) -> None:
    entry = programmes()["summer"].model_dump()
    del entry[missing]
    assert errors_of(Programme, entry) == {missing: "Field required"}


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("javascript:alert(1)", "starting with https:// or http://"),
        ("www.jsps.go.jp/english/", "starting with https:// or http://"),
        ("https:///english/", "has no host name"),
        ("https://www.jsps.go.jp/a page", "spaces"),
        ("https://user:secret@www.jsps.go.jp/", "user name or password"),
        ("https://www.jsps.go.jp:99999/", "not a valid web address"),
        ("https://www.jsps.go.jp/" + "a" * 2_000, "at most 2,000"),
    ],
)
def test_a_programme_page_must_be_a_web_address(url: str, fragment: str) -> None:
    entry = {**programmes()["summer"].model_dump(), "url": url}
    errors = errors_of(Programme, entry)
    assert list(errors) == ["url"] and fragment in errors["url"], errors


def test_a_valid_researcher_round_trips_through_json() -> None:
    researcher = ResearcherProfile.model_validate(researcher_record(desired_tenure="18 months"))
    again = ResearcherProfile.model_validate_json(researcher.model_dump_json())
    assert again == researcher
    assert researcher.desired_tenure == months(18)


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"statement": "   "}, "statement", "at least 1 character"),
        ({"programmes": ["postdoc-forever"]}, "programmes.0", "unknown programme 'postdoc-forever'"),
        ({"phd": 2101}, "phd", "not a plausible PhD year; give a year from 1940 to 2100"),
        ({"phd": 1939}, "phd", "not a plausible PhD year"),
        ({"phd": 2028, "desired_start": "2027-04-01"}, "phd", "2028 is after the desired start (2027-04-01)"),
        ({"phd": "in progress", "phd_expected": 2101}, "phd_expected", "not a plausible year"),
        ({"desired_start": "2101-01-01"}, "desired_start", "give a date from 1940 to 2100"),
        ({"phd": 2020, "phd_expected": 2027}, "phd_expected", "only for a PhD that is 'in progress'"),
        ({"desired_tenure": "-2 months"}, "desired_tenure", "must be positive"),
        ({"desired_start": "2027-02-30"}, "desired_start", "date"),
        ({"country": "Britain"}, "country", "pattern"),
        ({"email": "not-an-address"}, "email", "not an e-mail address"),
        ({"position": "wizard"}, "position", "doctoral student"),
        ({"publications": [{"abstract": "no title"}]}, "publications.0.title", "Field required"),
        ({"favourite_colour": "blue"}, "favourite_colour", "Extra inputs are not permitted"),
    ],
)
def test_researcher_errors_name_the_field(overrides: dict[str, Any], field: str, fragment: str) -> None:
    errors = errors_of(ResearcherProfile, researcher_record(**overrides))
    assert field in errors, errors
    assert fragment in errors[field]


def test_a_missing_field_is_named() -> None:
    record = researcher_record()
    del record["statement"]
    assert errors_of(ResearcherProfile, record) == {"statement": "Field required"}


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"capacity": -1}, "capacity", "greater than or equal to 0"),
        (
            {"hosting_window": {"min": "6 months", "max": "1 month"}},
            "hosting_window",
            "min (6 months) is longer than max (30 days)",
        ),
        ({"accepted_stages": ["R5"]}, "accepted_stages.0", "R1"),
        ({"fields": {"sections": ["99"]}}, "fields.sections.0", "not a KAKENHI medium section"),
        ({"description": ""}, "description", "at least 1 character"),
    ],
)
def test_host_errors_name_the_field(overrides: dict[str, Any], field: str, fragment: str) -> None:
    errors = errors_of(HostLab, host_record(**overrides))
    assert field in errors, errors
    assert fragment in errors[field]


def test_a_host_may_give_its_public_page() -> None:
    assert HostLab.model_validate(host_record()).url is None
    host = HostLab.model_validate(host_record(url=" https://www.example.ac.jp/~lab/ja/ "))
    assert host.url == "https://www.example.ac.jp/~lab/ja/"
    assert HostLab.model_validate_json(host.model_dump_json()) == host


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://files.example.ac.jp/lab", "starting with https:// or http://"),
        ("javascript:alert(1)", "starting with https:// or http://"),
        ("", "starting with https:// or http://"),
        ("http://", "has no host name"),
        ("https://example.ac.jp/" + "x" * 2_000, "at most 2,000"),
        (42, "string"),
    ],
)
def test_a_host_page_that_is_not_a_web_address_is_refused(url: object, fragment: str) -> None:
    errors = errors_of(HostLab, host_record(url=url))
    assert list(errors) == ["url"] and fragment in errors["url"], errors


def test_third_party_text_loses_only_the_characters_the_validators_refuse() -> None:
    from models.text import first_refused, without_refused

    title = "What A Sunny Day \u00e2\u0098\u0094 Irony\tDetection"
    cleaned = without_refused(title)
    assert cleaned == "What A Sunny Day \u00e2 Irony Detection" and first_refused(cleaned) is None
    assert without_refused("line one\nline two\u202e", line_breaks=True) == "line one\nline two"
    assert without_refused("plain") == "plain"
