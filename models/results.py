"""What matching returns: ranked matches with their evidence. Plain data, serialised by the CLI and the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Evidence(_Result):
    """One researcher text and one host document that are close, with their cosine similarity."""

    researcher_text: str = Field(description='"statement" or "pub:<i>"')
    researcher_title: str
    host_document: str = Field(description='"description" or "pub:<i>"')
    document_title: str
    similarity: float


class Match(_Result):
    host_id: str
    lab_name: str
    pi_name: str
    institution: str
    score: float = Field(description="Ranking score, higher is better.")
    similarity: float = Field(description="Aggregated cosine similarity of the researcher's texts to the host's.")
    evidence: tuple[Evidence, ...] = ()


class MatchResult(_Result):
    matches: tuple[Match, ...]
    candidates: int = Field(description="Hosts scored before the top was taken.")
