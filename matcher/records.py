"""Read host and researcher records from JSON, JSON Lines or CSV files.

- JSON: a list of records, one record, or an object with a "hosts" / "researchers" list (the bundled sample
  files also carry a "notice" saying the data is fictional).
- JSON Lines (.jsonl): one record a line.
- CSV: one record a row. List columns (sections, keywords, languages, programmes, accepted_stages) are
  separated by ";"; `publications` is a JSON list; `hosting_window` may be given as `hosting_window_min` and
  `hosting_window_max`, fields as `sections` and `keywords`.

Every record is validated; the first file with errors raises InvalidInput naming the record (file and
position, and id when it has one) and each field.

A researcher's publications alone, from a BibTeX, JSON or CSV file: matcher.text.publications.read_publications.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from matcher.errors import FieldError, InvalidInput, field_errors
from matcher.json_depth import load_json
from models.profiles import HostLab, ResearcherProfile

M = TypeVar("M", HostLab, ResearcherProfile)

_LIST_COLUMNS = {"sections", "keywords", "languages", "programmes", "accepted_stages"}
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only, and few enough for int()


def read_hosts(path: str | Path, *, defaults: dict[str, Any] | None = None) -> list[HostLab]:
    """Hosts from a file; `defaults` fill fields a record leaves out (e.g. a call's default capacity)."""
    return read_records(path, HostLab, key="hosts", defaults=defaults)


def read_researchers(path: str | Path) -> list[ResearcherProfile]:
    return read_records(path, ResearcherProfile, key="researchers")


def sample_path(kind: str) -> Path:
    """Path of a bundled sample file: kind is "hosts" or "researchers"."""
    return Path(str(files("models").joinpath("sample", f"{kind}.json")))


@dataclass(frozen=True)
class RecordCheck(Generic[M]):
    """One record of a file, validated: the record when it is valid, else what is wrong with it."""

    position: int  # 1-based, in file order
    label: str  # "labs.csv record 3 (id 'h-x')"
    record: M | None
    problems: tuple[str, ...] = ()


def check_records(
    path: str | Path, model: type[M], *, key: str, defaults: dict[str, Any] | None = None
) -> list[RecordCheck[M]]:
    """Validate every record of a file as `model`, one check per record: its problems name the field, and
    a record reusing an earlier record's id is a problem of the later one.

    Raises:
        InvalidInput: the file itself cannot be read (missing, not UTF-8, not JSON, an unknown format).
    """
    path = Path(path)
    checks: list[RecordCheck[M]] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(_raw_records(path, key), start=1):
        label = _label(path, position, item)
        if not isinstance(item, dict):
            checks.append(RecordCheck(position, label, None, (f"expected an object, got {type(item).__name__}",)))
            continue
        try:
            record = model.model_validate({**(defaults or {}), **item})
        except ValidationError as exc:
            problems = tuple(str(e) for e in field_errors(exc))
            checks.append(RecordCheck(position, label, None, problems))
            continue
        if record.id in seen:
            problem = f"id: {record.id!r} is used again (first at record {seen[record.id]})"
            checks.append(RecordCheck(position, label, None, (problem,)))
            continue
        seen[record.id] = position
        checks.append(RecordCheck(position, label, record))
    return checks


def read_records(path: str | Path, model: type[M], *, key: str, defaults: dict[str, Any] | None = None) -> list[M]:
    """Validate every record of a file as `model`; errors name the record and field.

    Raises:
        InvalidInput: the file is missing, unreadable, of an unknown format, or a record is invalid, or two
            records share an id.
    """
    checks = check_records(path, model, key=key, defaults=defaults)
    problems = [f"{c.label}: {'; '.join(c.problems)}" for c in checks if c.problems]
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise InvalidInput([FieldError("", p) for p in shown], record=str(path))
    return [c.record for c in checks if c.record is not None]


def _label(path: Path, position: int, item: object) -> str:
    record_id = item.get("id") if isinstance(item, dict) else None
    return f"{path.name} record {position}" + (f" (id {record_id!r})" if isinstance(record_id, str) else "")


def _raw_records(path: Path, key: str) -> Iterator[Any]:
    if not path.is_file():
        raise InvalidInput([FieldError("", f"{path}: no such file")])
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            yield from _json_records(path, key)
        elif suffix in {".jsonl", ".ndjson"}:
            yield from _jsonl_records(path)
        elif suffix == ".csv":
            yield from _csv_records(path)
        else:
            raise InvalidInput([FieldError("", f"{path}: unknown format {suffix!r}; use .json, .jsonl or .csv")])
    except UnicodeDecodeError as exc:
        raise InvalidInput([FieldError("", f"{path}: not UTF-8 text ({exc.reason})")]) from exc


def _json_records(path: Path, key: str) -> list[Any]:
    try:
        data = load_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInput([FieldError("", f"{path}: not valid JSON: {exc}")]) from exc
    if isinstance(data, dict) and key in data:
        data = data[key]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise InvalidInput([FieldError("", f"{path}: expected a list of records or an object with {key!r}")])


def _jsonl_records(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = load_json(line)
            except ValueError as exc:
                raise InvalidInput([FieldError("", f"{path} line {number}: not valid JSON: {exc}")]) from exc
            yield record


def _csv_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            yield _from_csv_row(row, f"{path} line {number}")


def _from_csv_row(row: dict[str, str], where: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    fields: dict[str, list[str]] = {}
    window: dict[str, str] = {}
    for column, value in row.items():
        if column is None or value is None or value.strip() == "":
            continue
        column = column.strip()
        if column in {"sections", "keywords"}:
            fields[column] = _split(value)
        elif column in _LIST_COLUMNS:
            record[column] = _split(value)
        elif column in {"hosting_window_min", "hosting_window_max"}:
            window[column.rsplit("_", 1)[1]] = value
        elif column == "publications":
            try:
                record[column] = load_json(value)
            except ValueError as exc:
                raise InvalidInput([FieldError("publications", f"{where}: not a JSON list ({exc})")]) from exc
        elif column in {"capacity", "phd", "phd_expected"} and _WHOLE_NUMBER.fullmatch(value.strip()):
            record[column] = int(value)  # else kept as text, which validation refuses naming the column
        elif column == "jsps_alumni":
            record[column] = value.strip().lower() in {"1", "true", "yes"}
        else:
            record[column] = value
    if fields:
        record["fields"] = fields
    if window:
        record["hosting_window"] = window
    return record


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]
