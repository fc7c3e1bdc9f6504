"""Files in and out of `hostmatch batch`: exclusions and host preferences in; assignments.csv,
shortlists.csv, report.json and report.html out. Every output file is written to a temporary file and
renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from matcher.batch import CallResult, CallSettings, shortlists
from matcher.errors import FieldError, InvalidInput

COMPONENTS = ("topic", "stage", "tenure", "field", "practical")


def read_exclusions(path: Path) -> set[tuple[str, str]]:
    """CSV with columns applicant_id, host_id: pairs never to assign (conflicts staff know of)."""
    rows = _csv_rows(path, {"applicant_id", "host_id"})
    return {(row["applicant_id"].strip(), row["host_id"].strip()) for row in rows}


def read_host_preferences(path: Path) -> dict[str, list[str]]:
    """Each host's applicants, most preferred first: JSON {"host_id": ["applicant_id", ...]} or CSV with
    columns host_id, applicant_id, rank (1 is best)."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput([FieldError("host-preferences", f"{path}: {exc}")]) from exc
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in data.values()
        ):
            raise InvalidInput([FieldError("host-preferences", f"{path}: expected {{host_id: [applicant_id, ...]}}")])
        return {str(k): list(v) for k, v in data.items()}
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for number, row in enumerate(_csv_rows(path, {"host_id", "applicant_id", "rank"}), start=2):
        try:
            rank = int(row["rank"])
        except ValueError:
            message = f"{path} line {number}: {row['rank']!r} is not a whole number"
            raise InvalidInput([FieldError("rank", message)]) from None
        ranked[row["host_id"].strip()].append((rank, row["applicant_id"].strip()))
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


def write_outputs(result: CallResult, settings: CallSettings, out: Path) -> dict[str, Any]:
    """Write the four outputs into `out` and return the report."""
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(result, settings)
    _atomic(out / "assignments.csv", lambda f: _write_assignments(result, f))
    _atomic(out / "shortlists.csv", lambda f: _write_shortlists(result, settings, f))
    _atomic(out / "report.json", lambda f: f.write(json.dumps(report, indent=2, ensure_ascii=False)))
    _atomic(out / "report.html", lambda f: f.write(_html(result, report)))
    return report


