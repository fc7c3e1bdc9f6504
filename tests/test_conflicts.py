"""Conflicts across scripts: folding, person names in kanji/kana and romaji, institutions by the alias table.

Today's rule for Latin names (folded name, or first initial + last word) is the oracle for "unchanged":
every pair of names it finds, the new keys find too, with the same sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import matcher.ranking.conflicts as conflicts
from matcher.engine import Engine
from matcher.index import HostIndex
from matcher.ranking.conflicts import (
    CO_AUTHORSHIP,
    SAME_INSTITUTION,
    conflict_between,
    fold,
    host_keys,
    institution_key,
    name_keys,
    researcher_keys,
)
from models.institutions import Institution, alias_index, institutions, parse_institutions
from models.profiles import HostLab, ResearcherProfile
from tests.conftest import FakeEmbedder

MakeHost = Callable[..., HostLab]
MakeResearcher = Callable[..., ResearcherProfile]


def conflict(researcher: ResearcherProfile, host: HostLab) -> tuple[str, str] | None:
    return conflict_between(researcher_keys(researcher), host_keys(host))


def _paper(*coauthors: str) -> dict[str, Any]:
    return {"title": "A shared paper", "coauthors": list(coauthors)}


# -- institutions ------------------------------------------------------------------------------------------


def test_two_different_institutions_in_kanji_and_hanzi_are_not_one(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """Both names used to fold to "" and compare equal: the Taiwanese researcher lost every Tohoku lab."""
    researcher = make_researcher(institution="国立台湾大学", country="TW")
    assert conflict(researcher, make_host(institution="東北大学")) is None
    assert conflict(researcher, make_host(institution="京都大学")) is None


def test_a_lab_at_another_kanji_institution_stays_in_the_matches(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    text = "Volcanic arcs and slab dehydration."
    engine = Engine(FakeEmbedder(), HostIndex(FakeEmbedder().dim, FakeEmbedder().fingerprint))
    engine.upsert_hosts([make_host("h-tohoku", institution="東北大学", description=text)])
    result = engine.match(make_researcher(institution="国立台湾大学", country="TW", statement=text))
    assert [m.host_id for m in result.matches] == ["h-tohoku"]
    assert result.excluded == {}


def test_the_same_institution_in_two_scripts_is_one_and_the_reason_names_both(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    researcher = make_researcher(institution="東北大学")
    assert conflict(researcher, make_host(institution="Tohoku University")) == (
        SAME_INSTITUTION,
        "東北大学 = Tohoku University",
    )
    assert conflict(make_researcher(institution="Tohoku University"), make_host(institution="東北大学")) == (
        SAME_INSTITUTION,
        "Tohoku University = 東北大学",
    )


def test_names_written_alike_keep_todays_reason(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    researcher = make_researcher(institution="The University of Leeds")
    assert conflict(researcher, make_host(institution="University of Leeds")) == (
        SAME_INSTITUTION,
        "both at University of Leeds",
    )


@pytest.mark.parametrize(
    "names",
    [
        [
            "The University of Tokyo",
            "University of Tokyo",
            "東京大学",
            "東大",
            "UTokyo",
            "Tokyo University",
            "Univ. of Tokyo",
        ],
        [
            "Institute of Science Tokyo",
            "東京科学大学",
            "Tokyo Institute of Technology",
            "Tokyo Tech",
            "東京医科歯科大学",
        ],
        ["Osaka Metropolitan University", "大阪公立大学", "Osaka City University", "大阪府立大学"],
        ["RIKEN", "理化学研究所", "理研", "国立研究開発法人 理化学研究所"],
        ["National Institute for Materials Science (NIMS)", "NIMS", "物質・材料研究機構", "物質材料研究機構"],
        ["High Energy Accelerator Research Organization (KEK)", "KEK", "高エネルギー加速器研究機構"],
        [
            "Tohoku University",
            "東北大学",
            "東北大",
            "国立大学法人東北大学",
            "Tohoku Univ.",
            "ＴＯＨＯＫＵ　ＵＮＩＶＥＲＳＩＴＹ",
        ],
        ["Keio University", "慶應義塾大学", "慶応義塾大学", "慶大"],
    ],
)
def test_every_name_of_an_institution_leads_to_one_place(names: list[str]) -> None:
    assert len({institution_key(name) for name in names}) == 1, {name: institution_key(name) for name in names}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Kyoto University", "Kyoto University of Education"),
        ("Tokyo University of Agriculture", "Tokyo University of Agriculture and Technology"),
        ("Osaka University", "Osaka Metropolitan University"),
        ("Nagoya University", "Nagoya City University"),
        ("東京女子大学", "東京女子医科大学"),
        ("Hokkaido University", "北京大学"),
        ("北大", "北海道大学"),  # 北大 is also Peking University: left out of the table
    ],
)
def test_neighbouring_names_stay_apart(one: str, other: str) -> None:
    assert institution_key(one) != institution_key(other)


def test_unknown_institutions_compare_by_their_folded_names_as_today() -> None:
    assert institution_key("University of Leeds") == institution_key("THE UNIVERSITY OF LEEDS") == "university of leeds"
    assert institution_key("Universidade de São Paulo") == institution_key("Universidade de Sao Paulo")
    assert institution_key("國立臺灣大學") != institution_key("東北大學")


def test_a_researchers_own_alias_counts_as_their_institution(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    """The table knows nothing of a hospital's name; the researcher says it is Tohoku University."""
    host = make_host(institution="東北大学")
    plain = make_researcher(institution="Tohoku University Hospital")
    assert conflict(plain, host) is None
    aliased = make_researcher(institution="Tohoku University Hospital", institution_aliases=["Tohoku University"])
    assert conflict(aliased, host) == (SAME_INSTITUTION, "Tohoku University = 東北大学")


