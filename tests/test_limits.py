"""Every bound of models/limits.py, at the model: the value at the limit is accepted, one past it refused, and
the message names the field and the limit."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from matcher.errors import field_errors
from models.durations import parse_duration
from models.limits import MAX_STAY_DAYS
from models.profiles import HostLab
from tests.conftest import host_record


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
