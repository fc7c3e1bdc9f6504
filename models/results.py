"""What matching returns: ranked, explained matches. Plain data, serialised by the CLI and the API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.eligibility import Verdict


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Component(_Result):
    """One part of a match score, in [0, 1], with its weight and a reason."""

    name: str
    value: float = Field(ge=0, le=1)
    weight: float
    reason: str


class Evidence(_Result):
    """One researcher text and one host document that are close, with their cosine similarity."""

    researcher_text: str = Field(description='"statement" or "pub:<i>"')
    researcher_title: str
    host_document: str = Field(description='"description" or "pub:<i>"')
    document_title: str
    similarity: float
    encoder: Literal["default", "multilingual"] = Field(
        default="default",
        description='Which encoder scored the pair: "default" (all-MiniLM-L6-v2, or the model configured; both '
        'texts in a language it reads) or "multilingual" (the multilingual encoder, enabled by configuration, for '
        "a pair in which a text is in another language; its cosine calibrated onto the default model's scale).",
    )


class Exclusion(_Result):
    id: str = Field(description="The host (or researcher) left out.")
    reason: str = Field(description="same institution, co-authorship, excluded by request, or no places left")
    detail: str


class Match(_Result):
    """A host ranked for a researcher."""

    host_id: str
    lab_name: str
    pi_name: str
    institution: str
    prefecture: str
    score: float = Field(description="Weighted total of the components, in [0, 1]; higher is better.")
    similarity: float = Field(description="Aggregated cosine similarity of the researcher's texts to the host's.")
    components: tuple[Component, ...] = ()
    eligible_programmes: tuple[str, ...] = Field(default=(), description="Programmes this pair could apply under.")
    evidence: tuple[Evidence, ...] = ()
    shared_terms: tuple[str, ...] = ()


class Candidate(_Result):
    """A researcher ranked for a host (the staff view)."""

    researcher_id: str
    name: str
    institution: str
    country: str
    stage: str
    score: float
    similarity: float
    components: tuple[Component, ...] = ()
    eligible_programmes: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    shared_terms: tuple[str, ...] = ()


class MatchResult(_Result):
    matches: tuple[Match, ...]
    candidates: int = Field(description="Hosts scored before the top was taken.")
    excluded: dict[str, int] = Field(default_factory=dict, description="Hosts left out, counted by reason.")
    exclusions: tuple[Exclusion, ...] = ()
    below_min_score: int = 0
    programmes: tuple[Verdict, ...] = Field(default=(), description="The researcher's eligibility per programme.")
    note: str | None = Field(
        default=None,
        description="Everything the researcher should know about this answer, in sentences: `notes` joined.",
    )
    notes: tuple[str, ...] = Field(
        default=(),
        description="The same, one note per matter (not eligible for the programme asked for; texts in a language "
        "the matching model does not read, named, with what to do).",
    )
    languages: dict[str, str] = Field(
        default_factory=dict,
        description='The language of each of the researcher\'s texts (ISO 639-1), by text: "statement", "pub:<i>".',
    )

    @model_validator(mode="before")
    @classmethod
    def _note_and_notes(cls, data: Any) -> Any:
        """`note` is `notes` joined; given only one of them, the other follows from it."""
        if isinstance(data, dict):
            notes, note = tuple(data.get("notes") or ()), data.get("note")
            if notes and note is None:
                data = {**data, "note": " ".join(notes)}
            elif note and not notes:
                data = {**data, "notes": (note,)}
        return data


class CandidateResult(_Result):
    host_id: str
    candidates: tuple[Candidate, ...]
    considered: int
    excluded: dict[str, int] = Field(default_factory=dict)
    exclusions: tuple[Exclusion, ...] = ()
