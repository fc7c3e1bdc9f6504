"""The outputs of a call, for the staff who read them, written into one folder.

    assignments.csv  one row per assigned pair, then one per applicant left without a host (with the
                     reason): applicant_id, applicant_name, host_id, lab_name, pi_name, institution, score,
                     similarity, the five components (topic, stage, tenure, field, practical), programmes
                     (";"-separated), reason
    shortlists.csv   each applicant's best hosts: applicant_id, applicant_name, rank, host_id, lab_name,
                     pi_name, institution, score, the five components, programmes, reasons (each component's)
    report.json      `build_report`: share assigned, score quantiles, host load, coverage by KAKENHI broad
                     area (each named by its medium sections), the reasons of the unassigned, the settings
    report.html      the same for a browser, with two plots

Every file goes to a temporary file first and is renamed into place (`matcher.files`), so a reader never
sees half of one. `summary_sentences` says what happened in a few sentences, as the command line prints it.
The service can call all of this directly; none of it needs the command line.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from matcher.calls.batch import CallResult, CallSettings, shortlists
from matcher.files import atomic_write
from matcher.progress import Progress
from matcher.ranking.components import COMPONENT_NAMES, PairScore
from models.profiles import HostLab
from models.taxonomy import broad_section_label

OUTPUT_FILES = ("assignments.csv", "shortlists.csv", "report.json", "report.html")
HOST_COLUMNS = ("host_id", "lab_name", "pi_name", "institution")
UNSPECIFIED = "unspecified"
"""The coverage entry of applicants who give no KAKENHI section."""

_REASONS_IN_WORDS = {
    "eligible hosts full": "all eligible labs full",
    "no eligible host": "no eligible host",
    "below min score": "best eligible lab below the minimum score",
    "institution cap": "eligible labs' institutions at their cap",
}


def write_outputs(
    result: CallResult, settings: CallSettings, out: Path, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the four outputs into `out` (created if needed) and return the report.

    Args:
        result: the solved call (`matcher.calls.batch.run_call`).
        settings: the call's settings, recorded in the report; `shortlist` sets the shortlists' length.
        out: the output folder.
        progress: told ("writing", files written, 4).

    Returns:
        The report, as written to report.json.

    Raises:
        OSError: the folder cannot be written; files already written stay, none is half-written.
    """
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(result, settings)
    writers: tuple[Callable[[TextIO], object], ...] = (
        lambda handle: _write_assignments(result, handle),
        lambda handle: _write_shortlists(result, settings.shortlist, handle),
        lambda handle: handle.write(json.dumps(report, indent=2, ensure_ascii=False)),
        lambda handle: handle.write(render_html(result, report)),
    )
    for done, (name, write) in enumerate(zip(OUTPUT_FILES, writers, strict=True)):
        if progress is not None:
            progress("writing", done, len(OUTPUT_FILES))
        atomic_write(out / name, write)
    if progress is not None:
        progress("writing", len(OUTPUT_FILES), len(OUTPUT_FILES))
    return report


def _host_names(host: HostLab) -> list[str]:
    return [host.id, host.lab_name, host.pi_name, host.institution]


def _component_values(pair: PairScore) -> list[str]:
    values = {c.name: c.value for c in pair.components}
    return [f"{values[name]:.4f}" for name in COMPONENT_NAMES]


def _write_assignments(result: CallResult, handle: TextIO) -> None:
    writer = csv.writer(handle)
    writer.writerow(
        [
            "applicant_id",
            "applicant_name",
            *HOST_COLUMNS,
            "score",
            "similarity",
            *COMPONENT_NAMES,
            "programmes",
            "reason",
        ]
    )
    applicants, hosts = result.scores.applicants, result.scores.hosts
    for a, h, pair in sorted(result.assigned(), key=lambda t: (applicants[t[0]].id, hosts[t[1]].id)):
        values = [f"{pair.total:.4f}", f"{pair.similarity:.4f}", *_component_values(pair)]
        writer.writerow(
            [applicants[a].id, applicants[a].name, *_host_names(hosts[h]), *values, ";".join(pair.programmes), ""]
        )
    blank = [""] * (len(HOST_COLUMNS) + 2 + len(COMPONENT_NAMES) + 1)
    for a in sorted(result.unassigned, key=lambda a: applicants[a].id):
        reason = result.unassigned[a]
        writer.writerow([applicants[a].id, applicants[a].name, *blank, f"{reason.kind}: {reason.detail}"])


