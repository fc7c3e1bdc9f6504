"""The benchmark scripts end to end at a toy size: they run, and print the one JSON object the README quotes.

The figures themselves are measured by running the script (README, Performance); here only what does not
depend on timing is checked: every figure is there and a number, and the counts are right. A printed figure
is rounded, so a time or ratio of a toy run may print as 0.0: none is required to be positive. They load the
real model: marked slow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from scripts.bench import batch, serving

pytestmark = pytest.mark.slow


def test_the_serving_benchmark_prints_every_figure_for_a_tiny_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--hosts", "40", "--docs", "3", "--build-docs", "12", "--base-texts", "12", "--queries", "3"]
    serving.main([*args, "--backend", "torch", "--keep", str(tmp_path)])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ratios = ("match_over_encode", "retrieval_over_encode", "build_over_encode", "reindex_speedup", "rss_over_raw")
    for key in ratios:
        assert math.isfinite(result[key]) and result[key] >= 0, key
    assert result["backend"] == "torch"
    assert result["documents"] == 40 * 3 and result["approximate"] is False
    assert result["host_recall_at_10"] == result["document_recall_at_pool"] == 1.0  # below the graph threshold: exact
    assert result["build_docs"] == 12
    assert (
        0 < result["candidate_hosts_p50"] <= 40
        and result["candidate_documents_p50"] == 3 * result["candidate_hosts_p50"]
    )


def test_the_call_benchmark_prints_every_figure_for_a_tiny_call(capsys: pytest.CaptureFixture[str]) -> None:
    batch.main(["--applicants", "12", "--hosts", "6", "--candidates", "4", "--backend", "torch"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["applicants"] == 12 and result["hosts"] == 6 and result["backend"] == "torch"
    assert math.isfinite(result["total_over_embed"]) and result["total_over_embed"] >= 0
    # the pipeline's own encode and the rest add up to its total (each rounded to 10 ms)
    assert result["pipeline_encode_s"] >= 0 and result["beyond_encode_s"] >= 0
    assert result["pipeline_encode_s"] + result["beyond_encode_s"] == pytest.approx(result["total_s"], abs=0.02)
    assert 0 < result["assigned"] <= 12
