"""The texts that get embedded: a host's documents and a researcher's query texts.

A host is several documents: its description and each publication as "title. abstract". A researcher is
several query texts: the research statement and each publication. Keeping the texts apart (rather than
one long concatenation, which MiniLM would cut at 256 tokens) lets evidence say which text matched which.

Every text knows its language (`language`, from `matcher.text.languages.language_of`, worked out when asked:
a host's documents when they are indexed, which keeps the tag in its row metadata, a researcher's texts
when a match notes the ones its encoder cannot read; a call's scoring never asks).
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.text.languages import language_of
from models.profiles import HostLab, ResearcherProfile

STATEMENT_WEIGHT = 0.5
"""Share of the statement in a researcher's topic score when there are publications too.

The statement is the proposal for the stay, the strongest signal of what the researcher wants to do in
Japan; the publications share the other half equally, so ten papers cannot drown the proposal.
"""


_TITLE_SHOWN = 80  # characters of a publication's title a note shows


@dataclass(frozen=True, slots=True)
class Document:
    """One indexed document of a host."""

    host_id: str
    key: str  # "description" or "pub:<i>"
    title: str  # what a person is shown as evidence
    text: str

    @property
    def language(self) -> str:
        """ISO 639-1 code of the text's language (`matcher.text.languages.language_of`)."""
        return language_of(self.text)


@dataclass(frozen=True, slots=True)
class QueryText:
    """One text of a researcher, with its weight in the topic score."""

    key: str  # "statement" or "pub:<i>"
    title: str
    text: str
    weight: float

    @property
    def language(self) -> str:
        """ISO 639-1 code of the text's language (`matcher.text.languages.language_of`)."""
        return language_of(self.text)

    @property
    def label(self) -> str:
        """How the text is named to its author: "your research statement", "publication 2: <title>"."""
        if self.key == "statement":
            return "your research statement"
        number = int(self.key.removeprefix("pub:")) + 1
        title = self.title if len(self.title) <= _TITLE_SHOWN else self.title[: _TITLE_SHOWN - 1].rstrip() + "…"
        return f"publication {number}: {title}"


def host_documents(host: HostLab) -> list[Document]:
    docs = [Document(host.id, "description", f"{host.lab_name} (lab description)", host.description)]
    docs.extend(Document(host.id, f"pub:{i}", pub.title, pub.text) for i, pub in enumerate(host.publications))
    return docs


def researcher_texts(researcher: ResearcherProfile) -> list[QueryText]:
    pubs = researcher.publications
    statement_weight = STATEMENT_WEIGHT if pubs else 1.0
    texts = [QueryText("statement", "research statement", researcher.statement, statement_weight)]
    if pubs:
        share = (1.0 - statement_weight) / len(pubs)
        texts.extend(QueryText(f"pub:{i}", pub.title, pub.text, share) for i, pub in enumerate(pubs))
    return texts