def _write_shortlists(result: CallResult, length: int, handle: TextIO) -> None:
    writer = csv.writer(handle)
    writer.writerow(
        ["applicant_id", "applicant_name", "rank", *HOST_COLUMNS, "score", *COMPONENT_NAMES, "programmes", "reasons"]
    )
    scores = result.scores
    lists = shortlists(scores, length)
    for a in sorted(lists, key=lambda a: scores.applicants[a].id):
        applicant = scores.applicants[a]
        for rank, e in enumerate(lists[a], start=1):
            pair = scores.pairs[e]
            reasons = " | ".join(f"{c.name}: {c.reason}" for c in pair.components)
            host = scores.hosts[scores.edges.host[e]]
            writer.writerow(
                [
                    applicant.id,
                    applicant.name,
                    rank,
                    *_host_names(host),
                    f"{pair.total:.4f}",
                    *_component_values(pair),
                    ";".join(pair.programmes),
                    reasons,
                ]
            )


def area_name(area: str) -> str:
    """A coverage entry's name: the broad section with its medium sections, or what `UNSPECIFIED` means."""
    return "no KAKENHI section given" if area == UNSPECIFIED else broad_section_label(area)


def build_report(result: CallResult, settings: CallSettings) -> dict[str, Any]:
    """The call in figures: what report.json holds.

    Returns:
        method, applicants, hosts, places, assigned (applicants with a host), share_assigned, total_score,
        score (mean and p10-p90 of the assigned pairs; mean None when none), host_load (places_used,
        share_of_places_used, hosts_by_fellows: {fellows: hosts}), coverage_by_broad_area ({letter or
        "unspecified": {name, applicants, assigned, share}}; an applicant counts in each of its areas),
        unassigned_reasons ({kind: applicants}) and settings.
    """
    scores = result.scores
    assigned = result.assigned()
    values = np.array([p.total for _, _, p in assigned]) if assigned else np.zeros(0)
    load = Counter(h for _, h, _ in assigned)
    places = sum(h.capacity for h in scores.hosts)
    placed = {a for a, _, _ in assigned}
    coverage: dict[str, dict[str, Any]] = defaultdict(lambda: {"applicants": 0, "assigned": 0})
    for a, applicant in enumerate(scores.applicants):
        for area in sorted(applicant.fields.broad_sections) or [UNSPECIFIED]:
            coverage[area]["applicants"] += 1
            coverage[area]["assigned"] += a in placed
    quantiles = (
        {f"p{q}": round(float(np.quantile(values, q / 100)), 4) for q in (10, 25, 50, 75, 90)} if len(values) else {}
    )
    return {
        "method": settings.method,
        "applicants": len(scores.applicants),
        "hosts": len(scores.hosts),
        "places": places,
        "assigned": len(placed),
        "share_assigned": round(len(placed) / max(1, len(scores.applicants)), 4),
        "total_score": round(result.assignment.total, 4),
        "score": {"mean": round(float(values.mean()), 4) if len(values) else None, **quantiles},
        "host_load": {
            "places_used": len(assigned),
            "share_of_places_used": round(len(assigned) / max(1, places), 4),
            "hosts_by_fellows": {
                str(k): v for k, v in sorted(Counter(load.get(h, 0) for h in range(len(scores.hosts))).items())
            },
        },
        "coverage_by_broad_area": {
            area: {
                "name": area_name(area),
                **coverage[area],
                "share": round(coverage[area]["assigned"] / coverage[area]["applicants"], 4),
            }
            for area in sorted(coverage)
        },
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


def summary_sentences(report: dict[str, Any], out: str | Path) -> str:
    """What a call came to, in sentences, e.g. "42 of 50 applicants assigned (84%), mean score 0.81. 8
    without a host: 5 all eligible labs full, 3 no eligible host. Outputs in call-2027/: assignments.csv,
    shortlists.csv, report.json, report.html."

    Args:
        report: `build_report`'s dictionary.
        out: the output folder, as the person gave it.
    """
    applicants, assigned = report["applicants"], report["assigned"]
    noun = "applicant" if applicants == 1 else "applicants"
    first = f"{assigned} of {applicants} {noun} assigned ({report['share_assigned']:.0%})"
    places = report["host_load"]["places_used"]
    if places != assigned:  # more than one host per applicant
        first += f" to {places} places"
    if report["score"]["mean"] is not None:
        first += f", mean score {report['score']['mean']:.2f}"
    sentences = [first + "."]
    reasons = report["unassigned_reasons"]
    left = applicants - assigned
    if left and reasons:
        counted = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        why = ", ".join(f"{n} {_REASONS_IN_WORDS.get(kind, kind)}" for kind, n in counted)
        sentences.append(f"{left} without a host: {why}.")
    elif applicants and not left:
        sentences.append("Everyone has a host.")
    sentences.append(f"Outputs in {out}: {', '.join(OUTPUT_FILES)}.")
    return " ".join(sentences)


def _plots(result: CallResult) -> tuple[str, str]:
    """Two PNGs as base64: the distribution of assigned scores and the hosts' loads against their places."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assigned = result.assigned()
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.hist([p.total for _, _, p in assigned], bins=[i / 20 for i in range(21)], color="#3a6ea5")
    axes.set_xlabel("score of the assigned pair")
    axes.set_ylabel("applicants")
    axes.set_title("Scores of the assignment")
    scores_png = _png(figure)
    load = Counter(h for _, h, _ in assigned)
    fill = Counter((load.get(i, 0), h.capacity) for i, h in enumerate(result.scores.hosts))
    figure, axes = plt.subplots(figsize=(6, 3.2))
    axes.bar([f"{used}/{places}" for used, places in sorted(fill)], [fill[k] for k in sorted(fill)], color="#c2703d")
    axes.set_xlabel("fellows assigned / places")
    axes.set_ylabel("hosts")
    axes.set_title("Host load")
    load_png = _png(figure)
    plt.close("all")
    return scores_png, load_png


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode()


def render_html(result: CallResult, report: dict[str, Any], *, shown: int = 500) -> str:
    """report.html: the report's figures, two plots, coverage by named area and who has no host, and why.

    Args:
        result: the solved call.
        report: `build_report(result, ...)`.
        shown: at most this many applicants without a host are listed.
    """
    scores_png, load_png = _plots(result)
    esc = html.escape
    reasons = "".join(
        f"<tr><td>{esc(_REASONS_IN_WORDS.get(kind, kind))}</td><td>{n}</td></tr>"
        for kind, n in report["unassigned_reasons"].items()
    )
    coverage = "".join(
        f"<tr><td>{esc(entry['name'])}</td><td>{entry['applicants']}</td><td>{entry['assigned']}</td>"
        f"<td>{entry['share']:.0%}</td></tr>"
        for entry in report["coverage_by_broad_area"].values()
    )
    applicants = result.scores.applicants
    unassigned = "".join(
        f"<tr><td>{esc(applicants[a].name)} ({esc(applicants[a].id)})</td><td>{esc(u.kind)}</td>"
        f"<td>{esc(u.detail)}</td></tr>"
        for a, u in sorted(result.unassigned.items(), key=lambda item: applicants[item[0]].id)[:shown]
    )
    mean = report["score"]["mean"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hostmatch call report</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;vertical-align:top}}</style>
</head><body>
<h1>Call assignment ({esc(report["method"])})</h1>
<p>{report["assigned"]} of {report["applicants"]} applicants assigned ({report["share_assigned"]:.0%}) to
{report["hosts"]} hosts with {report["places"]} places; {report["host_load"]["places_used"]} places used.
Mean score of the assigned pairs: {f"{mean:.2f}" if mean is not None else "none assigned"}.</p>
<img alt="Histogram of the scores of assigned pairs" src="data:image/png;base64,{scores_png}">
<img alt="Hosts by fellows assigned and places" src="data:image/png;base64,{load_png}">
<h2>Coverage by KAKENHI broad area</h2>
<table><tr><th>area</th><th>applicants</th><th>assigned</th><th>share</th></tr>{coverage}</table>
<h2>Why applicants have no host</h2>
<table><tr><th>reason</th><th>applicants</th></tr>{reasons}</table>
<table><tr><th>applicant</th><th>reason</th><th>detail</th></tr>{unassigned}</table>
</body></html>
"""
