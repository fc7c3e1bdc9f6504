"""Reading a researcher's publications from BibTeX, JSON and CSV files, with hand-written files."""

from __future__ import annotations

import json

import pytest

from matcher.errors import InvalidInput
from matcher.text.publications import MAX_PUBLICATIONS, read_publications
from tests.conftest import researcher_record

BIB = r"""
% exported by hand
@string{quakes = "Slow earthquakes along the {N}ankai trough"}
@String{JGR = {J. Geophys. Res.}}

@article{muller2020,
  Title    = {{Bayesian} inference of slow slip},
  author   = {M{\"u}ller, Hans and Smith, John and {\O}stergaard, S{\o}ren and de la Fontaine, Jean and others},
  journal  = JGR,
  year     = 2020,
  abstract = {We find that 50% of events
              migrate at ~10\,km/day, see \url{https://example.org/data} and \emph{Fig.~3}.}
}

@inproceedings{doe2019,
  title  = "Caf\'e na\"{\i}ve \c{c}a -- $\alpha$-stable noise",
  author = "Jane Doe and {World Health Organization}",
  date   = {2019-05-03}
}

@book{macro, title = quakes}
"""


def test_bibtex_entries_become_plain_unicode_publications() -> None:
    first, second, third = read_publications(BIB, filename="refs.bib")
    assert first.title == "Bayesian inference of slow slip"
    assert first.abstract == (
        "We find that 50% of events migrate at 10 km/day, see https://example.org/data and Fig. 3."
    )
    assert first.year == 2020
    assert first.coauthors == ("Hans Müller", "John Smith", "Søren Østergaard", "Jean de la Fontaine")
    assert second.title == "Café naïve ça – α-stable noise"
    assert second.abstract == "" and second.year == 2019  # no abstract; the year of a biblatex date
    assert second.coauthors == ("Jane Doe", "World Health Organization")  # a braced name is one name
    assert third.title == "Slow earthquakes along the Nankai trough"  # from the @string macro
    assert third.year is None and third.coauthors == ()


def test_bytes_with_a_byte_order_mark_read_like_text() -> None:
    data = '\ufeff@article{k, title = {Gr{\\"o}{\\ss}e}}'.encode()
    assert [p.title for p in read_publications(data, filename="Refs.BIB")] == ["Größe"]


def test_every_bad_entry_is_named_by_number_key_and_line() -> None:
    bad = r"""@article{a, title={A}, year={in press}}
@misc{b, author={X Y}}
@article{broken,
  title = {Unclosed
  year = 2001
}
@article{a, title={Again}}
@article{c, title = undefinedmacro}
@article{d, title={D}, title={D2}}
@article{e, title={E}, author={Last, Jr, First, Extra}}
@article{f, title={F}, year = 1850}
@article{fine, title={Fine}}
"""
    with pytest.raises(InvalidInput) as info:
        read_publications(bad, filename="/home/me/refs.bib")
    messages = [str(e) for e in info.value.errors]
    assert messages[0] == "refs.bib entry 1 (key a, line 1): year: 'in press' is not a year like 2020; " + (
        "leave the field out when it is not known"
    )
    assert messages[1] == "refs.bib entry 2 (key b, line 2): title: missing"
    assert messages[2].startswith("refs.bib entry 3 (key broken, line 3): cannot be read (")
    assert "braces and quotes are closed" in messages[2]
    assert messages[3] == "refs.bib entry 4 (key a, line 7): key: 'a' is used again (first by entry 1)"
    assert messages[4].startswith("refs.bib entry 5 (key c, line 8): title: 'undefinedmacro' is an @string name")
    assert messages[5] == "refs.bib entry 6 (key d, line 9): title: given more than once"
    assert messages[6].startswith("refs.bib entry 7 (key e, line 10): author: cannot read the name")
    assert messages[7] == "refs.bib entry 8 (key f, line 11): year: Input should be greater than or equal to 1900"
    assert len(messages) == 8  # entry 9 is fine


def test_a_broken_string_definition_is_reported_without_counting_as_an_entry() -> None:
    bad = "@string{journal = {unclosed\n@article{a, title={A}}\n@article{b, title={B}, author = somebody}\n"
    with pytest.raises(InvalidInput) as info:
        read_publications(bad, filename="refs.bib")
    first, second = (str(e) for e in info.value.errors)
    assert first.startswith("refs.bib line 1: cannot be read (")
    assert second.startswith("refs.bib entry 2 (key b, line 3): author: 'somebody' is an @string name")


