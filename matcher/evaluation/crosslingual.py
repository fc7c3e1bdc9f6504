"""The cross-language evaluation: does a researcher writing in Japanese find the lab they find in English?

Over the bundled sample (its labs, its researchers, and `models/sample/statements_ja.json`: every
researcher's statement in Japanese, with the same content), with two engines over the same labs, one with
the multilingual encoder and one without:

- **same top lab**: for every researcher whose statement is in English, the best lab of its Japanese
  version equals that of its English version, both matched with the multilingual encoder. Two ways: the
  statement alone (the strict test: nothing else speaks for the researcher), and the whole profile with
  only the statement translated (publications as they are);
- **English pairs unchanged**: every (researcher, lab) pair whose texts are all English (the English
  statements alone and the profiles written wholly in English, against the labs whose every document is in
  English) has the same topic similarity and the same total with the encoder as without it, to 1e-6;
- **warned without it**: matched without the multilingual encoder, every Japanese statement gets the note
  that names it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher.engine import Engine
from matcher.progress import Progress
from matcher.ranking.components import ResearcherSide, Scorer, Weights
from matcher.text.documents import host_documents, researcher_texts
from matcher.text.languages import READ_BY_DEFAULT, language_of, reads
from models.eligibility import eligible_programmes
from models.profiles import ResearcherProfile

TOLERANCE = 1e-6


def read_japanese_statements(path: Path) -> dict[str, str]:
    """Researcher id -> Japanese statement, from a file shaped like `models/sample/statements_ja.json`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["statements"].items()}


def evaluate(
    with_encoder: Engine,
    without: Engine,
    researchers: Sequence[ResearcherProfile],
    japanese: dict[str, str],
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The three checks of the module docstring; both engines must hold the same labs.

    Args:
        with_encoder: an engine with a multilingual side.
        without: the same labs without one (the same default encoder).
        researchers: the researchers; those with a Japanese statement in `japanese` and an English
            statement are compared.
        japanese: researcher id -> their statement in Japanese.
        progress: told ("researchers", done, total).

    Raises:
        ValueError: `with_encoder` has no multilingual side, or the engines hold different labs.
    """
    if with_encoder.multilingual is None or without.multilingual is not None:
        raise ValueError("the first engine needs the multilingual encoder, the second none")
    if sorted(with_encoder.hosts) != sorted(without.hosts):
        raise ValueError("the two engines must hold the same labs")
    english_hosts = [h for h in sorted(without.hosts) if _all_read(d.text for d in host_documents(without.hosts[h]))]
    compared = [r for r in researchers if r.id in japanese and _read(r.statement)]
    rows: list[dict[str, Any]] = []
    for done, researcher in enumerate(compared):
        if progress is not None:
            progress("researchers", done, len(compared))
        alone = researcher.model_copy(update={"publications": ()})
        rows.append(
            {
                "id": researcher.id,
                "statement": _tops(with_encoder, alone, japanese[researcher.id]),
                "profile": _tops(with_encoder, researcher, japanese[researcher.id]),
            }
        )
    if progress is not None:
        progress("researchers", len(compared), len(compared))
    english_profiles = [r.model_copy(update={"publications": ()}) for r in compared]
    english_profiles += [r for r in researchers if _all_read(t.text for t in researcher_texts(r))]
    identity = _english_pairs(with_encoder, without, english_profiles, english_hosts)
    warned = [
        _warned(without, r.model_copy(update={"statement": japanese[r.id], "publications": ()}))
        for r in researchers
        if r.id in japanese
    ]
    return {
        "researchers": len(researchers),
        "compared": len(compared),
        "statement_only": _shares(rows, "statement"),
        "whole_profile": _shares(rows, "profile"),
        "english_pairs": identity,
        "warned_without_encoder": {"japanese_statements": len(warned), "warned": sum(warned)},
        "per_researcher": rows,
    }


def _read(text: str) -> bool:
    return reads(language_of(text), READ_BY_DEFAULT)


def _all_read(texts: Any) -> bool:
    return all(_read(t) for t in texts)


def _tops(engine: Engine, researcher: ResearcherProfile, japanese: str) -> dict[str, Any]:
    """The best labs of the English and the Japanese version of one researcher, with the encoder."""
    english = [m.host_id for m in engine.match(researcher, top=3).matches]
    translated = researcher.model_copy(update={"statement": japanese})
    result = engine.match(translated, top=3)
    return {
        "english": english,
        "japanese": [m.host_id for m in result.matches],
        "multilingual_evidence": sum(e.encoder == "multilingual" for m in result.matches[:1] for e in m.evidence),
    }


def _shares(rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """How often the Japanese version's best lab is the English version's, and is among its first three."""
    same = [r["id"] for r in rows if r[kind]["english"][:1] == r[kind]["japanese"][:1] and r[kind]["english"]]
    near = [r["id"] for r in rows if r[kind]["english"][:1] and r[kind]["english"][0] in r[kind]["japanese"][:3]]
    total = len(rows)
    return {
        "same_top": len(same),
        "share": len(same) / total if total else 0.0,
        "english_top_in_japanese_top3": len(near),
        "differ": [r["id"] for r in rows if r["id"] not in same],
    }


def _english_pairs(
    with_encoder: Engine, without: Engine, researchers: Sequence[ResearcherProfile], hosts: list[str]
) -> dict[str, Any]:
    """The largest difference, with and without the encoder, of the topic similarity and of the total of
    every (researcher, lab) pair whose texts are all English."""
    similarity_gap = total_gap = 0.0
    for researcher in researchers:
        texts = researcher_texts(researcher)
        languages = [t.language for t in texts]
        weights = [t.weight for t in texts]
        plain = without.topic_similarity(without.embed_queries(texts, languages), weights, hosts)
        crossing = with_encoder.topic_similarity(with_encoder.embed_queries(texts, languages), weights, hosts)
        similarity_gap = max(similarity_gap, float(np.max(np.abs(plain - crossing), initial=0.0)))
        when = researcher.desired_start or dt.date.today()  # as a match judges it
        verdicts = eligible_programmes(researcher, on=when)
        scorer = Scorer(ResearcherSide.of(researcher, stage=researcher.stage(on=when), verdicts=verdicts), Weights())
        for i, host in enumerate(hosts):
            a = scorer(without.hosts.side(host), float(plain[i])).total
            b = scorer(with_encoder.hosts.side(host), float(crossing[i])).total
            total_gap = max(total_gap, abs(a - b))
    return {
        "researchers": len(researchers),
        "labs": len(hosts),
        "pairs": len(researchers) * len(hosts),
        "max_similarity_difference": similarity_gap,
        "max_total_difference": total_gap,
        "same_within_1e-6": similarity_gap <= TOLERANCE and total_gap <= TOLERANCE,
    }


def _warned(engine: Engine, researcher: ResearcherProfile) -> bool:
    """Whether a match without the encoder names the researcher's statement in its note."""
    note = engine.match(researcher, top=1).note or ""
    return "research statement is in Japanese" in note
