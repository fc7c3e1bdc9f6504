"""Calls run from the staff pages: the applicants and settings chosen on a page, matched in the background.

A call is a folder under `<HOME>/calls/<id>/`: `call.json` (who started it, when, with which settings),
the applicants and exclusions it was given, `status.json`, the outputs in `out/`, and the process's log.
The page starts `hostmatch batch --from-store --status-file …` as a separate process (the command staff
would run themselves), so a call outlives the web worker that started it and any page reload; every
worker reads the same status file. A process that died without finishing is noticed (its pid is gone) and
the page says so.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from flask import abort, current_app, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from werkzeug.wrappers import Response

from matcher.calls.inputs import read_exclusions, read_host_preferences
from matcher.errors import FieldError, InvalidInput
from matcher.records import check_records
from models.profiles import ResearcherProfile
from models.programmes import PROGRAMME_IDS
from service.matching import catalogue
from service.web import Page, options

OUTPUTS = ("assignments.csv", "shortlists.csv", "report.json", "report.html")
FINISHED = ("done", "failed")
Launcher = Callable[[Sequence[str], Path], None]


class CallForm(BaseModel):
    """The settings a staff member chooses for a call (the same ranges as `hostmatch batch`)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="", max_length=200)
    applicants: Literal["stored", "file"] = "stored"
    method: Literal["flow", "stable"] = "flow"
    per_applicant: int = Field(default=1, ge=1, le=10)
    min_load: int = Field(default=0, ge=0, le=100)
    institution_share: float | None = Field(default=None, gt=0, le=1)
    min_score: float = Field(default=0.0, ge=0, le=1)
    programme: str | None = None
    shortlist: int = Field(default=10, ge=1, le=100)
    candidates: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _method_fits(self) -> CallForm:
        if self.programme is not None and self.programme not in PROGRAMME_IDS:
            raise ValueError("programme: choose a programme from the list")
        if self.method == "stable" and (self.per_applicant != 1 or self.min_load or self.institution_share):
            raise ValueError(
                "method: stable matching gives one lab per applicant, without minimum loads or an institution cap"
            )
        return self

    def arguments(self) -> list[str]:
        """The `hostmatch batch` options for these settings."""
        args = ["--method", self.method, "--shortlist", str(self.shortlist), "--candidates", str(self.candidates)]
        args += ["--min-score", str(self.min_score)]
        if self.method == "flow":
            args += ["--per-applicant", str(self.per_applicant), "--min-load", str(self.min_load)]
            if self.institution_share:
                args += ["--institution-share", str(self.institution_share)]
        if self.programme:
            args += ["--programme", self.programme]
        return args


# -- pages ----------------------------------------------------------------------------------------------


def calls_page(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Page:
    page = render_template(
        "staff/calls.html",
        calls=list_calls(),
        values=form or {},
        errors=errors or {},
        researchers=catalogue().store.count("researchers"),
        labs=len(catalogue().engine.hosts),
        programme_choices=options.programme_choices(),
    )
    return (page, status) if status != 200 else page


def start_call() -> Page | Response:
    """Check the form and its files, set up the call's folder, start the call, and show its page."""
    raw = {k: v for k, v in request.form.items() if k != "csrf_token" and v != ""}
    try:
        settings = CallForm.model_validate(raw)
    except ValidationError as exc:
        return calls_page(raw, _form_errors(exc), 422)
    folder = _new_folder()
    try:
        args = _inputs(settings, folder)
    except InvalidInput as exc:
        _remove(folder)
        return calls_page(raw, {e.field or "applicants_file": e.message for e in exc.errors}, 422)
    out = folder / "out"
    argv = [
        sys.executable, "-m", "scripts.cli", "--home", str(_home()), "batch", "--from-store",
        "--out", str(out), "--status-file", str(folder / "status.json"), *args, *settings.arguments(),
    ]  # fmt: skip
    record = {
        "id": folder.name,
        "name": settings.name or folder.name,
        "started_at": _now(),
        "actor": g.staff.name,
        "settings": settings.model_dump(),
    }
    _write_json(folder / "call.json", record)
    launcher: Launcher = current_app.config.get("CALL_LAUNCHER") or start_process
    launcher(argv, folder)
    catalogue().store.record_run(
        actor=g.staff.name, kind="call", subject=folder.name, parameters=settings.model_dump(mode="json"), results=[]
    )
    return redirect(url_for("staff.call", call_id=folder.name))


def call_page(call_id: str) -> str:
    folder = _folder_of(call_id)
    call = _read_json(folder / "call.json") or {}
    state = call_state(folder)
    report = _read_json(folder / "out" / "report.json") if state["stage"] == "done" else None
    return render_template("staff/call.html", call=call, state=state, report=report, outputs=OUTPUTS)


def call_status(call_id: str) -> Response:
    return jsonify(call_state(_folder_of(call_id)))


def call_file(call_id: str, name: str) -> Response:
    """One output of a finished call. The HTML report may only style itself and show its own images."""
    if name not in OUTPUTS:
        abort(404)
    path = _folder_of(call_id) / "out" / name
    if not path.is_file():
        abort(404, gettext("This call has not written %(name)s yet.", name=name))
    inline = name.endswith(".html")
    response = send_file(path, as_attachment=not inline, download_name=f"{call_id}-{name}", max_age=0)
    if inline:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
        )
    return response


