"""Files staff give a call besides applicants and hosts: exclusions (conflicts they know of) and the hosts'
own rankings of applicants. Errors name the file, the line or the missing columns.

- exclusions: CSV with columns applicant_id, host_id; each pair is never assigned.
- host preferences: JSON {"host_id": ["applicant_id", ...]} (most preferred first), or CSV with columns
  host_id, applicant_id, rank (1 is best).

Ids are case-insensitive, as everywhere (`models.profiles.normalise_id`): "H-B10" names the lab h-b10.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from matcher.errors import FieldError, InvalidInput
from matcher.json_depth import load_json
from models.profiles import normalise_id


def read_exclusions(path: Path) -> set[tuple[str, str]]:
    """Pairs never to assign, from a CSV with columns applicant_id, host_id.

    Raises:
        InvalidInput: no such file, or a column missing.
    """
    rows = _csv_rows(path, {"applicant_id", "host_id"})
    return {(normalise_id(row["applicant_id"]), normalise_id(row["host_id"])) for row in rows}


def read_host_preferences(path: Path) -> dict[str, list[str]]:
    """Each host's applicants, most preferred first: JSON {"host_id": ["applicant_id", ...]} or CSV with
    columns host_id, applicant_id, rank (1 is best).

    Raises:
        InvalidInput: no such file, JSON of another shape, a column missing, or a rank that is not a whole number.
    """
    if path.suffix.lower() == ".json":
        try:
            data = load_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput([FieldError("host-preferences", f"{path}: {exc}")]) from exc
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in data.values()
        ):
            raise InvalidInput([FieldError("host-preferences", f"{path}: expected {{host_id: [applicant_id, ...]}}")])
        return {normalise_id(str(k)): [normalise_id(a) for a in v] for k, v in data.items()}
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for number, row in enumerate(_csv_rows(path, {"host_id", "applicant_id", "rank"}), start=2):
        try:
            rank = int(row["rank"])
        except ValueError:
            message = f"{path} line {number}: {row['rank']!r} is not a whole number"
            raise InvalidInput([FieldError("rank", message)]) from None
        ranked[normalise_id(row["host_id"])].append((rank, normalise_id(row["applicant_id"])))
    return {h: [a for _, a in sorted(pairs)] for h, pairs in ranked.items()}


def _csv_rows(path: Path, needed: set[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise InvalidInput([FieldError("", f"{path}: no such file")])
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput([FieldError(", ".join(sorted(missing)), f"{path}: missing column(s)")])
        return list(reader)
