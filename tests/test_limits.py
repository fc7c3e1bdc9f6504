"""Every bound of models/limits.py, at the model: the value at the limit is accepted, one past it refused, and
the message names the field and the limit."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from matcher.errors import field_errors
from matcher.json_depth import check_json_depth, json_depth_exceeds, load_json
from models.durations import parse_duration
from models.limits import (
    MAX_COAUTHORS,
    MAX_JSON_DEPTH,
    MAX_KEYWORDS,
    MAX_LANGUAGES,
    MAX_PROFILE_CHARS,
    MAX_PUBLICATIONS,
    MAX_SECTIONS,
    MAX_STAY_DAYS,
    MAX_TEXT_CHARS,
)
from models.profiles import HostLab, ResearcherProfile, normalise_id
from models.text import first_refused
from tests.conftest import host_record, researcher_record


def errors_of(model: type[Any], record: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(record)
    return {e.field: e.message for e in field_errors(info.value)}


# -- lengths of stay ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "days"), [("10 years", 3652), ("120 months", 3652), (MAX_STAY_DAYS, MAX_STAY_DAYS)])
def test_a_stay_of_ten_years_is_the_longest_accepted(value: object, days: int) -> None:
    assert parse_duration(value) == days


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999 years", "a stay of 999 years is longer than the 10-year limit"),
        (MAX_STAY_DAYS + 1, "a stay of 3654 days is longer than the 10-year limit"),
        (1e308, "a stay of 1e+308 days is longer than the 10-year limit"),
        ({"months": 1e308}, "a stay of 1e+308 months is longer than the 10-year limit"),
        (math.inf, "a stay of inf days is longer than the 10-year limit"),
        (10**400, "a stay of about 10^400 days is longer than the 10-year limit"),
        (-(10**400), "a length of stay must be positive"),
        (-math.inf, "a length of stay must be positive"),
        (math.nan, "a length of stay must be a number"),
        ("9" * 400 + " days", "is longer than the 10-year limit"),
    ],
)
def test_longer_or_non_finite_stays_are_refused_with_the_limit(value: object, message: str) -> None:
    """These raised OverflowError (a 500 from the API) before the limit existed."""
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert message in str(info.value)
    assert len(str(info.value)) < 120  # a huge input is not echoed back


def test_a_hosting_window_beyond_ten_years_names_its_end() -> None:
    errors = errors_of(HostLab, host_record(hosting_window={"min": "1 month", "max": "999 years"}))
    assert errors == {"hosting_window.max": "a stay of 999 years is longer than the 10-year limit"}


# -- counts ---------------------------------------------------------------------------------------------


def publications(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"title": f"Paper {i}", **fields} for i in range(n)]


@pytest.mark.parametrize("model", [ResearcherProfile, HostLab])
def test_at_most_200_publications_per_profile(model: type[Any]) -> None:
    record = researcher_record if model is ResearcherProfile else host_record
    assert len(model.model_validate(record(publications=publications(MAX_PUBLICATIONS))).publications) == 200
    errors = errors_of(model, record(publications=publications(MAX_PUBLICATIONS + 1)))
    assert list(errors) == ["publications"] and "at most 200 items" in errors["publications"]


@pytest.mark.parametrize(
    ("overrides", "field", "limit"),
    [
        ({"publications": publications(1, coauthors=["A"] * (MAX_COAUTHORS + 1))}, "publications.0.coauthors", 500),
        ({"fields": {"keywords": [f"k{i}" for i in range(MAX_KEYWORDS + 1)]}}, "fields.keywords", 50),
        ({"fields": {"sections": [str(s) for s in range(1, MAX_SECTIONS + 2)]}}, "fields.sections", 20),
        ({"languages": [f"{a}{b}" for a in "abcde" for b in "abcde"][: MAX_LANGUAGES + 1]}, "languages", 20),
    ],
)  # fmt: skip
def test_lists_in_a_profile_are_bounded(overrides: dict[str, Any], field: str, limit: int) -> None:
    errors = errors_of(ResearcherProfile, researcher_record(**overrides))
    assert list(errors) == [field] and f"at most {limit} items" in errors[field], errors


def test_the_texts_of_a_profile_together_are_bounded() -> None:
    """Nine long abstracts and a statement are each within bounds, and 200,000 characters together is the
    most a profile may ask to be read."""
    papers = publications(9, abstract="a" * (MAX_TEXT_CHARS - 1))
    statement = "s" * (MAX_PROFILE_CHARS - 9 * (MAX_TEXT_CHARS - 1) - 9 * len("Paper 0"))
    assert ResearcherProfile.model_validate(researcher_record(statement=statement, publications=papers))
    errors = errors_of(ResearcherProfile, researcher_record(statement=statement + "s", publications=papers))
    assert list(errors) == ["publications"]
    assert "total 200,001 characters; at most 200,000" in errors["publications"]
    assert (
        "total 200,001"
        in errors_of(HostLab, host_record(description=statement + "s", publications=papers))["publications"]
    )


# -- shapes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "said"), [({}, "an object"), ([], "a list"), (True, "true or false"), (None, "null")]
)
def test_a_section_is_a_code_not_another_shape(value: object, said: str) -> None:
    """[{}] and [[]] raised TypeError (unhashable) in the section check: a 500 on an anonymous match."""
    errors = errors_of(ResearcherProfile, researcher_record(fields={"sections": [value]}))
    assert errors == {"fields.sections.0": f'a section is a code such as "61" (text or a whole number), not {said}'}


def test_a_section_may_be_text_or_a_whole_number() -> None:
    profile = ResearcherProfile.model_validate(researcher_record(fields={"sections": ["07", 61]}))
    assert profile.fields.sections == ("7", "61")


# -- characters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Ada\x00Lovelace"}, "name"),
        ({"institution": "Univ\u202eersity"}, "institution"),
        ({"fields": {"keywords": ["ok", "bad\x1b[31m"]}}, "fields.keywords.1"),
        ({"publications": [{"title": "A title\nthat breaks"}]}, "publications.0.title"),
        ({"publications": [{"title": "T", "coauthors": ["B\u2066ob"]}]}, "publications.0.coauthors.0"),
        ({"statement": "A statement with\x00a NUL."}, "statement"),
        ({"statement": "A statement with a \u2067 isolate."}, "statement"),
        ({"email": "a\x00@example.org"}, "email"),
        ({"id": "r\x00x"}, "id"),
    ],
)
def test_control_and_bidi_characters_are_refused_naming_the_character_and_where(
    overrides: dict[str, Any], field: str
) -> None:
    errors = errors_of(ResearcherProfile, researcher_record(**overrides))
    assert list(errors) == [field], errors
    assert "U+" in errors[field] and "at character" in errors[field]


def test_the_message_says_which_character_and_where() -> None:
    assert first_refused("Ada\x00") == "contains a control character (U+0000 NULL) at character 4; remove it"
    assert first_refused("ab\u202ec") == (
        "contains a bidirectional formatting character (U+202E RIGHT-TO-LEFT OVERRIDE) at character 3; remove it"
    )
    assert (
        first_refused("x\ud800")
        == "contains a lone surrogate, which is not a character (U+D800) at character 2; remove it"
    )
    assert first_refused("tab\there") is not None and first_refused("tab\there", line_breaks=True) is None


def test_long_texts_keep_their_line_breaks_and_names_keep_their_scripts() -> None:
    profile = ResearcherProfile.model_validate(
        researcher_record(
            name="Zoë Ōtani-Müller 大谷",
            statement="First paragraph.\n\n\tSecond paragraph.\r\n",
            fields={"keywords": ["שלום", "علم الزلازل"]},  # right-to-left scripts, no formatting characters
        )
    )
    assert profile.statement == "First paragraph.\n\n\tSecond paragraph."
    assert profile.name == "Zoë Ōtani-Müller 大谷"


# -- ids ------------------------------------------------------------------------------------------------


def test_ids_are_case_insensitive_stored_in_lower_case() -> None:
    assert ResearcherProfile.model_validate(researcher_record(" R-CASE ")).id == "r-case"
    assert HostLab.model_validate(host_record("H-Quake.2")).id == "h-quake.2"
    assert normalise_id(" R-CASE ") == "r-case"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "an id cannot be empty"),
        ("r" * 65, "65 characters long; an id has at most 64"),
        ("-r", "'-' at character 1 is not allowed"),
        ("r é", "' ' at character 2 is not allowed"),
        ("r\u202e1", "U+202E"),
    ],
)
def test_a_bad_id_is_explained(value: str, fragment: str) -> None:
    errors = errors_of(ResearcherProfile, researcher_record(value))
    assert list(errors) == ["id"] and fragment in errors["id"], errors


# -- JSON depth -----------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_depth_is_counted_outside_strings() -> None:
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH)) and json_depth_exceeds(nested(MAX_JSON_DEPTH + 1))
    document = '{"a": "[[[[[[[[", "b": "\\"[[[[[", "c": [1, {"d": []}]}'  # 4 deep at "d"
    assert not json_depth_exceeds(document, limit=4) and json_depth_exceeds(document, limit=3)
    assert json_depth_exceeds('{"a": {"b": {"c": {}}}}', limit=3)
    assert not json_depth_exceeds(b'{"a": "\\\\"}', limit=1)  # an escaped backslash ends before the quote


def test_files_nested_too_deep_are_refused_before_parsing() -> None:
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(ValueError, match="nested more than 64 levels deep; the limit is 64"):
        load_json(nested(10_000))  # json.loads alone raises RecursionError
    with pytest.raises(ValueError, match="Expecting value at line 2"):
        load_json("[\n}")
    with pytest.raises(ValueError):
        check_json_depth("[" * 65)
