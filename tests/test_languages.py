"""The language of every text: the identifier on short titles, tags on profiles and documents, the note a
match gives when a text is in a language the model does not read, and the count of such hosts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from matcher.engine import Engine, MatchSettings
from matcher.index import HostIndex
from matcher.text.documents import host_documents, researcher_texts
from matcher.text.languages import READ_BY_DEFAULT, UNDETERMINED, language_of, unread_note
from models.profiles import HostLab, ResearcherProfile
from tests.conftest import FakeEmbedder

JA_STATEMENT = (
    "沈み込み帯で発生するスロースリップと海底地殻変動を、海底圧力計とGNSS-音響結合方式の観測から研究したい。"
    "南海トラフ沿いの固着域の分布を推定し、津波の早期警報に役立てることが目的である。"
)
JA_TITLE = "南海トラフ沿いの浅部スロースリップと沈み込み帯の固着"


SHORT_TITLES = [
    # short English titles, where an identifier unrestricted guessed Latin, Kinyarwanda or Pidgin
    ("Slow earthquakes", "en"),
    ("Aidagara as lived", "en"),
    ("Encoding waka for", "en"),
    ("Focus particles and", "en"),
    ("Label-Efficient Surgical Phase Recognition in Laparoscopic Videos", "en"),
    ("Midgut transcriptome of Haemaphysalis longicornis during Babesia ovata acquisition", "en"),
    # English quoting Japanese: the Latin letters outweigh the kana and kanji
    ("Slow slip (スロースリップ) along the Nankai trough", "en"),
    ("Nishida's basho (場所) and the place of nothingness", "en"),
    # Japanese, with Latin acronyms in it, and kanji-only keywords and titles
    ("GNSS-A観測による日本海溝の固着分布", "ja"),
    ("CRISPR-Cas9を用いた遺伝子改変", "ja"),
    ("スロースリップ", "ja"),
    ("ｽﾛｰｽﾘｯﾌﾟ", "ja"),  # half-width katakana
    ("地震学", "ja"),
    ("超伝導", "ja"),
    ("東北日本弧における地殻構造", "ja"),
    # other languages, short
    ("东亚海洋贸易史", "zh"),
    ("섭입대의 느린 지진", "ko"),
    ("Séismes lents et géodésie sous-marine", "fr"),
    ("Langsame Erdbeben in Subduktionszonen", "de"),
    ("Terremotos lentos en zonas de subducción", "es"),
    ("Gempa lambat di zona subduksi", "id"),
    # nothing to tell by
    ("2024", UNDETERMINED),
    ("—", UNDETERMINED),
]


@pytest.mark.parametrize(("text", "language"), SHORT_TITLES)
def test_the_identifier_on_short_titles(text: str, language: str) -> None:
    assert language_of(text) == language


def test_a_mixed_profile_tags_each_text(make_researcher: Callable[..., ResearcherProfile]) -> None:
    """An English statement with a Japanese publication and an English one."""
    researcher = make_researcher(
        statement="Slow slip events and seafloor geodesy along the Nankai trough, for tsunami early warning.",
        publications=[
            {"title": JA_TITLE, "abstract": JA_STATEMENT},
            {"title": "Tremor bursts near the Hikurangi trench", "abstract": "We locate tremor with onshore GNSS."},
        ],
    )
    texts = researcher_texts(researcher)
    assert [(t.key, t.language) for t in texts] == [("statement", "en"), ("pub:0", "ja"), ("pub:1", "en")]
    assert [t.label for t in texts] == [
        "your research statement",
        f"publication 1: {JA_TITLE}",
        "publication 2: Tremor bursts near the Hikurangi trench",
    ]


def test_host_documents_know_their_language(make_host: Callable[..., HostLab]) -> None:
    host = make_host(
        description="沈み込み帯のスロー地震を海底観測で研究する研究室です。",
        publications=[{"title": "Slow slip near the trench", "abstract": "Seafloor pressure gauges record it."}],
    )
    assert [(d.key, d.language) for d in host_documents(host)] == [("description", "ja"), ("pub:0", "en")]


def test_a_long_title_is_shortened_in_the_label(make_researcher: Callable[..., ResearcherProfile]) -> None:
    title = "沈み込み帯" * 30
    label = researcher_texts(make_researcher(publications=[{"title": title}]))[1].label
    assert label.startswith("publication 1: 沈み込み帯") and label.endswith("…") and len(label) <= 15 + 80


def test_the_note_names_each_unread_text_and_says_what_to_do() -> None:
    assert unread_note([("your research statement", "en"), ("publication 1: A", "und")], READ_BY_DEFAULT) is None
    one = unread_note([("your research statement", "ja"), ("publication 1: A", "en")], READ_BY_DEFAULT)
    assert one == (
        "The matching model reads English only. Your research statement is in Japanese, so the labs below were "
        "not matched on what it says. Add an English abstract, or ask the service to enable the multilingual "
        "encoder."
    )
    some = unread_note(
        [("your research statement", "ja"), ("publication 1: A", "en"), ("publication 2: 題", "ja")], {"en"}
    )
    assert some is not None and some.startswith("The matching model reads English only. Some of your texts are not")
    assert "your research statement (Japanese); publication 2: 題 (Japanese)." in some
    assert "Add English abstracts, or ask the service to enable the multilingual encoder." in some
    every = unread_note([("your research statement", "fr")], {"en"})
    assert every is not None and "Your research statement is in French" in every


def engine_with(hosts: list[HostLab], **settings: object) -> Engine:
    fake = FakeEmbedder()
    engine = Engine(fake, HostIndex(fake.dim, fake.fingerprint), settings=MatchSettings(**settings))  # type: ignore[arg-type]
    engine.upsert_hosts(hosts)
    return engine


@pytest.fixture
def labs(make_host: Callable[..., HostLab]) -> list[HostLab]:
    return [
        make_host("h-en", description="Slow slip events and seafloor geodesy along the Nankai trough."),
        make_host(
            "h-ja",
            description="沈み込み帯で発生するスロースリップを海底地殻変動観測から研究しています。",
            publications=[{"title": JA_TITLE}, {"title": "Tsunami early warning from seafloor pressure"}],
        ),
        make_host("h-ja2", description="琉球諸語の記述と記録を行う研究室です。"),
    ]


def test_a_japanese_statement_gets_the_note_and_an_english_one_none(
    labs: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    engine = engine_with(labs)
    japanese = engine.match(make_researcher(statement=JA_STATEMENT))
    assert japanese.matches and japanese.languages == {"statement": "ja"}
    assert len(japanese.notes) == 1 and japanese.note == japanese.notes[0]
    assert "Your research statement is in Japanese" in japanese.note
    english = engine.match(make_researcher(statement="Slow slip events along the Nankai trough."))
    assert english.languages == {"statement": "en"} and english.notes == () and english.note is None


def test_the_note_joins_an_ineligibility_note(
    labs: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    """A PhD from 2012 is too old for the postdoctoral programme; the statement is in Japanese too."""
    from matcher.ranking.components import HostFilter

    result = engine_with(labs).match(
        make_researcher(statement=JA_STATEMENT, phd=2012), host_filter=HostFilter(programme="postdoc-standard")
    )
    assert len(result.notes) == 2 and result.notes[0].startswith("not eligible for")
    assert "Your research statement is in Japanese" in result.notes[1]
    assert result.note == " ".join(result.notes)


def test_an_encoder_that_reads_japanese_gives_no_note(
    labs: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    engine = engine_with(labs, languages_read=("en", "ja"))
    assert engine.match(make_researcher(statement=JA_STATEMENT)).notes == ()
    assert engine.unread().hosts == 0


def test_match_settings_stay_plain_data() -> None:
    """`hostmatch eval --json` writes the settings as JSON."""
    import dataclasses
    import json

    assert json.loads(json.dumps(dataclasses.asdict(MatchSettings())))["languages_read"] == ["en"]


def test_hosts_with_unread_documents_are_counted(labs: list[HostLab]) -> None:
    engine = engine_with(labs)
    unread = engine.unread()
    assert (unread.hosts, unread.documents) == (2, {"ja": 3})
    engine.remove_hosts(["h-ja2"])
    assert (engine.unread().hosts, engine.unread().documents) == (1, {"ja": 2})


def test_the_index_keeps_the_tags_across_save_and_load(labs: list[HostLab], tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "index"
    engine = engine_with(labs)
    engine.save(folder)
    loaded = Engine.open(folder, engine.embedder)
    tags = {(m.host_id, m.key): m.language for m in map(loaded.index.meta, range(len(loaded.index)))}
    assert tags == {
        ("h-en", "description"): "en",
        ("h-ja", "description"): "ja",
        ("h-ja", "pub:0"): "ja",
        ("h-ja", "pub:1"): "en",
        ("h-ja2", "description"): "ja",
    }
    assert loaded.unread() == engine.unread()


def test_an_index_of_the_previous_format_is_refused_with_what_to_do(labs: list[HostLab], tmp_path: object) -> None:
    import json
    from pathlib import Path

    from matcher.errors import IndexMismatch

    folder = Path(str(tmp_path)) / "index"
    engine = engine_with(labs)
    engine.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": 5}))
    with pytest.raises(IndexMismatch, match=r"index format 5, expected 6; rebuild it \(hostmatch index build\)"):
        HostIndex.load(folder, fingerprint=engine.embedder.fingerprint)


def test_unchanged_hosts_are_not_identified_again(labs: list[HostLab], monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-indexing an unchanged host costs no identification (only changed hosts' documents are made)."""
    import matcher.text.documents

    engine = engine_with(labs)
    seen: list[str] = []

    def identify(text: str) -> str:
        seen.append(text)
        return "en"

    monkeypatch.setattr(matcher.text.documents, "language_of", identify)
    report = engine.upsert_hosts(labs)
    assert (report.unchanged, seen) == (3, [])
