"""The gold-standard metrics on hand-computed cases, the importer, and one sample end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from matcher.evaluation.goldstandard import parse_samples, read_ratings
from matcher.evaluation.metrics import bootstrap_interval, participant_sums, pooled
from matcher.evaluation.openreview import read_archives, read_submissions, reviewer_as_host, submission_as_researcher

GOLD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "goldstandard"


def test_a_perfect_predictor_has_loss_zero_and_full_accuracy() -> None:
    rated = [(5.0, 0.9), (4.0, 0.8), (2.0, 0.3), (1.0, 0.1), (4.5, 0.85)]
    sums = participant_sums(rated)
    assert sums.loss == 0.0 and sums.easy == 1.0 and sums.hard == 1.0


def test_a_constant_predictor_has_loss_one_half_and_no_accuracy() -> None:
    sums = participant_sums([(5.0, 0.5), (4.0, 0.5), (1.0, 0.5)])
    assert sums.loss == pytest.approx(0.5)
    assert sums.easy == 0.0 and sums.hard == 0.0  # tied predictions count as wrong


def test_a_hand_computed_mixed_case() -> None:
    """Ratings 5, 4, 2, 2 with predictions 0.6, 0.7, 0.1, 0.1.
    Pairs with different ratings: (5,4) w1 wrong; (5,2) w3 right x2; (4,2) w2 right x2. The (2,2) pair has
    tied ratings and drops out even though its predictions tie.
    loss = 1*1 / (1 + 3 + 3 + 2 + 2) = 1/11. easy pairs (one >=4, other <=2): four, all right -> 1.0.
    hard pairs (both >=4, differ): (5,4) wrong -> 0.0."""
    sums = participant_sums([(5.0, 0.6), (4.0, 0.7), (2.0, 0.1), (2.0, 0.1)])
    assert sums.loss == pytest.approx(1 / 11)
    assert (sums.easy_right, sums.easy_all) == (4, 4)
    assert (sums.hard_right, sums.hard_all) == (0, 1)


def test_tied_predictions_cost_half_in_the_loss() -> None:
    sums = participant_sums([(5.0, 0.4), (3.0, 0.4)])
    assert sums.loss == pytest.approx(0.5)  # w = 2, err = 1/2


def test_loss_is_pooled_over_participants_not_averaged() -> None:
    """Participant A: one pair, w=4, wrong. Participant B: one pair, w=1, right. Pooled: 4/5, not 1/2."""
    per = {"a": [(5.0, 0.1), (1.0, 0.9)], "b": [(2.0, 0.1), (3.0, 0.9)]}
    assert pooled(per).loss == pytest.approx(0.8)


def test_missing_ratings_are_skipped(tmp_path: Path) -> None:
    header = "\t".join(
        ["ParticipantID", *[f"Paper{i}" for i in range(1, 11)], *[f"Expertise{i}" for i in range(1, 11)]]
    )
    row = "\t".join(["p1", "x1", "x2", *[""] * 8, "4.5", "2", *[""] * 8])
    (tmp_path / "evaluations.csv").write_text(header + "\n" + row + "\n")
    assert read_ratings(tmp_path) == {"p1": [("x1", 4.5), ("x2", 2.0)]}


def test_bootstrap_brackets_the_estimate() -> None:
    per = {f"p{i}": [(5.0, 0.9 - 0.01 * i), (2.0, 0.2 + 0.02 * i), (4.0, 0.5)] for i in range(40)}
    interval = bootstrap_interval(per, resamples=200)
    estimate = pooled(per)
    assert interval["loss"][0] <= estimate.loss <= interval["loss"][1]


def test_samples_are_parsed() -> None:
    assert parse_samples("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(ValueError, match="samples"):
        parse_samples("one")


def test_the_importer_reads_any_openreview_folder(tmp_path: Path) -> None:
    (tmp_path / "archives").mkdir()
    papers = [
        {"id": "p1", "content": {"title": "Graph neural networks", "abstract": "We study GNNs.", "year": 2021}},
        {"id": "p2", "content": {"title": "Message passing", "abstract": None}},
    ]
    (tmp_path / "archives" / "~Ada_Lovelace1.jsonl").write_text("\n".join(json.dumps(p) for p in papers))
    (tmp_path / "submissions.json").write_text(
        json.dumps(
            {"s1": {"id": "s1", "content": {"title": "Attention for graphs", "abstract": "Transformers on graphs."}}}
        )
    )
    archives = read_archives(tmp_path)
    host = reviewer_as_host("Ada_Lovelace1", archives["Ada_Lovelace1"])
    assert [p.title for p in host.publications] == ["Graph neural networks", "Message passing"]
    assert host.publications[0].year == 2021 and "Message passing" in host.description
    researcher = submission_as_researcher(read_submissions(tmp_path)["s1"])
    assert researcher.statement == "Attention for graphs. Transformers on graphs."


@pytest.mark.slow
@pytest.mark.skipif(not GOLD.is_dir(), reason=f"the gold-standard data is not beside the checkout ({GOLD})")
def test_one_gold_standard_sample_end_to_end(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scripts.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path), "eval", "goldstandard", "--data", str(GOLD), "--samples", "1", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["per_sample"]) == {"d_20_1"}
    assert 0.0 < summary["loss"] < 0.3 and summary["easy"] > 0.8 and summary["hard"] > 0.5
    assert summary["per_sample"]["d_20_1"]["participants"] >= 50


@pytest.mark.skipif(not GOLD.is_dir(), reason=f"the gold-standard data is not beside the checkout ({GOLD})")
def test_evaluation_reports_samples_and_their_embedding(tmp_path: Path) -> None:
    """With a fake embedder: each sample is reported before it is scored and once all are done; within it, the
    texts a fresh cache must embed are counted; a missing sample stops the run before any is scored."""
    from matcher.encoders.embedding import CachingEmbedder, EmbeddingCache
    from matcher.engine import Engine
    from matcher.errors import InvalidInput
    from matcher.evaluation.goldstandard import evaluate
    from matcher.index import HostIndex
    from tests.conftest import FakeEmbedder
    from tests.test_progress import Recorder

    fake = FakeEmbedder()
    embedder = CachingEmbedder(fake, EmbeddingCache(tmp_path / "cache.sqlite3"))

    def new_engine() -> Engine:
        return Engine(embedder, HostIndex(embedder.dim, embedder.fingerprint))

    seen = Recorder()
    evaluate(GOLD, [1, 2], new_engine, resamples=10, progress=seen)
    assert seen.of("samples") == [(0, 2), (1, 2), (2, 2)]
    embedded = [done for done, total in seen.of("embedding") if done == total]
    assert sum(embedded) == fake.texts_embedded > 0
    before = fake.texts_embedded
    with pytest.raises(InvalidInput, match="d_20_99 does not exist"):
        evaluate(GOLD, [3, 99], new_engine, resamples=10)
    assert fake.texts_embedded == before  # sample 3 was not started