# -- state ----------------------------------------------------------------------------------------------


def call_state(folder: Path) -> dict[str, Any]:
    """What the page shows of a call: the status file's stage and counts, the overall percentage, a sentence,
    and whether it has finished (a process that vanished before finishing counts as failed)."""
    status = _read_json(folder / "status.json") or {"stage": "starting", "done": 0, "total": 0, "percent": 0.0}
    stage = str(status.get("stage", "starting"))
    if stage not in FINISHED and not _running(folder):
        stage = "failed"
        said = _last_line(folder / "log.txt")
        status["error"] = status.get("error") or gettext(
            "The call stopped before it finished (its process is gone%(said)s). Start it again; texts already "
            "embedded are not embedded again.",
            said=f": {said}" if said else "",
        )
    percent = 100.0 if stage == "done" else float(status.get("percent") or 0.0)
    return {
        "stage": stage,
        "done": int(status.get("done") or 0),
        "total": int(status.get("total") or 0),
        "percent": round(percent, 1),
        "eta_seconds": status.get("eta_seconds"),
        "error": status.get("error"),
        "finished": stage in FINISHED,
        "text": _sentence(stage, status),
    }


def _last_line(path: Path) -> str:
    """The last line the call's process wrote, which says why it stopped when it stopped on its own."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return lines[-1][:300] if lines else ""


def _sentence(stage: str, status: dict[str, Any]) -> str:
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    eta = status.get("eta_seconds")
    left = gettext(" About %(n)s s left.", n=round(eta)) if isinstance(eta, int | float) and eta >= 1 else ""
    sentences: dict[str, str] = {
        "starting": gettext("Starting: loading the model and the labs."),
        "converting": gettext("Converting the model for first use (once per data folder)."),
        "embedding": gettext("Embedding the applicants' texts: %(done)s of %(total)s.", done=done, total=total),
        "scoring": gettext("Scoring applicants: %(done)s of %(total)s.", done=done, total=total),
        "solving": gettext("Solving the assignment."),
        "writing": gettext("Writing the outputs."),
        "done": gettext("Done."),
        "failed": gettext("The call failed: %(error)s", error=status.get("error") or "?"),
    }
    text = sentences.get(stage, stage)
    return text + (left if stage not in FINISHED else "")


def list_calls() -> list[dict[str, Any]]:
    """Every call of the data folder, newest first, with its state."""
    root = _home() / "calls"
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir(), reverse=True):
        call = _read_json(folder / "call.json")
        if call is not None:
            found.append({**call, "state": call_state(folder)})
    return found


# -- processes ------------------------------------------------------------------------------------------


def start_process(argv: Sequence[str], folder: Path) -> None:
    """Start the call as its own process (its own session, so it outlives the web worker), its output in
    `log.txt`; a thread reaps it when it ends. Its pid goes in `pid` so any worker can tell if it is alive."""
    env = {**os.environ, "HOSTMATCH_HOME": str(_home())}
    for key in ("DATABASE_URL", "MODEL", "BACKEND"):
        if current_app.config.get(key):
            env[f"HOSTMATCH_{key}"] = str(current_app.config[key])
    with (folder / "log.txt").open("ab") as log:
        process = subprocess.Popen(
            list(argv), stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    (folder / "pid").write_text(str(process.pid), encoding="ascii")
    threading.Thread(target=process.wait, name=f"call-{folder.name}", daemon=True).start()


def _running(folder: Path) -> bool:
    """Whether the call's process is alive. A call without a pid file is still being set up."""
    try:
        pid = int((folder / "pid").read_text(encoding="ascii"))
    except FileNotFoundError:
        return True
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped) is not running
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