def test_a_labs_own_alias_counts_as_its_institution(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    host = make_host(
        institution="Kyoto University, Center for Ecological Research", institution_aliases=["Kyoto University"]
    )
    assert conflict(make_researcher(institution="京都大学"), host) == (SAME_INSTITUTION, "京都大学 = Kyoto University")


def test_aliases_are_bounded(make_researcher: MakeResearcher) -> None:
    with pytest.raises(ValueError, match="institution_aliases"):
        make_researcher(institution_aliases=[f"Name {i}" for i in range(11)])


# -- the alias table ---------------------------------------------------------------------------------------

_BRIEF = (
    *("RIKEN", "AIST", "NIMS", "JAMSTEC", "NII", "NIES", "NIPR", "NAOJ", "KEK", "JAXA", "QST", "NIBIOHN", "NCGM"),
    *("Tokyo Metropolitan University", "Osaka Metropolitan University", "Keio University", "Waseda University"),
    *("Sophia University", "Doshisha University", "Ritsumeikan University", "Tokyo University of Science"),
)


def test_the_alias_table_loads_and_every_name_leads_to_its_own_entry() -> None:
    """A name that folds like a name of another entry would make the table refuse to load; and no name is
    shadowed by the rules that shorten names (a leading "the", a corporate prefix, a final 学)."""
    table = institutions()
    assert len(table) >= 200
    for entry in table:
        for name in entry.names:
            assert institution_key(name) == f"@{entry.id}", (entry.id, name)


def test_the_alias_table_covers_the_national_universities_and_institutes() -> None:
    table = institutions()
    national = [i for i in table if i.kind == "national university"]
    assert len(national) == 85  # 86 national universities; two merged into Institute of Science Tokyo in 2024
    assert {i.kind for i in table} == {
        "national university",
        "public university",
        "private university",
        "research institute",
    }
    for name in _BRIEF:
        assert institution_key(name).startswith("@"), name


def test_an_alias_pointing_at_two_institutions_is_refused() -> None:
    text = """
[[institution]]
id = "utokyo"
kind = "national university"
name_ja = "東京大学"
name_en = "The University of Tokyo"
abbreviations = ["Todai"]

[[institution]]
id = "toyo"
kind = "private university"
name_ja = "東洋大学"
name_en = "Toyo University"
abbreviations = ["TODAI"]
"""
    with pytest.raises(ValueError, match=r"'TODAI' of toyo and a name of utokyo both fold to 'todai'"):
        alias_index(parse_institutions(text), fold)


def test_a_repeated_id_is_refused() -> None:
    entry = '[[institution]]\nid = "x"\nkind = "research institute"\nname_ja = "研究所"\nname_en = "Institute"\n'
    with pytest.raises(ValueError, match="two institutions have the id 'x'"):
        parse_institutions(entry + entry.replace("研究所", "別の研究所").replace("Institute", "Other"))


def test_an_entry_names_its_fields() -> None:
    with pytest.raises(ValueError, match="kind"):
        Institution.model_validate({"id": "x", "kind": "museum", "name_ja": "館", "name_en": "Museum"})


# -- people ------------------------------------------------------------------------------------------------

_SATO = ["Kenichi Sato", "Sato Kenichi", "SATO Kenichi", "Satō Ken'ichi", "Satou Kenichi", "Satoh Ken-ichi"]
_SATO_MORE = ["Sato, Kenichi", "K. Sato", "さとう けんいち", "佐藤健一", "ＳＡＴＯ　Ｋｅｎｉｃｈｉ", "Sato Ken’ichi"]


@pytest.mark.parametrize("written", _SATO + _SATO_MORE)
def test_a_japanese_name_is_one_person_in_kanji_kana_and_romaji(
    written: str, make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    researcher = make_researcher(name="佐藤 健一")
    lab = make_host(publications=[_paper("Ann Other", written)])
    found = conflict(researcher, lab)
    assert found is not None and found[0] == CO_AUTHORSHIP, written
    if fold(written).replace(" ", "") != "佐藤健一":
        assert found[1] == f"佐藤 健一 = {written}, a co-author of a publication of the lab"


def test_the_labs_pi_in_romaji_is_found_among_the_researchers_coauthors_in_kanji(
    make_host: MakeHost, make_researcher: MakeResearcher
) -> None:
    researcher = make_researcher(name="Jane Roe", publications=[_paper("佐藤 健一")])
    assert conflict(researcher, make_host(pi_name="Kenichi Sato")) == (
        CO_AUTHORSHIP,
        "Kenichi Sato = 佐藤 健一, a co-author of a publication of Jane Roe",
    )


@pytest.mark.parametrize(
    "other", ["佐々木 健一", "鈴木 健一", "佐藤 真一", "Kenichi Saito", "Shinichi Sato", "Sasaki Kenichi"]
)
def test_other_people_are_not_sato_kenichi(other: str, make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    researcher = make_researcher(name="佐藤 健一")
    assert conflict(researcher, make_host(publications=[_paper(other)])) is None, sorted(name_keys(other))


def test_the_initial_rule_reaches_kanji_names_through_their_reading() -> None:
    """As "Kenji Sato" and "Kenichi Sato" share "k sato" today (erring towards excluding), so do 佐藤 健二
    and 佐藤 健一: a kanji name is as close to another as its romaji are."""
    assert name_keys("Kenji Sato") & name_keys("Kenichi Sato") == {"k sato"}
    assert name_keys("佐藤 健二") & name_keys("佐藤 健一") == {"k sato"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Ōno Taichi", "Ohno Taichi"),
        ("Ono Taichi", "Oono Taichi"),
        ("Yūko Itō", "Yuuko Itou"),
        ("Shun'ichi Honma", "Shunichi Homma"),
        ("Jun-ichiro Tanaka", "Junichiro Tanaka"),
        ("本間 一夫", "Kazuo Homma"),
    ],
)
def test_hepburn_variants_are_one_spelling(one: str, other: str) -> None:
    assert name_keys(one) & name_keys(other)


def test_kanji_without_a_reading_match_only_the_same_characters() -> None:
    """Documented limitation: hanzi are read as Japanese, and simplified characters have no reading, so a
    Chinese name in hanzi is not recognised in pinyin."""
    assert not name_keys("王伟") & name_keys("Wang Wei")
    assert name_keys("王伟") & name_keys("王 伟")
    assert not name_keys("张伟") & name_keys("王伟")


def test_no_initial_rule_for_kanji() -> None:
    """Today's first-initial rule read on kanji would make 佐藤 健一 and 佐々木 健一 ("佐 健一") one person."""
    assert not name_keys("佐藤 健一") & name_keys("佐々木 健一")
    assert not name_keys("김 민수") & name_keys("김 민준")


def test_a_name_with_latin_and_kanji_is_known_by_both(make_host: MakeHost, make_researcher: MakeResearcher) -> None:
    researcher = make_researcher(name="Kenji Tanaka (田中 健二)")
    assert conflict(researcher, make_host(publications=[_paper("田中健二")])) is not None
    assert conflict(researcher, make_host(publications=[_paper("K. Tanaka")])) is not None


def _todays_keys(name: str) -> set[str]:
    """The rule before Unicode folding: NFKD, marks dropped, casefold, [^a-z0-9]+ -> space; full name, and
    first initial + last word."""
    text = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    parts = re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip().split()
    if not parts:
        return set()
    return {" ".join(parts)} | ({f"{parts[0][0]} {parts[-1]}"} if len(parts) >= 2 else set())


_LATIN_NAME_PART = st.sampled_from(
    [
        *("Kenji", "K.", "Tanaka", "José", "Jose", "Núñez", "Nunez", "Ann", "Other", "O'Brien", "Jean-Pierre"),
        *("Dupont", "Müller", "Mueller", "van", "der", "Berg", "SATO", "Sato", "Ken'ichi", "Kenichi", "Ōno", "Ono"),
        *("J.", "Li", "Wei", "Wang", "Maria", "García", "Smith", ",", "Jr.", "Anne-Marie", "D'Souza", "ŁUKASZ"),
    ]
)
_LATIN_NAMES = st.lists(_LATIN_NAME_PART, min_size=1, max_size=4).map(" ".join)


@given(_LATIN_NAMES, _LATIN_NAMES)
def test_latin_names_that_conflicted_before_still_conflict_with_todays_sentence(one: str, other: str) -> None:
    """Every conflict today's rule finds is still found, and told in today's words."""
    if _todays_keys(one) & _todays_keys(other):
        assert name_keys(one) & name_keys(other)
        assert conflicts._same_as_written(one, other)


def test_latin_names_still_need_a_shared_key() -> None:
    assert not name_keys("Kenji Tanaka") & name_keys("Kenta Tanabe")
    assert not name_keys("Ann Other") & name_keys("Ann Otter")
    assert not name_keys("Paul Simon") & name_keys("Simon Peters")  # no initial rule in reverse order


def test_romanising_runs_once_per_name_never_per_pair(
    make_host: MakeHost, make_researcher: MakeResearcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = [
        make_host(f"h-{i}", pi_name="山田 太郎", publications=[_paper("佐藤 健一", "鈴木 一郎")]) for i in range(3)
    ]
    researcher = make_researcher(name="Kenichi Sato", publications=[_paper("田中 花子")])
    built = [host_keys(h) for h in hosts]
    mine = researcher_keys(researcher)

    def refuse() -> None:
        raise AssertionError("romanised while comparing")

    monkeypatch.setattr(conflicts, "_romaniser", refuse)
    found = [conflict_between(mine, keys) for keys in built]
    assert found == [(CO_AUTHORSHIP, "Kenichi Sato = 佐藤 健一, a co-author of a publication of the lab")] * 3


# -- folding -----------------------------------------------------------------------------------------------

_SCRIPTS = {
    "cjk": st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    "kana": st.characters(min_codepoint=0x3041, max_codepoint=0x30FA),
    "hangul": st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
    "cyrillic": st.characters(min_codepoint=0x0410, max_codepoint=0x044F),
    "arabic": st.characters(min_codepoint=0x0621, max_codepoint=0x064A),
    "latin": st.characters(min_codepoint=0x00C0, max_codepoint=0x024F, categories=["Lu", "Ll"]),
}
_NO_LETTERS = st.characters(categories=["P", "S", "Zs", "Cf"]) | st.characters(
    min_codepoint=0x1F300, max_codepoint=0x1FAFF
)
_NAMES = st.one_of(
    *(st.text(alphabet=chars | st.just(" "), min_size=1, max_size=12) for chars in _SCRIPTS.values()),
    st.text(alphabet=_NO_LETTERS, min_size=1, max_size=8),
    st.text(min_size=1, max_size=16),
)


@given(_NAMES)
def test_no_name_folds_to_nothing(name: str) -> None:
    assert (fold(name) == "") == (name.strip() == "")
    if name.strip():
        assert name_keys(name)
        assert institution_key(name)


def _has_letters(text: str) -> bool:
    return any(ch.isalnum() for ch in unicodedata.normalize("NFKC", text))  # ⒜ is a symbol, NFKC (a)


@given(st.text(alphabet=_NO_LETTERS, min_size=1, max_size=8), st.text(alphabet=_NO_LETTERS, min_size=1, max_size=8))
def test_a_name_without_letters_folds_to_itself_and_equals_only_itself(one: str, other: str) -> None:
    assume(one.strip() and not _has_letters(one))
    assert fold(one) == one.strip()
    assert name_keys(one) == {one.strip()}
    if other.strip() and not _has_letters(other):
        assert (fold(one) == fold(other)) == (one.strip() == other.strip())
        assert bool(name_keys(one) & name_keys(other)) == (one.strip() == other.strip())


@pytest.mark.parametrize("script", sorted(set(_SCRIPTS) - {"latin"}))
@given(data=st.data())
def test_every_scripts_letters_are_kept(script: str, data: st.DataObject) -> None:
    letters = data.draw(st.text(alphabet=_SCRIPTS[script], min_size=1, max_size=10))
    folded = fold(letters)
    assert folded
    assert len(folded.replace(" ", "")) >= len(letters.replace(" ", "")) // 3  # Hangul/kana may (de)compose
    assert fold(folded) == folded


@given(_NAMES)
def test_folding_is_idempotent(name: str) -> None:
    assert fold(fold(name)) == fold(name)


def test_latin_accents_go_and_other_marks_stay() -> None:
    assert fold("José NÚÑEZ-Łukasiewicz, Øresund Straße") == "jose nunez lukasiewicz oresund strasse"
    assert fold("ガ") == "ガ"  # the voicing mark is part of the kana
    assert fold("ｶﾞｸ") == "ガク"  # half-width kana to full width
    assert fold("Ｔｏｈｏｋｕ") == "tohoku"
    assert fold("हिन्दी") == "हिन्दी"