def _atomic(path: Path, write: Callable[[Any], Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _component_values(pair: Any) -> list[str]:
    values = {c.name: c.value for c in pair.components}
    return [f"{values[name]:.4f}" for name in COMPONENTS]


def _write_assignments(result: CallResult, handle: Any) -> None:
    writer = csv.writer(handle)
    writer.writerow(["applicant_id", "host_id", "score", "similarity", *COMPONENTS, "programmes", "reason"])
    applicants, hosts = result.scores.applicants, result.scores.hosts
    for a, h, pair in sorted(result.assigned(), key=lambda t: (applicants[t[0]].id, hosts[t[1]].id)):
        values = [f"{pair.total:.4f}", f"{pair.similarity:.4f}", *_component_values(pair)]
        writer.writerow([applicants[a].id, hosts[h].id, *values, ";".join(pair.programmes), ""])
    blank = [""] * (2 + len(COMPONENTS) + 1)
    for a in sorted(result.unassigned, key=lambda a: applicants[a].id):
        reason = result.unassigned[a]
        writer.writerow([applicants[a].id, "", *blank, f"{reason.kind}: {reason.detail}"])


def _write_shortlists(result: CallResult, settings: CallSettings, handle: Any) -> None:
    writer = csv.writer(handle)
    writer.writerow(["applicant_id", "rank", "host_id", "score", *COMPONENTS, "programmes", "reasons"])
    scores = result.scores
    lists = shortlists(scores, settings.shortlist)
    for a in sorted(lists, key=lambda a: scores.applicants[a].id):
        for rank, e in enumerate(lists[a], start=1):
            pair = scores.pairs[e]
            reasons = " | ".join(f"{c.name}: {c.reason}" for c in pair.components)
            writer.writerow(
                [
                    scores.applicants[a].id,
                    rank,
                    scores.hosts[scores.edges.host[e]].id,
                    f"{pair.total:.4f}",
                    *_component_values(pair),
                    ";".join(pair.programmes),
                    reasons,
                ]
            )


def build_report(result: CallResult, settings: CallSettings) -> dict[str, Any]:
    scores = result.scores
    assigned = result.assigned()
    values = np.array([p.total for _, _, p in assigned]) if assigned else np.zeros(0)
    load = Counter(h for _, h, _ in assigned)
    places = sum(h.capacity for h in scores.hosts)
    applicants_of = {a for a, _, _ in assigned}
    coverage: dict[str, dict[str, Any]] = defaultdict(lambda: {"applicants": 0, "assigned": 0})
    for a, applicant in enumerate(scores.applicants):
        for area in sorted(applicant.fields.broad_sections) or ["unspecified"]:
            coverage[area]["applicants"] += 1
            coverage[area]["assigned"] += a in applicants_of
    for entry in coverage.values():
        entry["share"] = round(entry["assigned"] / entry["applicants"], 4)
    quantiles = (
        {f"p{q}": round(float(np.quantile(values, q / 100)), 4) for q in (10, 25, 50, 75, 90)} if len(values) else {}
    )
    return {
        "method": settings.method,
        "applicants": len(scores.applicants),
        "hosts": len(scores.hosts),
        "places": places,
        "assigned": len(applicants_of),
        "share_assigned": round(len(applicants_of) / max(1, len(scores.applicants)), 4),
        "total_score": round(result.assignment.total, 4),
        "score": {"mean": round(float(values.mean()), 4) if len(values) else None, **quantiles},
        "host_load": {
            "places_used": len(assigned),
            "share_of_places_used": round(len(assigned) / max(1, places), 4),
            "hosts_by_fellows": {
                str(k): v for k, v in sorted(Counter(load.get(h, 0) for h in range(len(scores.hosts))).items())
            },
        },
        "coverage_by_broad_area": {k: coverage[k] for k in sorted(coverage)},
        "unassigned_reasons": dict(sorted(Counter(u.kind for u in result.unassigned.values()).items())),
        "settings": {
            "candidates": settings.candidates,
            "shortlist": settings.shortlist,
            "min_score": settings.min_score,
            "programme": settings.programme,
            "per_applicant": settings.per_applicant,
            "min_load": settings.min_load,
            "institution_share": settings.institution_share,
        },
    }


def _plots(result: CallResult) -> tuple[str, str]:
    """Two PNGs as base64: the distribution of assigned scores and the hosts' loads against capacity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assigned = result.assigned()
    scores = [p.total for _, _, p in assigned]
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.hist(scores, bins=[i / 20 for i in range(21)], color="#3a6ea5")
    axes.set_xlabel("score of the assigned pair")
    axes.set_ylabel("applicants")
    axes.set_title("Scores of the assignment")
    first = _png(figure)
    load = Counter(h for _, h, _ in assigned)
    hosts = result.scores.hosts
    fill = Counter((load.get(i, 0), h.capacity) for i, h in enumerate(hosts))
    labels = [f"{used}/{cap}" for used, cap in sorted(fill)]
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.bar(labels, [fill[k] for k in sorted(fill)], color="#c2703d")
    axes.set_xlabel("fellows assigned / places")
    axes.set_ylabel("hosts")
    axes.set_title("Host load")
    second = _png(figure)
    plt.close("all")
    return first, second


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode()


def _html(result: CallResult, report: dict[str, Any]) -> str:
    scores_png, load_png = _plots(result)
    esc = html.escape
    reasons = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in report["unassigned_reasons"].items())
    coverage = "".join(
        f"<tr><td>{esc(k)}</td><td>{v['applicants']}</td><td>{v['assigned']}</td><td>{v['share']:.0%}</td></tr>"
        for k, v in report["coverage_by_broad_area"].items()
    )
    applicants = result.scores.applicants
    unassigned = "".join(
        f"<tr><td>{esc(applicants[a].id)}</td><td>{esc(u.kind)}</td><td>{esc(u.detail)}</td></tr>"
        for a, u in sorted(result.unassigned.items(), key=lambda item: applicants[item[0]].id)[:500]
    )
    mean = report["score"]["mean"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hostmatch call report</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}}</style>
</head><body>
<h1>Call assignment ({esc(report["method"])})</h1>
<p>{report["assigned"]} of {report["applicants"]} applicants assigned ({report["share_assigned"]:.0%}) to
{report["hosts"]} hosts with {report["places"]} places; {report["host_load"]["places_used"]} places used.
Mean score of the assigned pairs: {mean if mean is not None else "—"}.</p>
<img alt="Histogram of the scores of assigned pairs" src="data:image/png;base64,{scores_png}">
<img alt="Hosts by fellows assigned and places" src="data:image/png;base64,{load_png}">
<h2>Coverage by KAKENHI broad area</h2>
<table><tr><th>area</th><th>applicants</th><th>assigned</th><th>share</th></tr>{coverage}</table>
<h2>Why applicants have no host</h2>
<table><tr><th>reason</th><th>applicants</th></tr>{reasons}</table>
<table><tr><th>applicant</th><th>reason</th><th>detail</th></tr>{unassigned}</table>
</body></html>
"""