def test_a_file_without_entries_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"refs\.bib: no publications found"):
        read_publications("this is a letter, not a bibliography", filename="refs.bib")


def test_the_number_of_publications_is_capped() -> None:
    entries = "\n".join(f"@misc{{k{i}, title={{Paper {i}}}}}" for i in range(MAX_PUBLICATIONS))
    assert len(read_publications(entries, filename="refs.bib")) == MAX_PUBLICATIONS
    with pytest.raises(InvalidInput) as info:
        read_publications(entries + "\n@misc{one_more, title={One more}}", filename="refs.bib")
    assert str(info.value).startswith(f"refs.bib: {MAX_PUBLICATIONS + 1} publications; at most {MAX_PUBLICATIONS}")


@pytest.mark.parametrize(
    ("filename", "data", "fragment"),
    [
        ("refs.txt", "x", "refs.txt: unknown format '.txt'; use a file ending in .bib, .json, .csv"),
        ("refs", "x", "unknown format '(no extension)'"),
        ("refs.bib", b"@misc{k, title={Gr\xf6\xdfe}}", "refs.bib: not UTF-8 text"),
        ("refs.json", "[{", "refs.json: not valid JSON"),
        ("refs.json", "[" * 10_000, "refs.json: not valid JSON: arrays and objects are nested more than 64"),
        ("refs.json", '{"title": "One paper"}', 'an object with a "publications" list'),
        ("refs.csv", "title,doi\nA,10.1/x\n", "refs.csv: unknown column 'doi'; the columns are title, abstract"),
        ("refs.csv", "abstract,year\nA,2020\n", "refs.csv: no title column"),
    ],
)
def test_unreadable_files_say_why(filename: str, data: str | bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        read_publications(data, filename=filename)
    assert fragment in str(info.value)


def test_json_as_a_list_an_object_or_a_researcher_profile() -> None:
    papers = [{"title": "Slow slip", "year": 2021, "coauthors": ["A. Author"]}, {"title": "Tsunami"}]
    profile = researcher_record(publications=papers)
    for data in (papers, {"publications": papers}, profile):
        read = read_publications(json.dumps(data), filename="me.json")
        assert [(p.title, p.year, p.coauthors) for p in read] == [
            ("Slow slip", 2021, ("A. Author",)),
            ("Tsunami", None, ()),
        ]


def test_json_errors_name_the_publication_and_field() -> None:
    data = [{"title": "Fine"}, {"abstract": "no title"}, "a string", {"title": "T", "doi": "10.1/x"}]
    with pytest.raises(InvalidInput) as info:
        read_publications(json.dumps(data), filename="me.json")
    assert [str(e) for e in info.value.errors] == [
        "me.json publication 2: title: Field required",
        "me.json publication 3: expected an object with a title, got str",
        "me.json publication 4: doi: Extra inputs are not permitted",
    ]


def test_csv_with_semicolon_separated_coauthors() -> None:
    data = (
        'Title,abstract,year,coauthors\nSlow slip,"Two lines\nof abstract",2021,Hans Müller; Jane Doe ;\nTsunami,,,\n'
    )
    first, second = read_publications(data, filename="papers.csv")
    assert (first.title, first.abstract, first.year) == ("Slow slip", "Two lines\nof abstract", 2021)
    assert first.coauthors == ("Hans Müller", "Jane Doe")
    assert (second.title, second.abstract, second.year, second.coauthors) == ("Tsunami", "", None, ())


def test_csv_errors_name_the_row_as_a_spreadsheet_numbers_it() -> None:
    data = "title,year\nFine,2020\n,2021\nLate,soon\nExtra,2020,surplus\n"
    with pytest.raises(InvalidInput) as info:
        read_publications(data, filename="papers.csv")
    messages = [str(e) for e in info.value.errors]
    assert messages[0] == "papers.csv row 3: title: missing"
    assert messages[1].startswith("papers.csv row 4: year: Input should be a valid integer")
    assert messages[2] == "papers.csv row 5: 1 value beyond the 2 columns"
    assert len(messages) == 3
