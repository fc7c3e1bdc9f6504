"""Lengths of stay.

Programmes state tenure in days (Invitational Short-term: 14–60 days) or months (Standard: 12–24 months), and
people say either. hostmatch keeps every length as a whole number of days; a month is 365.25 / 12 days, so
"12 months" is 365 days and "24 months" 730.

A length is positive and at most `MAX_STAY_YEARS` (10) years: no programme comes near it, and a larger
number ("999 years", 1e308 days, Infinity) is a mistake, refused with a message that says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from models.limits import MAX_STAY_DAYS, MAX_STAY_YEARS
from models.text import cut, shown

DAYS_PER_MONTH = 365.25 / 12
_UNITS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH, "year": 12 * DAYS_PER_MONTH}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


def months(n: float) -> int:
    """`n` months in days."""
    return round(n * DAYS_PER_MONTH)


def parse_duration(value: Any) -> int:
    """Turn "18 months", "30 days", {"months": 18} or a bare number of days into days.

    Raises:
        ValueError: the value is not a length of stay, or not a finite positive length of at most
            MAX_STAY_YEARS years (the message says what is accepted, or what the limit is).
    """
    if isinstance(value, bool):
        raise ValueError("expected a length such as '30 days' or '12 months', not a boolean")
    if isinstance(value, int | float):
        return _whole_days(value, 1.0, f"{shown(value)} days")
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None:
            raise ValueError(f"{shown(value)} is not a length such as '30 days', '3 weeks' or '12 months'")
        return _whole_days(float(match.group(1)), _UNITS[match.group(2).lower()], cut(value.strip()))
    if isinstance(value, Mapping) and len(value) == 1:
        ((unit, amount),) = value.items()
        unit = str(unit).rstrip("s")
        if unit in _UNITS and isinstance(amount, int | float) and not isinstance(amount, bool):
            return _whole_days(amount, _UNITS[unit], f"{shown(amount)} {unit}s")
    raise ValueError("expected a length such as '30 days', '12 months' or {\"months\": 12}")


def _whole_days(amount: float, unit_days: float, shown_as: str) -> int:
    """`amount` units of `unit_days` days, rounded to whole days (at least one), within the bounds."""
    try:
        days = float(amount) * unit_days
    except OverflowError:  # an int too large for a float
        days = math.inf if amount > 0 else -math.inf
    if math.isnan(days):
        raise ValueError(f"a length of stay must be a number, got {shown_as}")
    if days <= 0:
        raise ValueError(f"a length of stay must be positive, got {shown_as}")
    if days > MAX_STAY_DAYS:
        raise ValueError(f"a stay of {shown_as} is longer than the {MAX_STAY_YEARS}-year limit")
    return max(1, round(days))


def format_days(days: int) -> str:
    """Say a length the way programmes do: whole months from 2 months up when it is one, else days.

    "n months" is said only when it reads back as exactly `days` (`months(n) == days`): profiles are stored
    in this form, so a length that read back one day off (92 days as "3 months", 91) would change each time
    a record is stored and read.
    """
    n_months = round(days / DAYS_PER_MONTH)
    if n_months >= 2 and months(n_months) == days:
        return f"{n_months} months"
    return f"{days} days"


_DAYS_DESCRIPTION = (
    f"A length of stay, at most {MAX_STAY_YEARS} years: a number of days, or a length such as '30 days', "
    "'3 weeks' or '12 months', or {\"months\": 12} as input; written back as '30 days' or '12 months'."
)

# One JSON schema for input and output alike (an OpenAPI document has one schema per model, used for both):
# a number of days or a length in words as input, a length in words as output.
_DAYS_SCHEMA = {
    "description": _DAYS_DESCRIPTION,
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_STAY_DAYS},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(day|week|month|year)s?\s*$", "examples": ["12 months"]},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            "propertyNames": {"enum": ["days", "weeks", "months", "years"]},
        },
    ],
}

Days = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(gt=0, le=MAX_STAY_DAYS),
    PlainSerializer(format_days, return_type=str, when_used="json"),
    WithJsonSchema(_DAYS_SCHEMA),
]
