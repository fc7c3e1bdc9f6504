"""Conflicts of interest between a researcher and a host. Pure functions over profiles.

A host is in conflict with a researcher when any of these holds:

- same institution: the researcher works where the lab is (a fellowship is for going abroad);
- co-authorship: the researcher is a co-author on the lab's listed publications, or the lab's PI is a
  co-author on the researcher's;
- explicit exclusion: staff or the researcher listed the host.

Names are compared after folding case, accents and punctuation, and also as "initial + surname", so
"K. Tanaka" and "Kenji Tanaka" are one person for this purpose. That errs towards excluding, which is the
safe side for conflicts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from models.profiles import HostLab, Publication, ResearcherProfile

SAME_INSTITUTION = "same institution"
CO_AUTHORSHIP = "co-authorship"
EXCLUDED = "excluded by request"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


def institution_key(name: str) -> str:
    return _fold(name).removeprefix("the ")


def name_keys(name: str) -> set[str]:
    """Full folded name, and first initial + last word."""
    parts = _fold(name).split()
    if not parts:
        return set()
    keys = {" ".join(parts)}
    if len(parts) >= 2:
        keys.add(f"{parts[0][0]} {parts[-1]}")
    return keys


def _names(names: Iterable[str]) -> set[str]:
    return {key for name in names for key in name_keys(name)}


@dataclass(frozen=True)
class Keys:
    """What conflict checks compare, folded once per profile: institution, own name, co-authors."""

    id: str
    name: str
    institution: str
    institution_key: str
    name_keys: frozenset[str]
    coauthor_keys: frozenset[str]


def host_keys(host: HostLab) -> Keys:
    return _keys(host.id, host.pi_name, host.institution, host.publications)


def researcher_keys(researcher: ResearcherProfile) -> Keys:
    return _keys(researcher.id, researcher.name, researcher.institution, researcher.publications)


def _keys(profile_id: str, name: str, institution: str, publications: Iterable[Publication]) -> Keys:
    coauthors = _names(a for pub in publications for a in pub.coauthors)
    return Keys(
        profile_id,
        name,
        institution,
        institution_key(institution),
        frozenset(name_keys(name)),
        frozenset(coauthors),
    )


def conflict_between(researcher: Keys, host: Keys, *, excluded_hosts: Collection[str] = ()) -> tuple[str, str] | None:
    """(kind, detail) of the first conflict found between pre-folded keys, or None."""
    if host.id in excluded_hosts:
        return EXCLUDED, f"{host.id} is on the exclusion list"
    if researcher.institution_key == host.institution_key:
        return SAME_INSTITUTION, f"both at {host.institution}"
    if researcher.name_keys & host.coauthor_keys:
        return CO_AUTHORSHIP, f"{researcher.name} co-authored a publication of the lab"
    if host.name_keys & researcher.coauthor_keys:
        return CO_AUTHORSHIP, f"{host.name} co-authored a publication of {researcher.name}"
    return None


def conflict(
    researcher: ResearcherProfile, host: HostLab, *, excluded_hosts: Collection[str] = ()
) -> tuple[str, str] | None:
    """(kind, detail) of the first conflict found, or None."""
    return conflict_between(researcher_keys(researcher), host_keys(host), excluded_hosts=excluded_hosts)
