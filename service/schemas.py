"""Request and response bodies of the JSON API. The same models validate requests and produce the
OpenAPI document, so the two cannot disagree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

from matcher.ranking.components import COMPONENT_NAMES
from matcher.text.search import WordQuery
from models.limits import (
    MAX_CHARS_PER_REQUEST,
    MAX_EXCLUDED,
    MAX_FILTER_CHARS,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MAX_QUERY_WORDS,
    MAX_RECORDS_PER_REQUEST,
    MAX_TEXTS_PER_REQUEST,
    MAX_TOP,
    MAX_WEIGHT,
)
from models.profiles import HostLab, Identifier, ResearcherProfile, text_volume
from models.programmes import Programme
from models.text import cut


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


FilterText = Annotated[str | None, Field(default=None, max_length=MAX_FILTER_CHARS)]


class HostFilterFields(_Body):
    """Which hosts may be returned (matcher.ranking.components.HostFilter checks the values)."""

    programme: FilterText = Field(default=None, description="A programme id the host takes part in.")
    section: FilterText = Field(default=None, description="KAKENHI broad letter (J) or medium code (61).")
    institution: FilterText = Field(default=None, description="Part of the institution's name.")
    prefecture: FilterText = None
    region: FilterText = Field(default=None, description="Hokkaido, Tohoku, Kanto, Chubu, Kansai, Chugoku, ...")
    language: FilterText = Field(default=None, description="ISO 639-1, e.g. en.")

    def host_filter_values(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in HostFilterFields.model_fields}


class MatchRequest(HostFilterFields):
    """A researcher profile inline, or a stored researcher's id (staff only), and what to return.
    With `programme`, only labs the researcher can join under it."""

    researcher: ResearcherProfile | None = None
    researcher_id: Identifier | None = None
    top: int = Field(default=10, ge=1, le=MAX_TOP)
    min_score: float = Field(default=0.0, ge=0, le=1)
    exclude: list[Identifier] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="Host ids to leave out."
    )
    weights: dict[str, float] | None = Field(
        default=None,
        description=(
            f'e.g. {{"topic": 0.6, "tenure": 0.2}}; components {", ".join(COMPONENT_NAMES)}, '
            f"each from 0 to {MAX_WEIGHT:g}"
        ),
    )
    enforce_capacity: bool = True

    @field_validator("weights", mode="before")
    @classmethod
    def _few_weights(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) > len(COMPONENT_NAMES):
            raise ValueError(f"{len(value)} weights given; there are {len(COMPONENT_NAMES)} components")
        return value

    @field_validator("weights")
    @classmethod
    def _weights_within_bounds(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, weight in (value or {}).items():
            if name not in COMPONENT_NAMES:
                raise ValueError(
                    f"{cut(repr(name))} is not a component; the components are {', '.join(COMPONENT_NAMES)}"
                )
            if not 0 <= weight <= MAX_WEIGHT:
                raise ValueError(f"{name} is {weight:g}; a weight is from 0 to {MAX_WEIGHT:g}")
        return value

    @model_validator(mode="after")
    def _one_subject(self) -> MatchRequest:
        if (self.researcher is None) == (self.researcher_id is None):
            raise ValueError("give exactly one of researcher (a profile) or researcher_id")
        return self


def _within_request_bounds(records: Sequence[HostLab | ResearcherProfile]) -> None:
    """Refuse a batch whose texts, together, exceed what one request may have embedded.

    Raises:
        ValueError: more than MAX_TEXTS_PER_REQUEST texts, or more than MAX_CHARS_PER_REQUEST characters.
    """
    volumes = [text_volume(record) for record in records]
    texts, chars = sum(v[0] for v in volumes), sum(v[1] for v in volumes)
    if texts > MAX_TEXTS_PER_REQUEST:
        raise ValueError(
            f"{texts:,} texts (descriptions, statements and publications) in one request; at most "
            f"{MAX_TEXTS_PER_REQUEST:,}: send fewer records at a time"
        )
    if chars > MAX_CHARS_PER_REQUEST:
        raise ValueError(
            f"{chars:,} characters of text in one request; at most {MAX_CHARS_PER_REQUEST:,}: send fewer records "
            "at a time"
        )


class HostBatch(_Body):
    hosts: list[HostLab] = Field(min_length=1, max_length=MAX_RECORDS_PER_REQUEST)

    @field_validator("hosts")
    @classmethod
    def _bounded(cls, hosts: list[HostLab]) -> list[HostLab]:
        _within_request_bounds(hosts)
        return hosts


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
    researchers: list[ResearcherProfile] = Field(min_length=1, max_length=MAX_RECORDS_PER_REQUEST)

    @field_validator("researchers")
    @classmethod
    def _bounded(cls, researchers: list[ResearcherProfile]) -> list[ResearcherProfile]:
        _within_request_bounds(researchers)
        return researchers


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
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

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
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class CandidateQuery(_Body):
    top: int = Field(default=10, ge=1, le=MAX_TOP)


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
