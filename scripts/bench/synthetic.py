"""Seeded synthetic calls for tests and benchmarks: any number of applicants and hosts.

Each synthetic host and applicant takes one bundled sample lab as its topic and draws its texts from that
lab's English words (the labs that write only in Japanese are left out), so texts have the length and
vocabulary of real abstracts (which is what embedding speed depends on) and applicants of a topic resemble
that topic's hosts. Nothing here is presented as real data.
"""

from __future__ import annotations

import re

import numpy as np

from matcher.records import read_hosts, sample_path
from matcher.text.japanese import has_japanese
from models.profiles import HostLab, ResearcherProfile

_WORD = re.compile(r"[A-Za-z][A-Za-z\-]{2,}")
POSITIONS = (
    "doctoral student",
    "postdoc",
    "postdoc",
    "research fellow",
    "assistant professor",
    "associate professor",
    "professor",
)
COUNTRIES = ("GB", "US", "DE", "FR", "CA", "SE", "IT", "ES", "IN", "BR", "CN", "KR", "AU", "KE", "NG", "MX")
PROGRAMME_SETS = (
    ["postdoc-standard", "postdoc-short"],
    ["postdoc-standard", "postdoc-short", "summer"],
    ["postdoc-short", "invitational-short", "invitational-long"],
    ["postdoc-standard", "invitational-long", "invitational-short", "bridge"],
)
TENURES = ("21 days", "45 days", "2 months", "3 months", "6 months", "10 months", "12 months", "18 months", "24 months")


def _vocabularies() -> list[tuple[list[str], tuple[str, ...]]]:
    """Each sample lab's English words and sections, from its English texts (a lab that writes only in
    Japanese is no topic: its texts have no words for an English vocabulary)."""
    topics = []
    for host in read_hosts(sample_path("hosts")):
        texts = [t for t in (host.description, *(p.text for p in host.publications)) if not has_japanese(t)]
        if texts:
            topics.append(([w.lower() for w in _WORD.findall(" ".join(texts))], host.fields.sections))
    return topics


def _text(rng: np.random.Generator, words: list[str], n: int) -> str:
    picked = rng.choice(len(words), size=n, replace=True)
    return " ".join(words[i] for i in picked).capitalize() + "."


def synthetic_call(
    n_applicants: int, n_hosts: int, *, seed: int = 0, docs_per_host: int = 4, words: int = 60
) -> tuple[list[ResearcherProfile], list[HostLab]]:
    """Applicants and hosts with capacities 1-3, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    topics = _vocabularies()
    hosts = []
    for h in range(n_hosts):
        vocabulary, sections = topics[int(rng.integers(len(topics)))]
        low = str(rng.choice(["14 days", "1 month", "2 months", "12 months"]))
        high = {"14 days": "60 days", "1 month": "12 months", "2 months": "24 months", "12 months": "24 months"}[low]
        hosts.append(
            HostLab.model_validate(
                {
                    "id": f"h{h:05d}",
                    "pi_name": f"Synthetic PI {h}",
                    "lab_name": f"Synthetic Lab {h}",
                    "institution": f"Synthetic University {int(rng.integers(max(1, n_hosts // 8)))}",
                    "prefecture": "Tokyo",
                    "city": "Tokyo",
                    "fields": {"sections": list(sections)},
                    "description": _text(rng, vocabulary, words),
                    "publications": [
                        {"title": f"Synthetic paper {h}-{d}", "abstract": _text(rng, vocabulary, words)}
                        for d in range(docs_per_host - 1)
                    ],
                    "capacity": int(rng.integers(1, 4)),
                    "accepted_stages": sorted(set(rng.choice(["R1", "R2", "R3", "R4"], size=3).tolist())),
                    "hosting_window": {"min": low, "max": high},
                    "programmes": PROGRAMME_SETS[int(rng.integers(len(PROGRAMME_SETS)))],
                    "languages": ["en", "ja"],
                }
            )
        )
    applicants = []
    for a in range(n_applicants):
        vocabulary, sections = topics[int(rng.integers(len(topics)))]
        position = str(rng.choice(POSITIONS))
        predoc = position == "doctoral student"
        country = str(rng.choice(COUNTRIES))
        applicants.append(
            ResearcherProfile.model_validate(
                {
                    "id": f"a{a:05d}",
                    "name": f"Synthetic Applicant {a}",
                    "institution": f"Overseas University {a % 97}",
                    "country": country,
                    "nationality": country,
                    "fields": {"sections": list(sections)},
                    "statement": _text(rng, vocabulary, words),
                    "phd": "in progress" if predoc else int(rng.integers(2000, 2026)),
                    "phd_expected": 2027 if predoc else None,
                    "position": position,
                    "desired_tenure": str(rng.choice(TENURES)),
                    "desired_start": "2027-06-01",
                    "languages": ["en"],
                }
            )
        )
    return applicants, hosts
