"""The applicant's profile form: what was typed, to and from a `ResearcherProfile`, with errors in plain words.

The form is validated by the same pydantic model as the API (`ResearcherProfile`): this module only turns
form fields into the model's input, and the model's errors into sentences a person says, beside the field
they belong to ("Enter the year your PhD was awarded, like 2021", not "phd.int: Input should be a valid
integer"). Whatever was typed is kept, so a page with errors shows every answer again.

The form also checks PhD years against today's date, which the model must not do (a stored profile is
validated again whenever it is read, years later): an applicant typing a PhD year in the future is told at
once to give it as "in progress", and an expected year is asked for within ten years from now.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext, lazy_gettext
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from models.durations import DAYS_PER_MONTH
from models.limits import MAX_PUBLICATIONS
from models.profiles import Publication, ResearcherProfile

ANONYMOUS_ID = "me"  # an applicant's own profile is never stored, so it needs no unique id
ANONYMOUS_NAME = "Applicant"  # the name of a profile whose applicant gave none (the page then says "you")
_PUBLICATION_FIELD = re.compile(r"^pub-(\d+)-(title|abstract|year|coauthors)$")
_UNITS = {"months": DAYS_PER_MONTH, "weeks": 7.0, "days": 1.0}

# One sentence per field, said the way a person would, for any problem with that field's value. A field
# with several kinds of problem has a sentence per kind; "" is the default.
_MESSAGES: dict[str, dict[str, Any]] = {
    "institution": {
        "": lazy_gettext("Enter the university or institute where you work now, like University of Bristol."),
        "string_too_long": lazy_gettext("Shorten the name of your institution to 300 characters or fewer."),
    },
    "name": {"string_too_long": lazy_gettext("Shorten your name to 300 characters or fewer.")},
    "country": {"": lazy_gettext("Choose the country where you work now.")},
    "nationality": {"": lazy_gettext("Choose your nationality from the list, or leave it blank.")},
    "statement": {
        "": lazy_gettext(
            "Enter your research statement: a few sentences on your research and what you want to do in Japan."
        ),
        "string_too_long": lazy_gettext("Shorten your research statement to 20,000 characters or fewer."),
    },
    "phd_year": {
        "": lazy_gettext("Enter the year your PhD was awarded as four digits, like 2021."),
        "future": lazy_gettext(
            "The year your PhD was awarded can't be in the future. If you are still working on it, "
            "choose “in progress” and give the year you expect to finish."
        ),
        "after_start": lazy_gettext(
            "The year your PhD was awarded can't be after the date you would start. If you are still working "
            "on it, choose “in progress” and give the year you expect to finish."
        ),
        "range": lazy_gettext("Enter a year from 1940 onwards, like 2021."),
    },
    "phd_expected": {
        "": lazy_gettext("Enter the year you expect to finish your PhD as four digits, like 2027."),
        "range": lazy_gettext("Enter a year from last year up to ten years from now, like 2027."),
    },
    "position": {"": lazy_gettext("Choose your current position.")},
    "stay_amount": {
        "": lazy_gettext("Enter how long you want to stay in Japan as a whole number, like 12."),
        "positive": lazy_gettext("Enter a length of stay of at least 1."),
    },
    "desired_start": {"": lazy_gettext("Enter the date you would like to start, like 2027-04-01.")},
    "languages": {"": lazy_gettext("Choose the languages from the list.")},
    "programmes": {"": lazy_gettext("Choose the programmes from the list.")},
    "sections": {"": lazy_gettext("Choose KAKENHI sections from the list.")},
    "keywords": {"": lazy_gettext("Keep each keyword to 300 characters or fewer, separated by commas.")},
    "publications": {
        "": lazy_gettext("Add at most %(n)s publications; remove some rows.", n=MAX_PUBLICATIONS),
    },
}
_PUBLICATION_MESSAGES: dict[str, Callable[[int], str]] = {
    "title": lambda n: gettext("Give a title for publication %(n)s, or clear its row.", n=n),
    "abstract": lambda n: gettext("Shorten the abstract of publication %(n)s to 20,000 characters or fewer.", n=n),
    "year": lambda n: gettext("Enter the year of publication %(n)s as four digits, like 2023, or leave it blank.", n=n),
    "coauthors": lambda n: gettext(
        "List the co-authors of publication %(n)s separated by semicolons, each 300 characters or fewer.", n=n
    ),
}
# Where each top-level model field is shown on the form.
_FORM_FIELD = {"phd": "phd_year", "desired_tenure": "stay_amount", "fields": "sections"}


@dataclass
class ProfileForm:
    """The form's values as typed (strings, lists for multiple choices), its publication rows, and errors by
    form field name."""

    values: dict[str, Any] = field(default_factory=dict)
    publications: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    MULTIPLE = ("languages", "programmes", "sections")

    @classmethod
    def blank(cls) -> ProfileForm:
        return cls(
            values={"phd_status": "awarded", "stay_unit": "months", "languages": ["en"]},
            publications=[_empty_row()],
        )

    @classmethod
    def from_request(cls, form: MultiDict[str, str]) -> ProfileForm:
        values: dict[str, Any] = {}
        for key in form:
            if _PUBLICATION_FIELD.match(key) or key == "csrf_token":
                continue
            values[key] = [v for v in form.getlist(key) if v] if key in cls.MULTIPLE else form.get(key, "").strip()
        for key in cls.MULTIPLE:
            values.setdefault(key, [])
        rows: dict[int, dict[str, str]] = {}
        for key in form:
            match = _PUBLICATION_FIELD.match(key)
            if match:
                rows.setdefault(int(match.group(1)), _empty_row())[match.group(2)] = form.get(key, "").strip()
        publications = [rows[i] for i in sorted(rows)]
        return cls(values=values, publications=publications or [_empty_row()])

    @classmethod
    def from_profile(cls, profile: ResearcherProfile) -> ProfileForm:
        """The form a stored or submitted profile fills (to edit it again)."""
        in_progress = profile.phd == "in progress"
        amount, unit = _stay_parts(profile.desired_tenure)
        values = {
            "name": "" if profile.name == ANONYMOUS_NAME else profile.name,
            "institution": profile.institution,
            "country": profile.country,
            "nationality": profile.nationality or "",
            "statement": profile.statement,
            "phd_status": "in_progress" if in_progress else "awarded",
            "phd_year": "" if in_progress else str(profile.phd),
            "phd_expected": str(profile.phd_expected or ""),
            "position": str(profile.position),
            "stay_amount": amount,
            "stay_unit": unit,
            "desired_start": profile.desired_start.isoformat() if profile.desired_start else "",
            "languages": sorted(profile.languages),
            "programmes": sorted(profile.programmes),
            "jsps_alumni": "yes" if profile.jsps_alumni else "",
            "sections": list(profile.fields.sections),
            "keywords": ", ".join(profile.fields.keywords),
        }
        rows = [
            {
                "title": p.title,
                "abstract": p.abstract,
                "year": str(p.year or ""),
                "coauthors": "; ".join(p.coauthors),
            }
            for p in profile.publications
        ]
        return cls(values=values, publications=rows or [_empty_row()])

    def add_publications(self, publications: list[Publication]) -> None:
        """Fill the form's rows with publications read from a file (after the rows already filled in)."""
        kept = [row for row in self.publications if any(row.values())]
        kept.extend(
            {"title": p.title, "abstract": p.abstract, "year": str(p.year or ""), "coauthors": "; ".join(p.coauthors)}
            for p in publications
        )
        self.publications = kept or [_empty_row()]

    def add_row(self) -> None:
        if len(self.publications) < MAX_PUBLICATIONS:
            self.publications.append(_empty_row())

    def remove_row(self, index: int) -> None:
        if 0 <= index < len(self.publications):
            del self.publications[index]
        if not self.publications:
            self.publications.append(_empty_row())

    def to_profile(self) -> ResearcherProfile | None:
        """The profile the form describes, or None with `errors` filled in (form field -> sentence)."""
        self.errors = {}
        record = self._record()
        if self.errors:
            self._validate_rest(record)
            return None
        try:
            return ResearcherProfile.model_validate(record)
        except ValidationError as exc:
            self._collect(exc)
            return None

    # -- internals -------------------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        """The model's input. Values only the form has (a year typed as text, a stay as a number and a
        unit) are checked here; every other check is the model's."""
        v = self.values
        record: dict[str, Any] = {
            "id": ANONYMOUS_ID,
            "name": v.get("name") or ANONYMOUS_NAME,
            "institution": v.get("institution", ""),
            "country": v.get("country", ""),
            "nationality": v.get("nationality") or None,
            "statement": v.get("statement", ""),
            "position": v.get("position", ""),
            "languages": v.get("languages") or ["en"],
            "programmes": v.get("programmes", []),
            "jsps_alumni": v.get("jsps_alumni") == "yes",
            "fields": {"sections": v.get("sections", []), "keywords": _split(v.get("keywords", ""), ",")},
        }
        this_year = dt.date.today().year  # the form is filled in today; see the module docstring
        if v.get("phd_status") == "in_progress":
            record["phd"] = "in progress"
            expected = v.get("phd_expected", "")
            if expected:
                record["phd_expected"] = year = self._year(expected, "phd_expected")
                if year is not None and not this_year - 1 <= year <= this_year + 10:
                    self.errors["phd_expected"] = str(_MESSAGES["phd_expected"]["range"])
        else:
            record["phd"] = year = self._year(v.get("phd_year", ""), "phd_year")
            if year is not None and year > this_year:
                self.errors["phd_year"] = str(_MESSAGES["phd_year"]["future"])
        record["desired_tenure"] = self._stay()
        if v.get("desired_start"):
            try:
                record["desired_start"] = dt.date.fromisoformat(v["desired_start"])
            except ValueError:
                self.errors["desired_start"] = str(_MESSAGES["desired_start"][""])
        rows = [row for row in self.publications if any(row.values())]
        if len(rows) > MAX_PUBLICATIONS:
            self.errors["publications"] = str(_MESSAGES["publications"][""])
        record["publications"] = [self._publication(i, row) for i, row in enumerate(rows)]
        return record

    def _year(self, text: str, name: str) -> int | None:
        if re.fullmatch(r"\d{4}", text.strip()):
            return int(text)
        self.errors[name] = str(_MESSAGES[name][""])
        return None

    def _stay(self) -> str | None:
        amount, unit = self.values.get("stay_amount", ""), self.values.get("stay_unit", "months")
        if not re.fullmatch(r"\d{1,4}", amount) or unit not in _UNITS:
            self.errors["stay_amount"] = str(_MESSAGES["stay_amount"][""])
            return None
        if int(amount) < 1:
            self.errors["stay_amount"] = str(_MESSAGES["stay_amount"]["positive"])
            return None
        return f"{int(amount)} {unit}"

    def _publication(self, index: int, row: Mapping[str, str]) -> dict[str, Any]:
        publication: dict[str, Any] = {
            "title": row.get("title", ""),
            "abstract": row.get("abstract", ""),
            "coauthors": _split(row.get("coauthors", ""), ";"),
        }
        year = row.get("year", "").strip()
        if year:
            if re.fullmatch(r"\d{4}", year):
                publication["year"] = int(year)
            else:
                self.errors[f"pub-{index}-year"] = _PUBLICATION_MESSAGES["year"](index + 1)
        return publication

    def _validate_rest(self, record: dict[str, Any]) -> None:
        """Report the model's errors too, for the fields the form's own checks did not already flag."""
        placeholder = {"phd": 2000, "desired_tenure": "1 months", "phd_expected": None}
        try:
            ResearcherProfile.model_validate({**record, **{k: v for k, v in placeholder.items() if not record.get(k)}})
        except ValidationError as exc:
            self._collect(exc)

    def _collect(self, exc: ValidationError) -> None:
        for error in exc.errors():
            name, message = self._message(error)
            self.errors.setdefault(name, message)

    def _message(self, error: Mapping[str, Any]) -> tuple[str, str]:
        loc = [str(part) for part in error["loc"]]
        kind = str(error["type"])
        if loc and loc[0] == "publications" and len(loc) >= 3 and loc[1].isdigit():
            index, part = int(loc[1]), loc[2]
            rows = [i for i, row in enumerate(self.publications) if any(row.values())]
            shown = rows[index] if index < len(rows) else index
            message = _PUBLICATION_MESSAGES.get(part, _PUBLICATION_MESSAGES["title"])
            return f"pub-{shown}-{part}", message(shown + 1)
        top = loc[0] if loc else ""
        name = _FORM_FIELD.get(top, top)
        if top == "fields" and len(loc) > 1:
            name = "keywords" if loc[1] == "keywords" else "sections"
        messages = _MESSAGES.get(name, {})
        if name == "phd_year" and "after the desired start" in str(error.get("msg", "")):
            return name, str(messages["after_start"])
        if name == "phd_year" and "plausible" in str(error.get("msg", "")):
            return name, str(messages["range"])
        if name == "phd_expected" and kind == "value_error":
            return name, str(messages["range"])
        chosen = messages.get(kind) or messages.get("")
        if chosen is None:  # a field without its own sentence: the model's words, without jargon
            return name, gettext("Check this answer: %(problem)s.", problem=str(error.get("msg", "")).rstrip("."))
        return name, str(chosen)


def _empty_row() -> dict[str, str]:
    return {"title": "", "abstract": "", "year": "", "coauthors": ""}


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def _stay_parts(days: int) -> tuple[str, str]:
    """A stay in the unit it was most likely given in: whole months, else whole weeks, else days."""
    n_months = days / DAYS_PER_MONTH
    if abs(n_months - round(n_months)) * DAYS_PER_MONTH < 1 and round(n_months) >= 1:
        return str(round(n_months)), "months"
    if days % 7 == 0:
        return str(days // 7), "weeks"
    return str(days), "days"
