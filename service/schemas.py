"""Request and response bodies of the JSON API. The same models validate requests and produce the
OpenAPI document, so the two cannot disagree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from matcher.search import MAX_QUERY_CHARS, MAX_QUERY_WORDS, WordQuery
from models.profiles import HostLab, Identifier, ResearcherProfile
from models.programmes import Programme


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HostFilterFields(_Body):
    """Which hosts may be returned (matcher.ranking.HostFilter checks the values)."""

    programme: str | None = Field(default=None, description="A programme id the host takes part in.")
    section: str | None = Field(default=None, description="KAKENHI broad letter (J) or medium code (61).")
    institution: str | None = Field(default=None, description="Part of the institution's name.")
    prefecture: str | None = None
    region: str | None = Field(default=None, description="Hokkaido, Tohoku, Kanto, Chubu, Kansai, Chugoku, ...")
    language: str | None = Field(default=None, description="ISO 639-1, e.g. en.")

    def host_filter_values(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in HostFilterFields.model_fields}


class MatchRequest(HostFilterFields):
    """A researcher profile inline, or a stored researcher's id (staff only), and what to return.
    With `programme`, only labs the researcher can join under it."""

    researcher: ResearcherProfile | None = None
    researcher_id: Identifier | None = None
    top: int = Field(default=10, ge=1, le=100)
    min_score: float = Field(default=0.0, ge=0, le=1)
    exclude: list[Identifier] = Field(default_factory=list, max_length=1000, description="Host ids to leave out.")
    weights: dict[str, float] | None = Field(default=None, description='e.g. {"topic": 0.6, "tenure": 0.2}')
    enforce_capacity: bool = True

    @model_validator(mode="after")
    def _one_subject(self) -> MatchRequest:
        if (self.researcher is None) == (self.researcher_id is None):
            raise ValueError("give exactly one of researcher (a profile) or researcher_id")
        return self


class HostBatch(_Body):
    hosts: list[HostLab] = Field(min_length=1, max_length=2000)


def _one_or_many(key: str) -> Callable[[Any], str]:
    def pick(value: Any) -> str:
        return "many" if isinstance(value, dict) and key in value else "one"

    return pick


def _without_branch_tag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate, then report errors as if the chosen branch were the only type: "capacity", not
    "one.capacity" (pydantic puts the tag of a tagged union first in each location)."""
    try:
        return handler(value)
    except ValidationError as exc:
        errors = [{**e, "loc": e["loc"][1:]} if e["loc"][:1] in (("one",), ("many",)) else e for e in exc.errors()]
        raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]


class HostUpsert(
    RootModel[
        Annotated[
            Annotated[HostLab, Tag("one")] | Annotated[HostBatch, Tag("many")], Discriminator(_one_or_many("hosts"))
        ]
    ]
):
    """One host, or {"hosts": [...]} to add or replace many in one request."""

    _report = model_validator(mode="wrap")(_without_branch_tag)  # type: ignore[arg-type]

    def items(self) -> list[HostLab]:
        return self.root.hosts if isinstance(self.root, HostBatch) else [self.root]


class ResearcherBatch(_Body):
    researchers: list[ResearcherProfile] = Field(min_length=1, max_length=2000)


class ResearcherUpsert(
    RootModel[
        Annotated[
            Annotated[ResearcherProfile, Tag("one")] | Annotated[ResearcherBatch, Tag("many")],
            Discriminator(_one_or_many("researchers")),
        ]
    ]
):
    """One researcher, or {"researchers": [...]}."""

    _report = model_validator(mode="wrap")(_without_branch_tag)  # type: ignore[arg-type]

    def items(self) -> list[ResearcherProfile]:
        return self.root.researchers if isinstance(self.root, ResearcherBatch) else [self.root]


class HostPath(BaseModel):
    host_id: Identifier


class ResearcherPath(BaseModel):
    researcher_id: Identifier


class HostQuery(HostFilterFields):
    q: str | None = Field(
        default=None,
        description=(
            "Words that must all appear in the lab's name, PI, institution, prefecture, city, keywords or "
            f"description, ignoring case and accents; at most {MAX_QUERY_WORDS} words and {MAX_QUERY_CHARS} "
            "characters."
        ),
        json_schema_extra={"maxLength": MAX_QUERY_CHARS},
    )
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @field_validator("q")
    @classmethod
    def _words_within_bounds(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # an empty search box searches for nothing
        WordQuery.parse(value)  # raises ValueError naming the bound exceeded
        return value

    def word_query(self) -> WordQuery | None:
        return WordQuery.parse(self.q) if self.q else None


class PageQuery(_Body):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class CandidateQuery(_Body):
    top: int = Field(default=10, ge=1, le=100)


class HostList(BaseModel):
    total: int
    hosts: list[HostLab]


class ResearcherList(BaseModel):
    total: int
    researchers: list[ResearcherProfile]


class WriteResult(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str] = []


class ProgrammeList(BaseModel):
    programmes: list[Programme]


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error has this shape."""

    code: int
    name: str
    description: str
    errors: list[FieldProblem] = []
    request_id: str


class Health(BaseModel):
    status: str
    details: dict[str, Any] = {}
