"""Staff uploads: labs or researchers from JSON, JSON Lines or CSV, or one record's publications from BibTeX.

Two steps, so nothing is written that staff have not seen: the file is validated record by record and the
report says what each record would do (add, update, leave unchanged) or what is wrong with it; only a file
without errors can be confirmed, and the confirmed write is all or nothing (labs through the catalogue, so
the index follows; researchers in one transaction). Between the two steps the validated records wait in
`<HOME>/uploads`, readable only by the staff member who sent them, for at most a day.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flask import current_app, g, render_template, request
from flask_babel import gettext
from pydantic import ValidationError

from matcher.errors import FieldError, InvalidInput, field_errors
from matcher.records import RecordCheck, check_records
from matcher.text.publications import read_publications
from models.profiles import HostLab, ResearcherProfile
from service.matching import Written, catalogue, write_researchers
from service.tokens import Scope
from service.web import Page

Kind = Literal["hosts", "researchers", "publications"]
RECORD_SUFFIXES = (".json", ".jsonl", ".csv")
STAGED_FOR = 24 * 3600  # seconds a validated upload waits for its confirmation


@dataclass(frozen=True)
class Row:
    """One record of the report: where it is in the file, its id, and what confirming would do."""

    label: str
    record_id: str | None
    action: Literal["add", "update", "unchanged", "error"]
    problems: tuple[str, ...] = ()


def upload_form(error: str | None = None, status: int = 200) -> Page:
    page = render_template("staff/upload.html", error=error, values=request.form if request.method == "POST" else {})
    return (page, status) if status != 200 else page


def validate_upload(need: Callable[[Scope], None]) -> Page:
    """Step one: validate the file and show the report; stage the records when every one is valid."""
    kind = request.form.get("kind", "")
    if kind not in ("hosts", "researchers", "publications"):
        return upload_form(gettext("Choose what you are uploading."), 422)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return upload_form(gettext("Choose a file to upload."), 422)
    target_kind = request.form.get("owner_kind", "researchers") if kind == "publications" else kind
    need("admin" if target_kind == "hosts" else "staff")
    try:
        if kind == "publications":
            rows, records = _publication_rows(upload.read(), upload.filename, target_kind)
        else:
            rows, records = _record_rows(upload.read(), upload.filename, "hosts" if kind == "hosts" else "researchers")
    except InvalidInput as exc:
        return upload_form(gettext("The file could not be read: %(problem)s", problem=str(exc)), 422)
    errors = [r for r in rows if r.action == "error"]
    token = None if errors or not records else _stage(target_kind, records)
    page = render_template(
        "staff/upload_report.html",
        rows=rows,
        errors=len(errors),
        token=token,
        kind=target_kind,
        filename=upload.filename,
    )
    return (page, 422) if errors else page


def confirm_upload(need: Callable[[Scope], None]) -> Page:
    """Step two: write the staged records, all or nothing, and say what was added, updated and unchanged."""
    staged = _unstage(request.form.get("token", ""))
    if staged is None:
        return upload_form(gettext("This upload has expired or was already written. Upload the file again."), 410)
    kind, payload = staged
    need("admin" if kind == "hosts" else "staff")
    cat = catalogue()
    if kind == "hosts":
        hosts = [HostLab.model_validate(r) for r in payload]
        written = Written.of(hosts, {h.id: cat.engine.hosts[h.id] for h in hosts if h.id in cat.engine.hosts})
        cat.upsert_hosts(hosts)
        summary = {"added": written.created, "updated": written.updated, "unchanged": written.unchanged}
    else:
        written = write_researchers([ResearcherProfile.model_validate(r) for r in payload])
        summary = {"added": written.created, "updated": written.updated, "unchanged": written.unchanged}
    cat.store.record_run(
        actor=g.staff.name,
        kind="upload",
        subject=kind,
        parameters={"records": len(payload)},
        results=[[name, ids] for name, ids in summary.items()],
    )
    return render_template("staff/upload_done.html", kind=kind, summary=summary)


# -- validation -----------------------------------------------------------------------------------------


def _record_rows(data: bytes, filename: str, kind: Kind) -> tuple[list[Row], list[dict[str, Any]]]:
    suffix = Path(filename).suffix.lower()
    if suffix not in RECORD_SUFFIXES:
        message = gettext("use a .json, .jsonl or .csv file, not %(suffix)s", suffix=suffix or "?")
        raise InvalidInput([FieldError("file", message)])
    model: type[HostLab] | type[ResearcherProfile] = HostLab if kind == "hosts" else ResearcherProfile
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(data)
        checks: Sequence[RecordCheck[Any]] = check_records(path, model, key=kind)
    stored = _stored(kind, [c.record.id for c in checks if c.record is not None])
    rows, records = [], []
    for check in checks:
        if check.record is None:
            rows.append(Row(check.label, None, "error", check.problems))
            continue
        rows.append(Row(check.label, check.record.id, _action(check.record, stored)))
        records.append(check.record.model_dump(mode="json"))
    return rows, records


def _publication_rows(data: bytes, filename: str, owner_kind: str) -> tuple[list[Row], list[dict[str, Any]]]:
    """One stored record with the file's publications added after its own (or instead of them)."""
    owner_id = request.form.get("owner_id", "").strip()
    kind: Kind = "hosts" if owner_kind == "hosts" else "researchers"
    stored = _stored(kind, [owner_id])
    if owner_id not in stored:
        message = gettext("there is no stored record with the id %(id)s", id=owner_id or "—")
        raise InvalidInput([FieldError("owner_id", message)])
    publications = read_publications(data, filename=filename)
    record = stored[owner_id]
    kept = () if request.form.get("replace") == "yes" else record.publications
    updated = record.model_copy(update={"publications": (*kept, *publications)})
    try:  # the combined record must still be valid (e.g. the publication cap)
        model = HostLab if kind == "hosts" else ResearcherProfile
        checked = model.model_validate(updated.model_dump(mode="json"))
    except ValidationError as exc:
        return [Row(filename, owner_id, "error", tuple(str(e) for e in field_errors(exc)))], []
    label = gettext("%(n)s publications from %(file)s", n=len(publications), file=filename)
    return [Row(label, owner_id, _action(checked, stored))], [checked.model_dump(mode="json")]


def _stored(kind: Kind, ids: list[str]) -> dict[str, Any]:
    cat = catalogue()
    if kind == "hosts":
        return {h: cat.engine.hosts[h] for h in ids if h in cat.engine.hosts}
    return dict(cat.store.get_researchers(ids))


def _action(record: HostLab | ResearcherProfile, stored: dict[str, Any]) -> Literal["add", "update", "unchanged"]:
    if record.id not in stored:
        return "add"
    return "unchanged" if stored[record.id] == record else "update"


# -- staging --------------------------------------------------------------------------------------------


def _folder() -> Path:
    folder = Path(current_app.config["HOME"]) / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = time.time()
    for old in folder.glob("*.json"):  # forget uploads nobody confirmed
        if now - old.stat().st_mtime > STAGED_FOR:
            old.unlink(missing_ok=True)
    return folder


def _stage(kind: str, records: list[dict[str, Any]]) -> str:
    token = secrets.token_urlsafe(16)
    payload = {"kind": kind, "actor": g.staff.name, "records": records}
    path = _folder() / f"{token}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return token


def _unstage(token: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The staged records of `token` if they exist and were sent by the same staff member; removed once read."""
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        return None
    path = _folder() / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if payload.get("actor") != g.staff.name:
        return None
    path.unlink(missing_ok=True)
    return str(payload["kind"]), list(payload["records"])
