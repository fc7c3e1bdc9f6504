"""Word search over host labs: folding, query bounds, and HostRecords.find against a brute-force oracle."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from matcher.hosts import HostRecords
from matcher.ranking.components import HostFilter
from matcher.records import read_hosts, sample_path
from matcher.text.search import MAX_QUERY_CHARS, MAX_QUERY_WORDS, WordQuery, fold
from models.profiles import HostLab

MakeHost = Callable[..., HostLab]


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("MULLER", "Müller"),
        ("kyoto", "Kyōto"),
        ("strasse", "Straße"),
        ("ＡＩ", "ai"),  # full-width letters
        ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana
        ("école", "ÉCOLE"),
    ],
)
def test_folding_ignores_case_accents_and_width(typed: str, written: str) -> None:
    assert fold(typed) == fold(written)


def test_folding_keeps_kana_voicing_marks_and_other_scripts() -> None:
    assert fold("が") != fold("か")  # ga is not ka
    assert fold("京都大学の地震研究所") == "京都大学の地震研究所"
    assert fold("Ψυχολογία") == "ψυχολογια"


def test_a_query_is_folded_words_each_once() -> None:
    assert WordQuery.parse("  Seismic\tKYŌTO seismic\u3000地震 ").words == ("seismic", "kyoto", "地震")
    blank = WordQuery.parse("   ")
    assert blank.words == () and blank.matches("anything")


def test_a_query_is_bounded_in_characters_and_words() -> None:
    WordQuery.parse("x" * MAX_QUERY_CHARS)
    with pytest.raises(ValueError, match=f"201 characters long; at most {MAX_QUERY_CHARS}"):
        WordQuery.parse("x" * (MAX_QUERY_CHARS + 1))
    WordQuery.parse(" ".join(f"w{i}" for i in range(MAX_QUERY_WORDS)))
    with pytest.raises(ValueError, match=f"has 11 words; at most {MAX_QUERY_WORDS}"):
        WordQuery.parse(" ".join(f"w{i}" for i in range(MAX_QUERY_WORDS + 1)))


def find(records: HostRecords, q: str, host_filter: HostFilter | None = None) -> list[str]:
    return records.find(host_filter, WordQuery.parse(q))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lab_name", "Tsunami Dynamics Group"),
        ("pi_name", "Tsunami Tanaka"),
        ("institution", "Tsunami Research Institute"),
        ("prefecture", "Tsunami"),
        ("city", "Tsunamicho"),
        ("fields", {"sections": ["17"], "keywords": ["tsunami warning"]}),
        ("description", "We model tsunami run-up."),
    ],
)
def test_a_word_is_found_in_each_searched_field(make_host: MakeHost, field: str, value: object) -> None:
    records = HostRecords([make_host("h-hit", **{field: value}), make_host("h-miss")])
    assert find(records, "TSUNAMI") == ["h-hit"]


def test_publications_are_not_searched(make_host: MakeHost) -> None:
    records = HostRecords([make_host(publications=[{"title": "Tsunami run-up", "abstract": "Waves."}])])
    assert find(records, "tsunami") == []


def test_every_word_is_required_and_may_be_found_in_different_fields(make_host: MakeHost) -> None:
    records = HostRecords(
        [
            make_host("h-both", lab_name="Ocean Lab", description="Seafloor geodesy."),
            make_host("h-one", lab_name="Ocean Lab", description="Coral reefs."),
        ]
    )
    assert find(records, "ocean geodesy") == ["h-both"]
    assert find(records, "ocean") == ["h-both", "h-one"]
    assert find(records, "ocean geodesy volcano") == []
    assert find(records, "ocean\ngeodesy") == ["h-both"]


def test_a_word_does_not_match_across_two_fields(make_host: MakeHost) -> None:
    """The fields are held one a line, so the end of one and the start of the next are not one word."""
    records = HostRecords([make_host(lab_name="Lab Ocean", pi_name="Geodesy Sato")])
    assert find(records, "oceangeodesy") == [] and find(records, "ocean geodesy") == ["h-1"]


def test_accents_case_and_japanese(make_host: MakeHost) -> None:
    records = HostRecords(
        [
            make_host("h-ja", description="京都大学の地震研究所で、活断層を調べています。", city="Kyōto"),
            make_host("h-en", description="Earthquake research in Kyoto."),
        ]
    )
    assert find(records, "地震 京都") == ["h-ja"]
    assert find(records, "KYOTO") == ["h-en", "h-ja"]
    assert find(records, "kyōto earthquake") == ["h-en"]
    assert find(records, "ｷｮｳﾄ") == []  # no reading is guessed: katakana does not find kanji


def test_words_combine_with_the_filters(make_host: MakeHost) -> None:
    records = HostRecords(
        [
            make_host("h-kyoto", description="Slow earthquakes."),
            make_host("h-sendai", description="Slow earthquakes.", prefecture="Miyagi", city="Sendai"),
            make_host("h-other", description="Fast reactions.", prefecture="Miyagi", city="Sendai"),
        ]
    )
    assert find(records, "earthquakes", HostFilter(region="Tohoku")) == ["h-sendai"]
    assert find(records, "earthquakes", HostFilter(programme="summer")) == []
    assert records.find(HostFilter(region="Tohoku")) == ["h-other", "h-sendai"]
    assert records.find() == ["h-kyoto", "h-other", "h-sendai"]


def test_a_changed_or_removed_host_is_searched_as_it_is_now(make_host: MakeHost) -> None:
    records = HostRecords([make_host("h-1", description="Volcanoes."), make_host("h-2", description="Volcanoes.")])
    before = records.copy()
    records["h-1"] = make_host("h-1", description="Glaciers.")
    del records["h-2"]
    assert find(records, "volcanoes") == [] and find(records, "glaciers") == ["h-1"]
    assert find(before, "volcanoes") == ["h-1", "h-2"]  # a snapshot keeps what it held


def test_find_agrees_with_a_brute_force_search_of_the_sample_labs() -> None:
    """Queries of one to three words drawn from one lab's fields (some with changed case or a word that is
    in no lab), checked against reading every field of every lab."""
    hosts = read_hosts(sample_path("hosts"))
    records = HostRecords(hosts)
    rng = random.Random(7)
    found = 0
    for _ in range(200):
        host = rng.choice(hosts)
        vocabulary = f"{host.lab_name} {host.pi_name} {host.city} {' '.join(host.fields.keywords)} {host.description}"
        # Japanese text has no spaces: a space-separated "word" of it may be a whole sentence, past a query's limit
        words = rng.sample([w for w in vocabulary.split() if len(w) <= 30], rng.randint(1, 3))
        if rng.random() < 0.3:
            words = [w.upper() for w in words]
        if rng.random() < 0.1:
            words.append("zzqx")
        q = " ".join(words)
        expected = sorted(
            h.id
            for h in hosts
            if all(
                any(
                    fold(w) in fold(text)
                    for text in (
                        h.lab_name,
                        h.pi_name,
                        h.institution,
                        h.prefecture,
                        h.city,
                        *h.fields.keywords,
                        h.description,
                    )
                )
                for w in words
            )
        )
        assert find(records, q) == expected, q
        found += bool(expected)
    assert found > 150  # most queries find their lab, so the comparison is not of empty lists
