"""The `hostmatch` command end to end on the bundled sample, with the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scripts.cli import cli
from tests.conftest import FakeEmbedder, host_record, researcher_record


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory: pytest.TempPathFactory, shared_cache_dir: Path) -> Path:
    """A data folder with the sample index built once; its cache is shared with later tests."""
    home = shared_cache_dir / "sample-home"
    if not (home / "index" / "manifest.json").exists():
        code, out, _ = run(home, "index", "build", "--sample")
        assert code == 0, out
    return home


def test_every_command_has_help() -> None:
    for args in ([], ["index"], ["index", "build"], ["index", "status"], ["index", "remove"], ["match"]):
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.stdout, args


@pytest.mark.slow
def test_build_then_match_a_sample_researcher(sample_home: Path) -> None:
    code, out, _ = run(sample_home, "index", "status")
    status = json.loads(out)
    assert code == 0 and status["hosts"] >= 120 and status["dim"] == 384

    code, out, _ = run(sample_home, "match", "--sample", "r-j-01", "--top", "5")
    assert code == 0, out
    assert out.count("\n  1. ") + out.count("\n  5. ") == 2  # a ranked table of five
    assert "·" in out  # evidence lines


@pytest.mark.slow
def test_json_output_has_matches_with_evidence(sample_home: Path) -> None:
    code, out, _ = run(sample_home, "match", "--sample", "r-j-01", "--top", "3", "--json")
    assert code == 0
    matches = json.loads(out)["matches"]
    assert len(matches) == 3
    for m in matches:
        assert {"host_id", "score", "evidence"} <= m.keys()
        assert m["evidence"] and {"document_title", "similarity"} <= m["evidence"][0].keys()
    assert [m["score"] for m in matches] == sorted((m["score"] for m in matches), reverse=True)


@pytest.mark.slow
def test_rebuilding_an_unchanged_sample_embeds_nothing(sample_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    code, out, _ = run(home, "index", "build", "--sample")
    assert code == 0 and "0 texts embedded" in out


@pytest.mark.slow
def test_add_and_remove_hosts_without_a_rebuild(sample_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    extra = tmp_path / "extra.jsonl"
    host = json.loads((Path(__file__).parent / "data" / "extra_host.json").read_text())
    extra.write_text(json.dumps(host) + "\n")
    code, out, _ = run(home, "index", "build", "--hosts", str(extra), "--add")
    assert code == 0 and "1 added" in out
    researcher = tmp_path / "me.json"
    statement = "Sake brewing yeast: koji mould fermentation, rice polishing and the aroma esters of ginjo sake."
    researcher.write_text(json.dumps(researcher_record(statement=statement)))
    code, out, _ = run(home, "match", "--researcher", str(researcher), "--top", "1", "--json")
    assert json.loads(out)["matches"][0]["host_id"] == host["id"]
    code, out, _ = run(home, "index", "remove", host["id"])
    assert code == 0
    code, out, _ = run(home, "match", "--researcher", str(researcher), "--json")
    assert host["id"] not in [m["host_id"] for m in json.loads(out)["matches"]]


def test_a_bad_profile_exits_non_zero_naming_record_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    record = researcher_record("r-broken", programmes=["made-up"], statement="")
    path.write_text(json.dumps(record))
    code, _, err = run(tmp_path / "home", "match", "--researcher", str(path))
    assert code == 2
    assert "bad.json record 1 (id 'r-broken')" in err
    assert "statement:" in err and "programmes.0: unknown programme 'made-up'" in err
    assert not (tmp_path / "home" / "index").exists()  # nothing was built or written


def test_a_bad_hosts_file_writes_no_index(tmp_path: Path) -> None:
    path = tmp_path / "hosts.jsonl"
    path.write_text('{"id": "h-1", "capacity": "many"}\n')
    code, _, err = run(tmp_path / "home", "index", "build", "--hosts", str(path))
    assert code == 2 and "hosts.jsonl record 1 (id 'h-1')" in err and "capacity:" in err
    assert not (tmp_path / "home" / "index" / "manifest.json").exists()


def test_wrong_option_combinations_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "index", "build")
    assert code == 2 and "exactly one of --hosts FILE or --sample" in err
    code, _, err = run(tmp_path, "match", "--sample", "r-nobody")
    assert code == 2 and "no researcher with id 'r-nobody'" in err


@pytest.mark.slow
def test_json_carries_components_programmes_and_evidence(sample_home: Path) -> None:
    code, out, _ = run(sample_home, "match", "--sample", "r-a-03", "--programme", "postdoc-standard", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["matches"]
    for m in result["matches"]:
        assert [c["name"] for c in m["components"]] == ["topic", "stage", "tenure", "field", "practical"]
        assert all(0 <= c["value"] <= 1 and c["reason"] for c in m["components"])
        assert "postdoc-standard" in m["eligible_programmes"]
        assert m["evidence"]
    assert {v["programme"] for v in result["programmes"]} >= {"postdoc-standard", "bridge"}


@pytest.mark.slow
def test_explain_and_filters(sample_home: Path) -> None:
    code, out, _ = run(sample_home, "match", "--sample", "r-j-01", "--region", "Kanto", "--explain", "--top", "3")
    assert code == 0, out
    assert "Programmes:" in out and "tenure" in out and "terms" in out
    code, out, _ = run(sample_home, "match", "--sample", "r-j-01", "--section", "B", "--json")
    sections = {m["host_id"][:3] for m in json.loads(out)["matches"]}
    assert sections == {"h-b"}  # the sample's area-B labs all carry B sections


@pytest.mark.slow
def test_candidates_for_a_host(sample_home: Path) -> None:
    code, out, _ = run(sample_home, "candidates", "h-j04", "--sample", "--top", "3", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["considered"] >= 40 and len(result["candidates"]) == 3
    assert result["candidates"][0]["researcher_id"].startswith("r-j")


def test_programmes_lists_rules_and_verdicts() -> None:
    result = CliRunner().invoke(cli, ["programmes"])
    assert result.exit_code == 0 and "postdoc-standard" in result.stdout and "12 months to 24 months" in result.stdout
    result = CliRunner().invoke(cli, ["programmes", "--sample", "r-a-03"])
    assert result.exit_code == 0 and "yes postdoc-standard" in result.stdout
    assert CliRunner().invoke(cli, ["programmes", "--sample", "R-A-03"]).stdout == result.stdout  # ids ignore case


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--programme", "postdoc-forever"], "Invalid value for '--programme'"),
        (["--region", "Atlantis"], "region: unknown region 'Atlantis'"),
        (["--section", "Q"], "section: 'Q' is neither"),
        (["--weights", "topic=-2"], "non-negative"),
        (["--min-score", "2"], "--min-score"),
    ],
)
def test_bad_match_options_name_the_option(tmp_path: Path, args: list[str], fragment: str) -> None:
    code, _, err = run(tmp_path, "match", "--sample", "r-j-01", *args)
    assert code == 2 and fragment in err


@pytest.mark.slow
def test_batch_on_the_sample_call(sample_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "call"
    sample = Path(__file__).parent.parent / "models" / "sample"
    code, stdout, err = run(
        sample_home,
        "batch",
        "--applicants",
        str(sample / "researchers.json"),
        "--hosts",
        str(sample / "hosts.json"),
        "--out",
        str(out),
        "--shortlist",
        "5",
    )
    assert code == 0, err
    assert "applicants assigned" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["applicants"] == 46 and report["assigned"] >= 35  # 46 since three researchers were added
    assert {p.name for p in out.iterdir()} == {"assignments.csv", "shortlists.csv", "report.json", "report.html"}


def test_batch_hosts_without_capacity_need_a_default(tmp_path: Path) -> None:
    from tests.conftest import host_record

    record = host_record("h-nocap")
    del record["capacity"]
    hosts = tmp_path / "hosts.jsonl"
    hosts.write_text(json.dumps(record) + "\n")
    applicants = tmp_path / "applicants.jsonl"
    applicants.write_text(json.dumps(researcher_record()) + "\n")
    code, _, err = run(
        tmp_path / "home",
        "batch",
        "--applicants",
        str(applicants),
        "--hosts",
        str(hosts),
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 2 and "hosts.jsonl record 1 (id 'h-nocap')" in err and "capacity: Field required" in err
    assert not (tmp_path / "out").exists()


def test_batch_option_conflicts_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run(
        tmp_path,
        "batch",
        "--applicants",
        "a.json",
        "--from-store",
        "--out",
        "o",
        "--method",
        "stable",
        "--per-applicant",
        "2",
    )
    assert code == 2 and "--method stable gives one host per applicant" in err


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    """Every command embeds with the fake embedder (through the data folder's cache), not the real model."""
    from scripts.cli import State

    fake = FakeEmbedder()
    monkeypatch.setattr(State, "make_encoder", lambda state: fake)
    return fake


def test_match_says_which_texts_the_model_cannot_read_and_build_counts_such_hosts(
    tmp_path: Path, fake_model: FakeEmbedder
) -> None:
    labs = tmp_path / "labs.jsonl"
    records = [
        host_record("h-en", description="Slow slip events along the Nankai trough."),
        host_record(
            "h-ja", description="沈み込み帯のスロースリップを研究しています。", publications=[{"title": "津波"}]
        ),
    ]
    labs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    code, out, _ = run(tmp_path, "index", "build", "--hosts", str(labs))
    assert code == 0 and "1 host has documents in a language the model does not read (2 in Japanese)" in out
    me = tmp_path / "me.json"
    english = researcher_record(statement="Slow slip events and tsunami warning.")
    me.write_text(json.dumps({**english, "publications": [{"title": "南海トラフのスロースリップ"}]}), encoding="utf-8")
    code, out, _ = run(tmp_path, "match", "--researcher", str(me))
    assert (
        code == 0
        and "\nThe matching model reads English only. Publication 1: 南海トラフのスロースリップ is in Japanese" in out
    )
    assert "ask the service to enable the multilingual encoder." in out
    me.write_text(json.dumps(english), encoding="utf-8")
    code, out, _ = run(tmp_path, "match", "--researcher", str(me))
    assert code == 0 and "reads English only" not in out


def small_call(folder: Path) -> tuple[Path, Path]:
    """Three hosts with one place each and five applicants (JSON Lines files)."""
    topics = ["coral reef symbiosis", "tsunami early warning", "japanese honorifics in language models"]
    hosts = folder / "hosts.jsonl"
    with hosts.open("w") as handle:
        for i, topic in enumerate(topics):
            record = host_record(
                f"h-{i}",
                lab_name=f"{topic.title()} Lab",
                pi_name=f"PI {i}",
                description=f"We study {topic}.",
                capacity=1,
            )
            handle.write(json.dumps(record) + "\n")
    applicants = folder / "applicants.jsonl"
    with applicants.open("w") as handle:
        for i in range(5):
            statement = f"I work on {topics[i % 3]}, case {i}."
            handle.write(json.dumps(researcher_record(f"r-{i}", name=f"Applicant {i}", statement=statement)) + "\n")
    return hosts, applicants


def test_batch_keeps_a_status_file_from_start_to_done(
    tmp_path: Path, fake_model: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matcher.calls.status

    written: list[dict[str, Any]] = []
    real = matcher.calls.status.atomic_write_text

    def keep(path: Path, text: str) -> None:
        written.append(json.loads(text))
        real(path, text)

    monkeypatch.setattr(matcher.calls.status, "atomic_write_text", keep)
    hosts, applicants = small_call(tmp_path)
    out = tmp_path / "call"
    code, stdout, stderr = run(
        tmp_path / "home",
        "batch",
        "--applicants",
        str(applicants),
        "--hosts",
        str(hosts),
        "--out",
        str(out),
        "--status-file",
        str(out / "status.json"),
    )
    assert code == 0, stderr
    assert stderr == ""  # standard error is not a terminal here: no bars, no lines
    stages = [w["stage"] for w in written]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "starting",
        "embedding",
        "scoring",
        "solving",
        "writing",
        "done",
    ]
    final = json.loads((out / "status.json").read_text())
    assert final == written[-1]
    assert final["percent"] == 100.0 and final["error"] is None
    assert final["stages"]["scoring"] == {"done": 5, "total": 5}
    assert final["stages"]["embedding"]["total"] == fake_model.texts_embedded == 8  # 3 hosts' and 5 applicants' texts
    assert final["summary"]["text"] == stdout.strip()
    assert final["summary"]["assigned"] == 3 and final["summary"]["unassigned"] == {"eligible hosts full": 2}
    assert stdout.strip() == (
        f"3 of 5 applicants assigned (60%), mean score {final['summary']['mean_score']:.2f}. 2 without a host: "
        f"2 all eligible labs full. Outputs in {out}: assignments.csv, shortlists.csv, report.json, report.html."
    )


def test_batch_writes_failed_with_the_message_and_exits_2(tmp_path: Path, fake_model: FakeEmbedder) -> None:
    hosts, _ = small_call(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(researcher_record("r-late", phd=2101)) + "\n")
    status = tmp_path / "call" / "status.json"
    code, _, err = run(
        tmp_path / "home",
        "batch",
        "--applicants",
        str(bad),
        "--hosts",
        str(hosts),
        "--out",
        str(tmp_path / "call"),
        "--status-file",
        str(status),
    )
    assert code == 2 and "bad.jsonl record 1 (id 'r-late')" in err
    saved = json.loads(status.read_text())
    assert (
        saved["stage"] == "failed" and "bad.jsonl record 1 (id 'r-late')" in saved["error"] and "phd" in saved["error"]
    )
    assert "Traceback" not in saved["error"] and saved["summary"] is None
    code, _, err = run(
        tmp_path / "home",
        "batch",
        "--applicants",
        str(bad),
        "--hosts",
        str(hosts),
        "--from-store",
        "--out",
        str(tmp_path / "call"),
        "--status-file",
        str(status),
    )
    assert code == 2 and "exactly one of --hosts FILE or --from-store" in err
    assert json.loads(status.read_text())["error"] == "give exactly one of --hosts FILE or --from-store"


def test_a_status_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path, fake_model: FakeEmbedder) -> None:
    hosts, applicants = small_call(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(
        tmp_path / "home",
        "batch",
        "--applicants",
        str(applicants),
        "--hosts",
        str(hosts),
        "--out",
        str(tmp_path / "call"),
        "--status-file",
        str(blocker / "status.json"),
    )
    assert code == 2 and "--status-file" in err and "cannot write" in err
    assert not (tmp_path / "call").exists()


LONG_TITLE = (
    "A very long publication title about coral reef symbiosis, heat stress, bleaching thresholds and the recovery "
    "of Symbiodiniaceae communities across Okinawan fringing reefs over two decades of monitoring"
)


def explained_home(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder indexed with the fake embedder: one host whose keywords and publication title make every
    explanation line long; and a researcher file fitting it."""
    keywords = [
        "coral reef symbiosis",
        "thermal bleaching thresholds",
        "Symbiodiniaceae community ecology",
        "reef restoration genomics",
        "ocean acidification physiology",
    ]
    hosts = tmp_path / "hosts.jsonl"
    host = host_record(
        "h-reef",
        lab_name="Reef Lab",
        fields={"sections": ["45"], "keywords": keywords},
        description="We study coral reef symbiosis, thermal bleaching thresholds and reef restoration genomics.",
        publications=[{"title": LONG_TITLE, "abstract": "Coral reef symbiosis under heat stress in Okinawa."}],
        accepted_stages=["R1", "R2"],
    )
    hosts.write_text(json.dumps(host) + "\n" + json.dumps(host_record("h-other")) + "\n")
    me = tmp_path / "me.json"
    statement = "Coral reef symbiosis and thermal bleaching thresholds of Symbiodiniaceae, with reef restoration."
    me.write_text(
        json.dumps(researcher_record("r-reef", fields={"sections": ["45"], "keywords": keywords}, statement=statement))
    )
    home = tmp_path / "home"
    code, _, err = run(home, "index", "build", "--hosts", str(hosts))
    assert code == 0, err
    return home, me


def test_explanations_are_never_cut_when_the_output_is_not_a_terminal(tmp_path: Path, fake_model: FakeEmbedder) -> None:
    home, me = explained_home(tmp_path)
    code, out, err = run(home, "match", "--researcher", str(me), "--explain")
    assert code == 0, err
    assert "…" not in out
    assert LONG_TITLE in out  # the evidence line in full
    assert "symbiodiniaceae community ecology, thermal bleaching thresholds" in out  # every keyword, to the last
    assert max(len(line) for line in out.splitlines()) > 130


def test_candidates_explain_shows_what_a_match_shows(tmp_path: Path, fake_model: FakeEmbedder) -> None:
    """The staff view of one pair explains it with the very lines the researcher's match does."""
    home, me = explained_home(tmp_path)
    _, matched, _ = run(home, "match", "--researcher", str(me), "--explain", "--top", "1")
    code, listed, err = run(home, "candidates", "h-reef", "--researchers", str(me), "--explain")
    assert code == 0, err
    assert listed.startswith("Top 1 of 1 researchers for Reef Lab [h-reef]")

    def explanation(text: str) -> list[str]:
        components = ("topic ", "stage ", "tenure ", "field ", "practical ", "terms ", "· ")
        return [line for line in text.splitlines() if line.strip().startswith(components)]

    lines = explanation(listed)
    assert [line.split()[0] for line in lines[:6]] == ["topic", "stage", "tenure", "field", "practical", "terms"]
    assert any(LONG_TITLE in line for line in lines)
    assert lines == explanation(matched.split("\n\n", 2)[2])  # the match's lines after its header and programmes
    code, plain, _ = run(home, "candidates", "h-reef", "--researchers", str(me))
    assert code == 0 and not explanation(plain)


def test_explanations_fit_a_terminal_and_are_whole_elsewhere(tmp_path: Path) -> None:
    import io
    import os

    from scripts.cli import fit, output_width

    reason = "same KAKENHI medium section 45; shared keywords: " + ", ".join(f"keyword number {i}" for i in range(20))
    assert fit("    field  ", reason, None) == "    field  " + reason
    cut = fit("    field  ", reason, 80)
    assert len(cut) <= 80 and cut.endswith("…") and cut.startswith("    field  same KAKENHI")
    assert output_width(io.StringIO()) is None
    reader, writer = os.openpty()
    try:
        with os.fdopen(writer, "w") as terminal:
            assert isinstance(output_width(terminal), int)
    finally:
        os.close(reader)
