"""Shared distinctive terms: counted over hosts, updated incrementally, ranked by rarity."""

from __future__ import annotations

from matcher.ranking.terms import TermStats, terms
from models.profiles import HostLab
from tests.conftest import host_record


def lab(host_id: str, description: str) -> HostLab:
    return HostLab.model_validate(host_record(host_id, description=description, fields={"sections": ["61"]}))


def test_the_rarest_shared_terms_come_first_and_bigrams_shadow_their_words() -> None:
    stats = TermStats(
        [
            lab("a", "Slow slip events and seafloor geodesy along the Nankai trough."),
            lab("b", "Seafloor geodesy with acoustic ranging."),
            lab("c", "Geodesy of volcanoes and analysis of deformation."),
        ]
    )
    researcher = terms("Seafloor geodesy of slow slip events near the Nankai trough, with careful analysis.")
    shared = stats.shared(researcher, "a")
    assert shared[0] == "nankai trough"  # a bigram found only at host a
    assert "nankai" not in shared and "trough" not in shared  # shadowed by the bigram
    assert shared.index("slow slip") < shared.index("seafloor geodesy")  # one host has it, against two
    assert "geodesy" not in shared  # every host has it, and a chosen bigram holds it
    assert stats.shared(researcher, "c") == ["analysis", "geodesy"]
    assert stats.shared(researcher, "unknown") == [] and stats.shared(set(), "a") == []


def test_counts_follow_adds_replacements_and_removals() -> None:
    stats = TermStats([lab("a", "Cryo-EM of flagellar motors."), lab("b", "Flagellar motors in vivo.")])
    assert (len(stats), stats.df("flagellar motors"), stats.df("cryo-em")) == (2, 2, 1)
    stats.update([lab("a", "Honorifics in spoken Japanese.")])  # replacing a host recounts only its terms
    assert (len(stats), stats.df("flagellar motors"), stats.df("cryo-em"), stats.df("honorifics")) == (2, 1, 0, 1)
    stats.discard(["b", "never-there"])
    assert (len(stats), stats.df("flagellar"), stats.df("honorifics")) == (1, 0, 1)
    rare, common = stats.query({"honorifics"}).idf[0], stats.query({"flagellar"}).idf[0]
    assert rare < common


def test_an_empty_collection_knows_no_term() -> None:
    stats = TermStats([])
    assert (stats.df("anything"), stats.shared(terms("anything at all"), "a")) == (0, [])
    stats.update([lab("a", "Zebrafish.")])
    assert (stats.df("zebrafish"), stats.df("aardvark"), stats.df("zzz")) == (1, 0, 0)  # before, after the last


def test_counts_stay_exact_as_the_host_count_outgrows_narrow_count_types() -> None:
    stats = TermStats([lab(f"h{i}", f"Tsunami geodesy, site {i}.") for i in range(250)])
    assert stats.df("tsunami geodesy") == 250
    stats.update(lab(f"g{i}", f"Tsunami geodesy and moss, site {i}.") for i in range(70_000 - 250))
    assert (stats.df("tsunami geodesy"), stats.df("moss"), stats.df("site")) == (70_000, 69_750, 70_000)
    stats.discard(f"g{i}" for i in range(69_000))
    assert (stats.df("tsunami geodesy"), stats.df("moss"), stats.df("site")) == (1_000, 750, 1_000)


def test_terms_hashed_once_name_the_same_shared_terms_for_every_host() -> None:
    hosts = [
        lab("a", "Slow slip events and seafloor geodesy along the Nankai trough."),
        lab("b", "Seafloor geodesy with acoustic ranging."),
        lab("c", "Zebrafish fin regeneration."),
        lab("d", "The of and."),  # function words only: no terms at all
    ]
    stats = TermStats(hosts)
    researcher = terms("Seafloor geodesy of slow slip events near the Nankai trough, with acoustic ranging.")
    hashed = stats.query(researcher)
    for host in ("a", "b", "c", "d", "unknown"):
        assert stats.shared(hashed, host) == stats.shared(researcher, host)
    assert stats.shared(hashed, "b", n=2) == ["acoustic ranging", "seafloor geodesy"]
    assert stats.shared(hashed, "c") == [] and stats.shared(hashed, "d") == []
    assert stats.shared(stats.query(set()), "a") == []


def test_a_japanese_lab_and_researcher_share_japanese_compounds() -> None:
    """Both in Japanese: the tokenizer finds the nouns and compound nouns; particles and verbs are dropped, and
    a compound (shown without spaces) shadows the nouns inside it."""
    stats = TermStats(
        [
            lab("ja", "沈み込み帯で発生するスロースリップを、海底地殻変動の観測から研究しています。"),
            lab("en", "Slow slip events and seafloor geodesy along the Nankai trough."),
            lab("ja-other", "琉球諸語の記述と、海底の堆積物の研究を行っています。"),
        ]
    )
    researcher = terms("私は沈み込み帯のスロースリップと津波の早期警報について研究したいと考えています。")
    shared = stats.shared(researcher, "ja")
    assert "沈み込み帯" in shared and "スロースリップ" in shared
    assert not {"沈み込み", "スリップ", "の", "研究"} & set(shared)
    assert stats.shared(researcher, "en") == [] and stats.shared(researcher, "ja-other") == []
    assert stats.df("沈み込み 帯") == 1  # held with a space between its tokens, like an English bigram


def test_terms_cross_languages_through_keywords_given_in_both() -> None:
    """A Japanese-only lab that lists "slow slip" beside "スロースリップ" shares it with a researcher who writes in
    English, and an English lab that lists both shares "スロースリップ" with one who writes in Japanese."""
    japanese = HostLab.model_validate(
        host_record(
            "ja",
            description="沈み込み帯のスロースリップを研究しています。",
            fields={"sections": ["17"], "keywords": ["スロースリップ", "slow slip"]},
        )
    )
    english = HostLab.model_validate(
        host_record(
            "en",
            description="Slow slip events along the Nankai trough.",
            fields={"sections": ["17"], "keywords": ["slow slip", "スロースリップ"]},
        )
    )
    stats = TermStats([japanese, english])
    assert stats.shared(terms("Slow slip events and tremor near the trench."), "ja") == ["slow slip"]
    assert stats.shared(terms("スロースリップの発生過程を調べたい。"), "en") == ["スロースリップ"]


def test_english_terms_are_the_same_with_or_without_japanese_in_other_texts() -> None:
    english = "Seafloor geodesy of slow slip events near the Nankai trough."
    assert terms(english) == {
        "seafloor", "geodesy", "slow", "slip", "events", "near", "nankai", "trough", "seafloor geodesy",
        "geodesy slow", "slow slip", "slip events", "events near", "near nankai", "nankai trough",
    }  # fmt: skip
    assert terms(english + " 沈み込み帯") == terms(english) | {"沈み込み 帯"}  # a verb stem is no term alone
