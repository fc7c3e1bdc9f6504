"""Import an OpenReview archive folder: reviewers become hosts, submissions become researcher texts.

The format (used by OpenReview's expertise tools and by the gold-standard reviewer-matching data set):

    <folder>/archives/~<reviewer id>.jsonl   one paper a line: {"id", "content": {"title", "abstract", "year"?}}
    <folder>/submissions.json                {paper id: {"id", "content": {"title", "abstract", ...}}}

A reviewer becomes a HostLab whose publications are their papers and whose description lists their paper
titles (what a lab page's research summary would say); a submission becomes a ResearcherProfile whose
statement is "title. abstract". Fields the format does not have (institution, tenure, programmes) get
neutral placeholders that do not affect topic similarity. Any folder of this shape can be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.errors import FieldError, InvalidInput
from models.profiles import HostLab, ResearcherProfile
from models.programmes import PROGRAMME_IDS
from models.text import without_refused


@dataclass(frozen=True)
class ArchivePaper:
    id: str
    title: str
    abstract: str
    year: int | None

    @property
    def text(self) -> str:
        return f"{self.title.rstrip('.')}. {self.abstract}" if self.abstract else self.title


def _paper(raw: dict[str, Any], where: str) -> ArchivePaper:
    content = raw.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("title"), str):
        raise InvalidInput([FieldError("content.title", f"{where}: a paper needs content.title")])
    year = content.get("year")
    return ArchivePaper(
        id=str(raw.get("id", "")),
        # third-party text: characters the profile validators refuse (mojibake such as U+0098) are dropped
        title=without_refused(content["title"]).strip(),
        abstract=without_refused(content.get("abstract") or "", line_breaks=True).strip(),
        year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
    )


def read_archives(folder: Path) -> dict[str, list[ArchivePaper]]:
    """Every reviewer's papers, keyed by reviewer id (without the leading "~")."""
    archive_dir = folder / "archives"
    if not archive_dir.is_dir():
        raise InvalidInput([FieldError("", f"{folder}: no archives/ folder")])
    reviewers: dict[str, list[ArchivePaper]] = {}
    for path in sorted(archive_dir.glob("*.jsonl")):
        papers = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                papers.append(_paper(json.loads(line), f"{path.name} line {number}"))
        reviewers[path.stem.removeprefix("~")] = papers
    return reviewers


def read_submissions(folder: Path) -> dict[str, ArchivePaper]:
    path = folder / "submissions.json"
    if not path.is_file():
        raise InvalidInput([FieldError("", f"{folder}: no submissions.json")])
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(key): _paper(value, f"submissions.json {key}") for key, value in data.items()}


def reviewer_as_host(reviewer_id: str, papers: list[ArchivePaper]) -> HostLab:
    titles = "; ".join(p.title.rstrip(".") for p in papers) or "no papers"
    return HostLab.model_validate(
        {
            "id": reviewer_id,
            "pi_name": f"Reviewer {reviewer_id}",
            "lab_name": f"Reviewer {reviewer_id}",
            "institution": "imported from an OpenReview archive",
            "prefecture": "unknown",
            "city": "unknown",
            "description": f"Research on: {titles}.",
            "publications": [{"title": p.title, "abstract": p.abstract, "year": p.year} for p in papers],
            "capacity": 1,
            "accepted_stages": ["R1", "R2", "R3", "R4"],
            "hosting_window": {"min": "1 days", "max": "10 years"},
            "programmes": list(PROGRAMME_IDS),
        }
    )


def submission_as_researcher(paper: ArchivePaper) -> ResearcherProfile:
    return ResearcherProfile.model_validate(
        {
            "id": paper.id[:64],
            "name": "Submission author",
            "institution": "OpenReview submission",
            "country": "ZZ",
            "statement": paper.text,
            "phd": 2020,
            "position": "postdoc",
            "desired_tenure": "12 months",
        }
    )
