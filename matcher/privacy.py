"""Researchers' personal data: what a record change touched, and erasing a researcher.

Researchers are the people whose data hostmatch holds (names, e-mail addresses, statements, publications).
Every read and change of their records is audited by `Store.record_access` with the fields it touched,
never their content (`changed_fields` says which). Deleting a researcher erases them: the record, the
vectors of their texts in the embedding cache, and their id in the audit trail, which keeps only a digest,
so the trail still says what was done and when without saying to whom.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from matcher.encoders.embedding import EmbeddingCache, text_key
from matcher.store import Store
from matcher.text.documents import researcher_texts
from models.profiles import ResearcherProfile


def changed_fields(before: ResearcherProfile | None, after: ResearcherProfile) -> list[str]:
    """The top-level fields a write changes (every field given, for a new record)."""
    new = after.model_dump(mode="json", exclude_defaults=before is None)
    if before is None:
        return sorted(new)
    old: Mapping[str, object] = before.model_dump(mode="json")
    return sorted(name for name, value in after.model_dump(mode="json").items() if old.get(name) != value)


def erased_name(researcher_id: str) -> str:
    """What the audit trail says instead of an erased researcher's id: a digest, the same for the same id."""
    return "erased:" + hashlib.sha256(researcher_id.encode()).hexdigest()[:16]


def erase_researcher(store: Store, cache: EmbeddingCache | None, researcher_id: str, *, actor: str) -> bool:
    """Delete a researcher and put a digest for their id in the audit trail, in one transaction, with the
    deletion itself recorded under the digest; then forget the cached vectors of their texts.

    Returns:
        False when there is no such researcher (nothing is changed).
    """
    profile = store.get_researcher(researcher_id)
    if profile is None:
        return False
    digest = erased_name(researcher_id)
    with store.session() as session:
        store.delete_researcher(session, researcher_id)
        store.pseudonymise(researcher_id, digest, session=session)
        store.record_access(actor=actor, action="delete", ids=[digest], session=session)
    if cache is not None:
        cache.forget(text_key(t.text) for t in researcher_texts(profile))
    return True