# -- inputs ---------------------------------------------------------------------------------------------


def _inputs(settings: CallForm, folder: Path) -> list[str]:
    """Write the call's input files into its folder and return the options that name them.

    Raises:
        InvalidInput: an uploaded file is not valid (the field names which), or there are no applicants.
    """
    args: list[str] = []
    applicants = folder / "applicants.jsonl"
    if settings.applicants == "file":
        upload = request.files.get("applicants_file")
        if upload is None or not upload.filename:
            raise InvalidInput([_problem("applicants_file", gettext("Choose the file of applicants."))])
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in (".json", ".jsonl", ".csv"):
            raise InvalidInput([_problem("applicants_file", gettext("Use a .json, .jsonl or .csv file."))])
        given = folder / f"applicants-upload{suffix}"
        upload.save(given)
        checks = check_records(given, ResearcherProfile, key="researchers")
        bad = [f"{c.label}: {'; '.join(c.problems)}" for c in checks if c.problems]
        if bad:
            shown = "; ".join(bad[:3]) + (gettext(" and %(n)s more", n=len(bad) - 3) if len(bad) > 3 else "")
            raise InvalidInput([_problem("applicants_file", shown)])
        people = [c.record for c in checks if c.record is not None]
        given.unlink()
    else:
        people = list(catalogue().store.researchers().values())
    if not people:
        raise InvalidInput([_problem("applicants", gettext("There are no applicants: upload a file or store some."))])
    applicants.write_text("".join(p.model_dump_json() + "\n" for p in people), encoding="utf-8")
    args += ["--applicants", str(applicants)]
    for field, name, option, reader in (
        ("exclusions_file", "exclusions.csv", "--exclusions", read_exclusions),
        ("preferences_file", "preferences", "--host-preferences", read_host_preferences),
    ):
        upload = request.files.get(field)
        if upload is None or not upload.filename:
            continue
        suffix = ".json" if upload.filename.lower().endswith(".json") else ".csv"
        path = folder / (name if name.endswith(".csv") else name + suffix)
        upload.save(path)
        try:
            reader(path)
        except InvalidInput as exc:
            raise InvalidInput([_problem(field, "; ".join(str(e) for e in exc.errors))]) from exc
        if field == "preferences_file" and settings.method != "stable":
            raise InvalidInput([_problem(field, gettext("Labs' own rankings are used by the stable method only."))])
        args += [option, str(path)]
    return args


def _problem(field: str, message: str) -> FieldError:
    return FieldError(field, message)


def _form_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = str(error["loc"][0]) if error["loc"] else message.partition(":")[0]
        if not error["loc"]:
            message = message.partition(": ")[2] or message
        errors.setdefault(field, message)
    return errors


# -- files ----------------------------------------------------------------------------------------------


def _home() -> Path:
    return Path(current_app.config["HOME"])


def _new_folder() -> Path:
    root = _home() / "calls"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = root / f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder.mkdir(mode=0o700)
    return folder


def _folder_of(call_id: str) -> Path:
    if not call_id.replace("-", "").isalnum():
        abort(404)
    folder = _home() / "calls" / call_id
    if not (folder / "call.json").is_file():
        abort(404, gettext("There is no call %(id)s.", id=call_id))
    return folder


def _remove(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
