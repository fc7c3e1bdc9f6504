"""Shared distinctive terms: counted over hosts, updated incrementally, ranked by rarity."""

from __future__ import annotations

from matcher.terms import TermStats, terms
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
    assert stats.idf("honorifics") < stats.idf("flagellar")


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
