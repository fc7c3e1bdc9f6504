"""Read a researcher's publications from a file they already have: BibTeX, JSON or CSV.

The format is chosen by the file name's extension:

- `.bib`: BibTeX, read with bibtexparser (2.x). A publication's title comes from `title`, its abstract from
  `abstract`, its year from `year` (or the year of a biblatex `date`), its co-authors from `author`, split
  on " and " as BibTeX does and written "Given Family" ("Müller, Hans" becomes "Hans Müller"; "others"
  is dropped). LaTeX is turned into plain Unicode text: accents (`{\\"u}` is ü), braces (`{Bayesian}`),
  formatting commands (`\\emph{x}` is x) and simple maths (`$\\alpha$` is α). `@string` names are
  resolved when a field is exactly one name; a `#` concatenation is refused rather than read wrongly.
  `@comment`, `@preamble` and text between entries are ignored.
- `.json`: a list of publication objects (title, abstract, year, coauthors), or an object with a
  "publications" list, such as a researcher profile (only its publications are read).
- `.csv`: a header row, then one publication a row; columns title (required), abstract, year and
  coauthors, the co-authors separated by ";".

Every publication is validated as `models.profiles.Publication`. Problems are collected over the whole file
and raised together as one InvalidInput whose messages name the file, the entry (its number, and for BibTeX
its key and line) and the field, e.g. "refs.bib entry 3 (key smith2020, line 14): title: missing".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import bibtexparser
from bibtexparser.middlewares import NormalizeFieldKeys, SeparateCoAuthors, SplitNameParts
from bibtexparser.middlewares.names import NameParts
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    MiddlewareErrorBlock,
    ParsingFailedBlock,
)
from pydantic import ValidationError
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from matcher.errors import FieldError, InvalidInput, field_errors
from matcher.json_depth import load_json
from models.limits import MAX_PUBLICATIONS as MAX_PUBLICATIONS  # also the most a profile may hold
from models.profiles import Publication

CSV_COLUMNS = ("title", "abstract", "year", "coauthors")
_SHOWN_PROBLEMS = 20


@dataclass
class _Item:
    """One publication as read from the file, before validation: its label for messages, the record, and
    problems found while reading it (when there are any, the record is not validated)."""

    label: str
    record: Any = None
    problems: list[str] = field(default_factory=list)


def read_publications(data: bytes | str, *, filename: str) -> list[Publication]:
    """The publications in a .bib, .json or .csv file, in file order.

    Args:
        data: the file's content; bytes must be UTF-8 (a byte-order mark is allowed).
        filename: the file's name; its extension chooses the format, and messages name it.

    Returns:
        At most MAX_PUBLICATIONS publications.

    Raises:
        InvalidInput: an unknown extension, text that is not UTF-8 or not valid in its format, a file with
            no publications or more than MAX_PUBLICATIONS, or entries that are not valid publications (every
            problem is listed, up to 20, each naming the entry and field).
    """
    name = PurePath(filename).name or filename
    suffix = PurePath(filename).suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        known = ", ".join(_READERS)
        raise _invalid(f"{name}: unknown format {suffix or '(no extension)'!r}; use a file ending in {known}")
    items = reader(_decoded(data, name), name)
    if not items:
        raise _invalid(f"{name}: no publications found")
    if len(items) > MAX_PUBLICATIONS:
        raise _invalid(
            f"{name}: {len(items)} publications; at most {MAX_PUBLICATIONS} are read from one file, "
            "so keep the ones closest to the research you plan"
        )
    publications: list[Publication] = []
    problems: list[str] = []
    for item in items:
        if item.problems:
            problems.extend(f"{item.label}: {p}" for p in item.problems)
        elif not isinstance(item.record, dict):
            problems.append(f"{item.label}: expected an object with a title, got {type(item.record).__name__}")
        else:
            try:
                publications.append(Publication.model_validate(item.record))
            except ValidationError as exc:
                problems.extend(f"{item.label}: {error}" for error in field_errors(exc))
    if problems:
        shown = problems[:_SHOWN_PROBLEMS]
        if len(problems) > _SHOWN_PROBLEMS:
            shown.append(f"... and {len(problems) - _SHOWN_PROBLEMS} more")
        raise InvalidInput([FieldError("", p) for p in shown])
    return publications


def _invalid(message: str) -> InvalidInput:
    return InvalidInput([FieldError("", message)])


def _decoded(data: bytes | str, name: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc


# -- BibTeX ---------------------------------------------------------------------------------------------

_ENTRY_HEAD = re.compile(r"@\s*(\w+)\s*[{(]\s*([^,\s{}()]*)")
_NOT_ENTRIES = {"string", "preamble", "comment"}
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
_YEAR = re.compile(r"\d{4}")
_DATE_YEAR = re.compile(r"(\d{4})(?:-\d{1,2}){0,2}(?:/.*)?")


def _latex_decoder() -> LatexNodes2Text:
    """LaTeX to plain text: accents to Unicode, braces and formatting commands dropped, maths as text."""
    context = get_default_latex_context_db()
    # \url{x} is just x (pylatexenc's default writes <x>).
    context.add_context_category("hostmatch", prepend=True, macros=[MacroTextSpec("url", simplify_repl="%s")])
    return LatexNodes2Text(latex_context=context, math_mode="text")


def _plain(decoder: LatexNodes2Text, latex: str) -> str:
    # In a .bib field a bare % is text ("50% of"), but LaTeX would read it as a comment and drop the rest of
    # the line; a tie (~) is a space. Whitespace runs, line breaks included, become one space.
    text: str = decoder.latex_to_text(_UNESCAPED_PERCENT.sub(r"\\%", latex))
    return " ".join(text.split())


def _bibtex_items(text: str, name: str) -> list[_Item]:
    library = bibtexparser.parse_string(
        text, append_middleware=[NormalizeFieldKeys(), SeparateCoAuthors(), SplitNameParts()]
    )
    decoder = _latex_decoder()
    items: list[_Item] = []
    first_at: dict[str, int] = {}
    number = 0  # of the entry: @string, @preamble and @comment blocks are not entries
    for block in library.blocks:
        head = _ENTRY_HEAD.match(block.raw or "")
        if isinstance(block, Entry):
            key = block.key
        elif isinstance(block, ParsingFailedBlock) and head and head.group(1).lower() not in _NOT_ENTRIES:
            key = getattr(block, "key", None) or head.group(2)
        elif isinstance(block, ParsingFailedBlock):  # a broken @string, @preamble or @comment
            items.append(_Item(f"{name} line {_line(block)}", problems=[_failure(block)]))
            continue
        else:
            continue
        number += 1
        item = _Item(f"{name} entry {number} ({f'key {key}, ' if key else ''}line {_line(block)})")
        if isinstance(block, Entry):
            item.record, item.problems = _entry_record(block, decoder)
            first_at.setdefault(key.casefold(), number)
        elif isinstance(block, DuplicateBlockKeyBlock):
            item.problems.append(f"key: {key!r} is used again (first by entry {first_at.get(key.casefold(), '?')})")
        else:
            item.problems.append(_failure(block))
        items.append(item)
    return items


def _line(block: Block) -> int:
    return (block.start_line or 0) + 1  # bibtexparser counts lines from 0


def _failure(block: ParsingFailedBlock) -> str:
    if isinstance(block, DuplicateFieldKeyBlock):
        return f"{', '.join(sorted(block.duplicate_keys))}: given more than once"
    if isinstance(block, MiddlewareErrorBlock):
        reason = getattr(block.error, "reason", None)
        name = getattr(block.error, "name", None)
        if reason and name is not None:
            return f"author: cannot read the name {name!r} ({reason})"
        return f"cannot be read ({block.error})"
    reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
    return f"cannot be read ({reason.strip()}); check that its braces and quotes are closed"


def _entry_record(entry: Entry, decoder: LatexNodes2Text) -> tuple[dict[str, Any], list[str]]:
    """A publication record from a parsed entry, and the problems that stop it being one."""
    fields = entry.fields_dict
    record: dict[str, Any] = {}
    problems: list[str] = []
    for key in ("title", "abstract", "year", "date", "author"):
        if key not in fields:
            continue
        value = fields[key].value  # a str; for "author", a list of NameParts
        if fields[key].enclosing == "no-enclosing" and not str(value).isdigit():
            written = value if isinstance(value, str) else " and ".join(p.merge_first_name_first for p in value)
            problems.append(
                f"{key}: {written!r} is an @string name that is not defined, or a # concatenation, which is not read; "
                "write the text itself in braces"
            )
    if problems:
        return record, problems
    title = _plain(decoder, str(fields["title"].value)) if "title" in fields else ""
    if not title:
        problems.append("title: missing")
    record["title"] = title
    if "abstract" in fields:
        record["abstract"] = _plain(decoder, str(fields["abstract"].value))
    if "year" in fields:
        year = str(fields["year"].value).strip()
        if _YEAR.fullmatch(year):
            record["year"] = int(year)
        else:
            problems.append(f"year: {year!r} is not a year like 2020; leave the field out when it is not known")
    elif "date" in fields and (found := _DATE_YEAR.fullmatch(str(fields["date"].value).strip())):
        record["year"] = int(found.group(1))
    if "author" in fields:
        record["coauthors"] = [
            person for parts in fields["author"].value if (person := _person(decoder, parts)) and person != "others"
        ]
    return record, problems


def _person(decoder: LatexNodes2Text, parts: NameParts) -> str:
    """ "Given von Family Jr", each part decoded from LaTeX."""
    words = [*parts.first, *parts.von, *parts.last, *parts.jr]
    return " ".join(word for word in (_plain(decoder, w) for w in words) if word)


# -- JSON and CSV ---------------------------------------------------------------------------------------


def _json_items(text: str, name: str) -> list[_Item]:
    try:
        data = load_json(text)
    except ValueError as exc:
        raise _invalid(f"{name}: not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "publications" in data:
        data = data["publications"]
    if not isinstance(data, list):
        raise _invalid(f'{name}: expected a list of publications, or an object with a "publications" list')
    return [_Item(f"{name} publication {number}", item) for number, item in enumerate(data, start=1)]


def _csv_items(text: str, name: str) -> list[_Item]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column.strip().lower() for column in reader.fieldnames or []]
    if not header:
        return []
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if unknown or "title" not in header:
        problem = f"unknown column {unknown[0]!r}" if unknown else "no title column"
        raise _invalid(f"{name}: {problem}; the columns are {', '.join(CSV_COLUMNS)} (title required)")
    reader.fieldnames = header
    items = []
    # Rows are numbered as a spreadsheet shows them: the header is row 1.
    for number, row in enumerate(reader, start=2):
        item = _Item(f"{name} row {number}")
        if None in row:
            extra = len(row[None])
            item.problems.append(f"{extra} value{'s' if extra > 1 else ''} beyond the {len(header)} columns")
        values = {column: (value or "").strip() for column, value in row.items() if column is not None}
        if values.get("title"):
            item.record = {"title": values["title"], "abstract": values.get("abstract", "")}
            if values.get("year"):
                item.record["year"] = values["year"]
            item.record["coauthors"] = [p.strip() for p in values.get("coauthors", "").split(";") if p.strip()]
        else:
            item.problems.append("title: missing")
        items.append(item)
    return items


_READERS: dict[str, Callable[[str, str], list[_Item]]] = {
    ".bib": _bibtex_items,
    ".json": _json_items,
    ".csv": _csv_items,
}
