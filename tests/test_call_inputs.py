"""The files staff give a call besides applicants and hosts: exclusions and host preferences."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.calls.inputs import read_exclusions, read_host_preferences
from matcher.errors import InvalidInput


def test_exclusions_are_pairs_with_spaces_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "coi.csv"
    path.write_text("applicant_id,host_id\na1,h1\n a2 , h2\n")
    assert read_exclusions(path) == {("a1", "h1"), ("a2", "h2")}


def test_ids_in_a_calls_files_ignore_case(tmp_path: Path) -> None:
    """Ids are stored in lower case, so "R-A-01" in a file names the stored r-a-01."""
    (tmp_path / "coi.csv").write_text("applicant_id,host_id\nR-A-01,H-B10\n")
    assert read_exclusions(tmp_path / "coi.csv") == {("r-a-01", "h-b10")}
    (tmp_path / "prefs.csv").write_text("host_id,applicant_id,rank\nH-B10,R-A-01,1\n")
    assert read_host_preferences(tmp_path / "prefs.csv") == {"h-b10": ["r-a-01"]}
    (tmp_path / "prefs.json").write_text('{"H-B10": ["R-A-01"]}')
    assert read_host_preferences(tmp_path / "prefs.json") == {"h-b10": ["r-a-01"]}


def test_preferences_from_csv_are_ordered_by_rank_and_from_json_as_given(tmp_path: Path) -> None:
    prefs = tmp_path / "prefs.csv"
    prefs.write_text("host_id,applicant_id,rank\nh1,a2,2\nh1,a1,1\nh2,a3,1\n")
    assert read_host_preferences(prefs) == {"h1": ["a1", "a2"], "h2": ["a3"]}
    (tmp_path / "prefs.json").write_text('{"h1": ["a3", "a1"]}')
    assert read_host_preferences(tmp_path / "prefs.json") == {"h1": ["a3", "a1"]}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "applicant,host\n", r"missing column"),
        ("ranks.csv", "host_id,applicant_id,rank\nh1,a1,first\n", r"line 2: 'first' is not a whole number"),
        ("shape.json", '{"h1": "a1"}', r"expected \{host_id: \[applicant_id, \.\.\.\]\}"),
        ("broken.json", "{", r"broken.json"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    read = read_exclusions if name == "bad.csv" else read_host_preferences
    with pytest.raises(InvalidInput, match=message):
        read(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"nowhere.csv: no such file"):
        read_exclusions(tmp_path / "nowhere.csv")
