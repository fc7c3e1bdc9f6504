from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from matcher.errors import InvalidInput
from matcher.records import read_hosts, read_researchers, sample_path
from tests.conftest import host_record, researcher_record


def test_json_list_object_and_wrapped_forms(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([host_record("a"), host_record("b")]))
    (tmp_path / "one.json").write_text(json.dumps(host_record("c")))
    (tmp_path / "wrapped.json").write_text(json.dumps({"notice": "fictional", "hosts": [host_record("d")]}))
    assert [h.id for h in read_hosts(tmp_path / "list.json")] == ["a", "b"]
    assert [h.id for h in read_hosts(tmp_path / "one.json")] == ["c"]
    assert [h.id for h in read_hosts(tmp_path / "wrapped.json")] == ["d"]


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(researcher_record(f"r{i}")) for i in range(3)) + "\n\n")
    assert [r.id for r in read_researchers(path)] == ["r0", "r1", "r2"]


def test_csv_with_list_columns_and_publications(tmp_path: Path) -> None:
    path = tmp_path / "hosts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "id",
                "pi_name",
                "lab_name",
                "institution",
                "prefecture",
                "city",
                "sections",
                "keywords",
                "description",
                "publications",
                "capacity",
                "accepted_stages",
                "hosting_window_min",
                "hosting_window_max",
                "programmes",
                "languages",
            ]
        )
        writer.writerow(
            [
                "h-csv",
                "PI",
                "Lab",
                "Osaka University",
                "Osaka",
                "Suita",
                "60;61",
                "graphs; ml",
                "We study graphs.",
                json.dumps([{"title": "Graphs", "abstract": "On graphs."}]),
                "3",
                "R2;R3",
                "1 month",
                "12 months",
                "postdoc-short",
                "en;ja",
            ]
        )
    (host,) = read_hosts(path)
    assert host.fields.sections == ("60", "61") and host.fields.keywords == ("graphs", "ml")
    assert host.capacity == 3 and host.hosting_window.max == 365
    assert host.publications[0].text == "Graphs. On graphs."


def test_csv_reads_a_host_page_and_leaves_an_empty_one_out(tmp_path: Path) -> None:
    path = tmp_path / "hosts.csv"
    columns = ["id", "pi_name", "lab_name", "institution", "prefecture", "city", "description"]
    columns += ["capacity", "accepted_stages", "hosting_window_min", "hosting_window_max", "programmes", "url"]
    common = ["PI", "Lab", "Osaka University", "Osaka", "Suita", "We study graphs.", "1", "R2", "1 month", "2 months"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow(["h-page", *common, "summer", "https://www.example.ac.jp/graphs/"])
        writer.writerow(["h-none", *common, "summer", " "])
        writer.writerow(["h-bad", *common, "summer", "mailto:pi@example.ac.jp"])
    with pytest.raises(InvalidInput) as info:
        read_hosts(path)
    assert "hosts.csv record 3 (id 'h-bad')" in str(info.value) and "url: must be a web address" in str(info.value)
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n")
    assert [h.url for h in read_hosts(path)] == ["https://www.example.ac.jp/graphs/", None]


def test_errors_name_the_file_record_and_field(tmp_path: Path) -> None:
    bad = researcher_record("r-bad", programmes=["nope"])
    del bad["statement"]
    path = tmp_path / "people.json"
    path.write_text(json.dumps([researcher_record("r-ok"), bad]))
    with pytest.raises(InvalidInput) as info:
        read_researchers(path)
    message = str(info.value)
    assert "people.json record 2 (id 'r-bad')" in message
    assert "statement: Field required" in message
    assert "programmes.0: unknown programme 'nope'" in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps([host_record("same"), host_record("same")]))
    with pytest.raises(InvalidInput, match="'same' is used again"):
        read_hosts(path)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("h.json", "{not json", "not valid JSON"),
        ("h.txt", "x", "unknown format"),
        ("h.jsonl", '{"id": 1}\n{oops', "line 2: not valid JSON"),
        ("h.json", "42", "expected a list"),
        ("h.json", "[" * 10_000 + "]" * 10_000, "nested more than 64 levels deep"),  # was RecursionError
        ("h.jsonl", "[" * 100 + "]" * 100, "line 1: not valid JSON: arrays and objects are nested"),
        ("h.json", "[" + "1" * 5000 + "]", "not valid JSON: Exceeds the limit"),  # was ValueError
    ],
)
def test_unreadable_files_are_reported(tmp_path: Path, name: str, content: str, fragment: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInput, match=fragment):
        read_hosts(path)


def test_a_huge_number_in_a_csv_column_is_refused_naming_the_field(tmp_path: Path) -> None:
    """int() of 5,000 digits raised ValueError while the row was read (a 500 on the staff upload page)."""
    path = tmp_path / "r.csv"
    record = {k: v for k, v in researcher_record().items() if not isinstance(v, list)}
    path.write_text(",".join(record) + "\n" + ",".join(str(v) for v in {**record, "phd": "9" * 5000}.values()) + "\n")
    with pytest.raises(InvalidInput, match="phd"):
        read_researchers(path)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        read_hosts(tmp_path / "absent.json")


def test_the_bundled_sample_meets_its_brief() -> None:
    """At least 120 labs over all 11 broad areas with 3-8 publications each; at least 40 researchers over
    R1-R4 and every tenure range; all of it marked fictional."""
    import datetime as dt

    from models.programmes import programmes

    hosts = read_hosts(sample_path("hosts"))
    researchers = read_researchers(sample_path("researchers"))
    assert len(hosts) >= 120 and len(researchers) >= 40
    assert set().union(*(h.fields.broad_sections for h in hosts)) == set("ABCDEFGHIJK")
    assert all(3 <= len(h.publications) <= 8 for h in hosts)
    assert {r.stage(on=dt.date(2026, 11, 1)) for r in researchers} == {"R1", "R2", "R3", "R4"}
    for programme in programmes().values():
        assert any(programme.tenure_min <= r.desired_tenure <= programme.tenure_max for r in researchers), programme.id
    for kind in ("hosts", "researchers"):
        assert "fictional" in json.loads(sample_path(kind).read_text())["notice"].lower()


def test_every_sample_researcher_has_a_statement_in_japanese_and_a_share_of_the_sample_is_japanese() -> None:
    """statements_ja.json: one Japanese statement per sample researcher, for the cross-language evaluation; at
    least 20 labs with Japanese documents, some of them only in Japanese."""
    from matcher.text.documents import host_documents
    from matcher.text.languages import language_of

    researchers = read_researchers(sample_path("researchers"))
    data = json.loads((sample_path("researchers").parent / "statements_ja.json").read_text(encoding="utf-8"))
    assert "fictional" in data["notice"].lower()
    assert list(data["statements"]) == [r.id for r in researchers]
    assert all(language_of(text) == "ja" for text in data["statements"].values())
    languages = {h.id: {d.language for d in host_documents(h)} for h in read_hosts(sample_path("hosts"))}
    assert sum("ja" in found for found in languages.values()) >= 20
    assert sum(found == {"ja"} for found in languages.values()) >= 5
