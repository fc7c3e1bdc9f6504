"""The pages for people through Flask's test client, over the fake embedder (the browser tests in
test_browser.py drive the same pages in Chromium with the real model)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from service.tokens import Tokens
from tests.conftest import host_record, researcher_record
from tests.test_service import POETRY, QUAKE, Service

SECRET_NAME = "Zebulon Quartermaine"  # a stored researcher's name that must never reach a public page


@pytest.fixture
def site(tmp_path: Path) -> Service:
    svc = Service(tmp_path)
    hosts = [
        host_record("h-quake", description=QUAKE, fields={"sections": ["22"], "keywords": ["seismic isolation"]},
                    lab_name="Quake Lab", url="https://quake.example.ac.jp/"),
        host_record("h-poetry", description=POETRY, fields={"sections": ["2"], "keywords": ["waka"]},
                    lab_name="Poetry Lab", prefecture="Tokyo", city="Tokyo", institution="Waseda University"),
    ]  # fmt: skip
    assert svc.call("POST", "/v1/hosts", "admin", json={"hosts": hosts}).status_code == 201
    stored = [researcher_record("r-quake", statement=QUAKE, name=SECRET_NAME, email="zq@example.org")]
    assert svc.call("POST", "/v1/researchers", "staff", json={"researchers": stored}).status_code == 201
    return svc


def text_of(response: TestResponse) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def csrf(response: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def field_error(response: TestResponse, name: str) -> str:
    """The error message shown beside one field."""
    found = re.search(rf'id="{re.escape(name)}-error">(.*?)</p>', response.get_data(as_text=True), flags=re.S)
    assert found, f"no error beside {name}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()).removeprefix("Error: ")


def value_of(response: TestResponse, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', response.get_data(as_text=True))
    assert found, f"no input {name}"
    return html.unescape(found.group(1))


def profile_form(token: str, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": token,
        "statement": QUAKE,
        "institution": "University of Leeds",
        "country": "GB",
        "nationality": "GB",
        "position": "postdoc",
        "phd_status": "awarded",
        "phd_year": "2022",
        "stay_amount": "12",
        "stay_unit": "months",
        "languages": ["en"],
        "programmes": ["postdoc-standard"],
        "sections": "",  # "Not given", as a browser sends it
        "pub-0-title": "Ground motion of the 2024 Noto earthquake",
        "pub-0-abstract": "Seismic records of buildings with seismic isolation during the Noto earthquake.",
        "action": "match",
    }
    form.update(overrides)
    return form


def submit(site: Service, **overrides: Any) -> TestResponse:
    token = csrf(site.client.get("/"))
    return site.client.post("/", data=profile_form(token, **overrides))


# -- the applicant ---------------------------------------------------------------------------------------


def test_the_start_page_explains_and_labels_every_input(site: Service) -> None:
    response = site.client.get("/")
    assert response.status_code == 200
    assert "Find a host lab in Japan" in text_of(response)
    page = response.get_data(as_text=True)
    ids = set(re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page))
    hidden = set(re.findall(r'<input[^>]*type="hidden"[^>]*id="([^"]+)"', page))
    assert ids and ids - hidden <= labelled, f"inputs without a label: {sorted(ids - hidden - labelled)}"


def test_a_valid_profile_gets_eligibility_first_then_ranked_labs_with_reasons(site: Service) -> None:
    response = submit(site)
    assert response.status_code == 200, field_errors_of(response)
    page = text_of(response)
    assert page.index("Programmes you may apply to") < page.index("Ranked host labs")
    assert page.index("Quake Lab") < page.index("Poetry Lab")
    assert "Official page" in page and "Research topic" in page and "Length of stay" in page
    assert "Ground motion of the 2024 Noto earthquake" in page  # evidence names my text
    assert "seismic isolation" in page.lower()


def field_errors_of(response: TestResponse) -> list[str]:
    return re.findall(r'class="error-message" id="([^"]+)-error"', response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"phd_year": "twenty"}, "phd_year", "Enter the year your PhD was awarded"),
        ({"phd_year": "2099"}, "phd_year", "can't be in the future"),
        ({"phd_year": "2025", "desired_start": "2024-04-01"}, "phd_year", "can't be after the date you would start"),
        ({"phd_year": "1850"}, "phd_year", "Enter a year from 1940 onwards"),
        ({"phd_status": "in_progress", "phd_expected": "2001"}, "phd_expected", "up to ten years from now"),
        ({"statement": ""}, "statement", "Enter your research statement"),
        ({"institution": ""}, "institution", "Enter the university or institute"),
        ({"stay_amount": "a year"}, "stay_amount", "whole number"),
        ({"phd_status": "in_progress", "phd_expected": "soon"}, "phd_expected", "expect to finish"),
        ({"pub-0-title": "", "pub-0-abstract": "An abstract without its title."}, "pub-0-title", "Give a title"),
    ],
)
def test_a_wrong_field_is_explained_in_words_beside_it_and_the_rest_is_kept(
    site: Service, overrides: dict[str, str], field: str, words: str
) -> None:
    response = submit(site, **overrides)
    assert response.status_code == 422
    message = field_error(response, field)
    assert words in message and "valid integer" not in message and "phd.int" not in message
    assert f'href="#{field}"' in response.get_data(as_text=True)  # the summary links to it
    if field != "institution":
        assert value_of(response, "institution") == "University of Leeds"
    kept = overrides.get("pub-0-abstract", "Seismic records of buildings")
    assert kept in response.get_data(as_text=True)


BIBTEX = r"""
@article{ota2023,
  title = {Slow slip events beneath the {Nankai} trough},
  author = {Ota, Keiko and M{\"u}ller, Jana},
  year = {2023},
  abstract = {Seafloor geodesy reveals slow slip events and tsunami early warning signals.},
}
"""


def test_a_bibtex_file_fills_the_publications(site: Service) -> None:
    token = csrf(site.client.get("/"))
    form = profile_form(token, action="read-file")
    form["publications_file"] = (io.BytesIO(BIBTEX.encode()), "mine.bib")
    response = site.client.post("/", data=form, content_type="multipart/form-data")
    assert response.status_code == 200
    assert value_of(response, "pub-1-title") == "Slow slip events beneath the Nankai trough"
    assert value_of(response, "pub-1-coauthors") == "Keiko Ota; Jana Müller"
    assert value_of(response, "pub-0-title") == "Ground motion of the 2024 Noto earthquake"  # kept


def test_a_file_that_is_not_a_publication_list_is_explained(site: Service) -> None:
    token = csrf(site.client.get("/"))
    form = profile_form(token, action="read-file")
    form["publications_file"] = (io.BytesIO(b"@article{broken, title = {no end"), "mine.bib")
    response = site.client.post("/", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "could not read publications" in field_error(response, "publications_file")


def _results_form(response: TestResponse, **filters: str) -> dict[str, Any]:
    return {"csrf_token": csrf(response), "profile": value_of(response, "profile"), **filters}


def test_filters_re_rank_without_retyping_the_profile(site: Service) -> None:
    first = submit(site)
    response = site.client.post("/results", data=_results_form(first, section="A"))
    page = text_of(response)
    assert response.status_code == 200 and "Poetry Lab" in page and "Quake Lab" not in page
    response = site.client.post("/results", data=_results_form(first, min_score="2"))
    assert response.status_code == 422 and "between 0 and 1" in field_error(response, "min_score")


def test_left_out_labs_are_counted_with_the_reason(site: Service) -> None:
    response = submit(site, institution="Kyoto University")  # where h-quake is
    assert "1 same institution as yours" in text_of(response)
    assert "Quake Lab" not in text_of(response).split("Ranked host labs")[1]


def test_the_shortlist_downloads_the_ticked_labs(site: Service) -> None:
    first = submit(site)
    response = site.client.post("/shortlist.csv", data={**_results_form(first), "shortlist": ["h-poetry"]})
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["host_id"] for r in rows] == ["h-poetry"] and rows[0]["rank"] == "2"
    assert rows[0]["lab"] == "Poetry Lab" and rows[0]["lab_page"].endswith("/labs/h-poetry")
    everything = site.client.post("/shortlist.csv", data=_results_form(first))
    assert len(list(csv.DictReader(io.StringIO(everything.get_data(as_text=True))))) == 2


def test_an_eligible_programme_says_through_whom_to_apply(site: Service) -> None:
    page = text_of(submit(site, sections="17"))
    assert "How to apply:" in page
    assert "Nomination by the Royal Society (The Royal Society): works in GB" in page
    assert "Open recruitment: the host applies" in page and "British Academy" not in page


def test_the_answers_note_is_shown_above_the_labs(site: Service) -> None:
    response = submit(site, phd_year="2012", programmes=["postdoc-standard"])
    first = _results_form(response, programme="postdoc-standard")
    page = text_of(site.client.post("/results", data=first))
    assert "About your profile: not eligible for" in page


def test_a_statement_in_japanese_is_named_above_the_labs(site: Service) -> None:
    page = text_of(submit(site, statement="建物の免震と地震動の研究を行いたいと考えています。"))
    assert "About your profile: The matching model reads English only. Your research statement is in Japanese" in page
    assert page.index("Your research statement is in Japanese") < page.index("Quake Lab")
    assert "multilingual encoder" not in text_of(submit(site))


def test_two_notes_are_listed_apart(site: Service) -> None:
    response = submit(site, phd_year="2012", programmes=["postdoc-standard"], statement="地震動の研究をしたい。")
    body = site.client.post("/results", data=_results_form(response, programme="postdoc-standard"))
    notes = re.findall(r"<li>(.*?)</li>", body.get_data(as_text=True).split('class="notes"')[1].split("</ul>")[0])
    assert len(notes) == 2 and notes[0].startswith("not eligible for") and "in Japanese" in html.unescape(notes[1])


def test_matches_from_pages_are_audited_like_the_api(site: Service) -> None:
    submit(site)
    run = site.catalogue.store.audit_runs(limit=100)[0][0]
    assert run["actor"] == "anonymous" and run["subject"].startswith("inline:") and run["kind"] == "match"
    assert SECRET_NAME not in json.dumps(run)


# -- labs -------------------------------------------------------------------------------------------------


def test_a_lab_page_shows_the_lab_and_links_to_its_own_page(site: Service) -> None:
    response = site.client.get("/labs/h-quake")
    page = text_of(response)
    assert response.status_code == 200 and "Quake Lab" in page and "Seismic isolation" in page
    assert 'href="https://quake.example.ac.jp/"' in response.get_data(as_text=True)
    assert "Places left" in page and "1 month – 24 months" in page.replace("30 days", "1 month")


def test_an_unknown_lab_is_a_page_not_json(site: Service) -> None:
    response = site.client.get("/labs/h-none")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "There is no lab with the id h-none" in text_of(response)
    assert site.client.get("/nowhere").mimetype == "text/html"


def test_the_directory_searches_words_and_filters(site: Service) -> None:
    assert "Poetry Lab" in text_of(site.client.get("/labs?q=waka"))
    assert "Quake Lab" not in text_of(site.client.get("/labs?q=waka"))
    assert "1 lab" in text_of(site.client.get("/labs?q=lab&region=Kanto"))
    response = site.client.get("/labs?region=Atlantis")
    assert response.status_code == 422


def test_public_pages_never_show_a_stored_researcher(site: Service) -> None:
    pages = ["/", "/labs", "/labs/h-quake", "/labs/h-poetry", "/labs?q=quake", "/docs"]
    for path in pages:
        assert SECRET_NAME not in site.client.get(path).get_data(as_text=True), path
    assert SECRET_NAME not in submit(site).get_data(as_text=True)


# -- staff ------------------------------------------------------------------------------------------------


def sign_in(site: Service, who: str = "staff") -> TestResponse:
    page = site.client.get("/staff/sign-in")
    return site.client.post("/staff/sign-in", data={"csrf_token": csrf(page), "token": site.tokens[who]})


STAFF_PAGES = ["/staff/", "/staff/labs", "/staff/researchers", "/staff/researchers/r-quake",
               "/staff/labs/h-quake/candidates", "/staff/upload", "/staff/calls", "/staff/audit"]  # fmt: skip


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_an_anonymous_browser_is_sent_to_sign_in(site: Service, path: str) -> None:
    response = site.client.get(path)
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]


def test_signing_in_makes_a_session_cookie_and_signing_out_ends_it(site: Service) -> None:
    wrong = site.client.post(
        "/staff/sign-in", data={"csrf_token": csrf(site.client.get("/staff/sign-in")), "token": "hm_x"}
    )
    assert wrong.status_code == 401 and "not valid" in text_of(wrong)
    response = sign_in(site)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    for path in STAFF_PAGES:
        assert site.client.get(path).status_code == 200, path
    home = site.client.get("/staff/")
    site.client.post("/staff/sign-out", data={"csrf_token": csrf(home)})
    assert site.client.get("/staff/").status_code == 302


def test_a_revoked_token_ends_its_sessions(site: Service) -> None:
    sign_in(site)
    Tokens(site.catalogue.store).revoke("staff-1")
    assert site.client.get("/staff/").status_code == 302


def test_a_form_without_its_csrf_token_is_refused(site: Service) -> None:
    response = site.client.post("/", data=profile_form(""))
    assert response.status_code == 400
    sign_in(site)
    assert site.client.post("/staff/sign-out").status_code == 400
    assert site.client.get("/staff/").status_code == 200  # still signed in


def test_staff_see_a_labs_candidates_with_reasons(site: Service) -> None:
    sign_in(site)
    page = text_of(site.client.get("/staff/labs/h-quake/candidates"))
    assert SECRET_NAME in page and "Research topic" in page and "Career stage" in page
    assert site.catalogue.store.audit_runs(limit=100)[0][0]["kind"] == "candidates"


def test_staff_see_a_researcher_and_the_labs_that_fit(site: Service) -> None:
    sign_in(site)
    page = text_of(site.client.get("/staff/researchers/r-quake"))
    assert SECRET_NAME in page and "zq@example.org" in page and "Quake Lab" in page
    assert site.client.get("/staff/researchers/r-nobody").status_code == 404


def upload(site: Service, kind: str, content: str, filename: str, **extra: str) -> TestResponse:
    page = site.client.get("/staff/upload")
    data = {"csrf_token": csrf(page), "kind": kind, "file": (io.BytesIO(content.encode()), filename), **extra}
    return site.client.post("/staff/upload", data=data, content_type="multipart/form-data")


def jsonl(records: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_an_upload_with_a_bad_record_writes_nothing(site: Service) -> None:
    sign_in(site)
    records = [researcher_record("r-new"), researcher_record("r-bad", phd="long ago")]
    response = upload(site, "researchers", jsonl(records), "people.jsonl")
    assert response.status_code == 422
    page = text_of(response)
    assert "1 record has a problem" in page and "Nothing was written" in page and "phd" in page
    assert "will be added" in page and "Write" not in page.split("Nothing was written")[1]
    assert site.catalogue.store.get_researcher("r-new") is None


def test_an_upload_is_written_only_when_confirmed_and_all_at_once(site: Service) -> None:
    sign_in(site)
    records = [
        researcher_record("r-new"),
        researcher_record("r-quake", statement=QUAKE, name=SECRET_NAME, email="zq@example.org"),
    ]
    report = upload(site, "researchers", jsonl(records), "people.jsonl")
    assert report.status_code == 200 and "will be added" in text_of(report) and "unchanged" in text_of(report)
    assert site.catalogue.store.get_researcher("r-new") is None
    done = site.client.post(
        "/staff/upload/confirm", data={"csrf_token": csrf(report), "token": value_of(report, "token")}
    )
    assert "1 added, 0 updated, 1 unchanged" in text_of(done)
    assert site.catalogue.store.get_researcher("r-new") is not None
    again = site.client.post(
        "/staff/upload/confirm", data={"csrf_token": csrf(report), "token": value_of(report, "token")}
    )
    assert again.status_code == 410


def test_uploading_labs_needs_admin_and_updates_the_index(site: Service) -> None:
    sign_in(site)
    lab = host_record("h-vents", description="Deep-sea hydrothermal vents and tubeworms.")
    assert upload(site, "hosts", jsonl([lab]), "labs.jsonl").status_code == 403
    site.client.post("/staff/sign-out", data={"csrf_token": csrf(site.client.get("/staff/"))})
    sign_in(site, "admin")
    report = upload(site, "hosts", jsonl([lab]), "labs.jsonl")
    site.client.post("/staff/upload/confirm", data={"csrf_token": csrf(report), "token": value_of(report, "token")})
    assert "h-vents" in site.catalogue.engine.hosts


def test_publications_of_a_stored_researcher_come_from_bibtex(site: Service) -> None:
    sign_in(site)
    report = upload(site, "publications", BIBTEX, "refs.bib", owner_kind="researchers", owner_id="r-quake")
    assert "will be updated" in text_of(report)
    site.client.post("/staff/upload/confirm", data={"csrf_token": csrf(report), "token": value_of(report, "token")})
    titles = [p.title for p in site.catalogue.store.get_researcher("r-quake").publications]  # type: ignore[union-attr]
    assert titles == ["Slow slip events beneath the Nankai trough"]


def test_the_audit_page_filters_runs(site: Service) -> None:
    submit(site)
    sign_in(site)
    site.client.get("/staff/labs/h-quake/candidates")
    page = text_of(site.client.get("/staff/audit?kind=candidates"))
    assert "1 run" in page and "h-quake" in page
    assert "1 run" in text_of(site.client.get("/staff/audit?kind=match"))
    assert "researcher.create" in text_of(site.client.get("/staff/audit"))
    assert "0 runs" in text_of(site.client.get("/staff/audit?actor=nobody"))


# -- calls ------------------------------------------------------------------------------------------------


class RecordingLauncher:
    """Starts nothing: remembers the command a call would run, so the test can write what it would write."""

    def __init__(self) -> None:
        self.started: list[tuple[list[str], Path]] = []

    def __call__(self, argv: Sequence[str], folder: Path) -> None:
        self.started.append((list(argv), folder))
        (folder / "pid").write_text(str(__import__("os").getpid()))  # "running": this test process


def test_a_call_is_started_with_the_chosen_settings_and_its_progress_shown(site: Service) -> None:
    launcher = RecordingLauncher()
    site.app.config["CALL_LAUNCHER"] = launcher
    sign_in(site)
    page = site.client.get("/staff/calls")
    bad = site.client.post("/staff/calls", data={"csrf_token": csrf(page), "method": "stable", "per_applicant": "2"})
    assert bad.status_code == 422 and "one lab per applicant" in text_of(bad) and not launcher.started
    response = site.client.post(
        "/staff/calls", data={"csrf_token": csrf(page), "name": "Round 1", "method": "flow", "per_applicant": "2"}
    )
    assert response.status_code == 302
    argv, folder = launcher.started[0]
    assert argv[argv.index("--per-applicant") + 1] == "2" and "--from-store" in argv
    applicants = (folder / "applicants.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in applicants] == ["r-quake"]
    call_page = site.client.get(response.headers["Location"])
    assert "Round 1" in text_of(call_page) and "Starting" in text_of(call_page)
    (folder / "status.json").write_text(json.dumps({"stage": "scoring", "done": 1, "total": 4, "percent": 60.0}))
    status = site.client.get(response.headers["Location"] + "/status.json").get_json()
    assert (
        status["percent"] == 60.0 and status["text"].startswith("Scoring applicants: 1 of 4") and not status["finished"]
    )


def test_a_call_whose_process_vanished_says_so(site: Service) -> None:
    site.app.config["CALL_LAUNCHER"] = lambda argv, folder: (folder / "pid").write_text("999999999")
    sign_in(site)
    page = site.client.get("/staff/calls")
    response = site.client.post("/staff/calls", data={"csrf_token": csrf(page)})
    status = site.client.get(response.headers["Location"] + "/status.json").get_json()
    assert status["finished"] and status["stage"] == "failed" and "stopped before it finished" in status["text"]


# -- languages, docs and headers ------------------------------------------------------------------------


def test_the_japanese_switch_changes_the_interface_and_is_remembered(site: Service) -> None:
    response = site.client.get("/language/ja?next=/labs")
    assert response.status_code == 302 and response.headers["Location"].endswith("/labs")
    page = text_of(site.client.get("/"))
    assert "受入研究室" in page and "Find a host lab in Japan" not in page
    assert "外国人特別研究員（一般）" in page  # programme names as JSPS writes them
    assert site.client.get("/language/xx").status_code == 404
    assert site.client.get("/language/en?next=//evil.example").headers["Location"].endswith("/")


def test_the_browser_language_is_the_default(site: Service) -> None:
    page = text_of(site.client.get("/", headers={"Accept-Language": "ja,en;q=0.5"}))
    assert "受入研究室" in page


def test_api_docs_are_served_without_a_cdn(site: Service) -> None:
    page = site.client.get("/docs").get_data(as_text=True)
    assert "/v1/openapi.json" in page and "https://" not in page
    assets = re.findall(r'(?:src|href)="(/docs/swagger-ui/[^"]+)"', page)
    assert len(assets) == 2
    for src in assets:
        with site.client.get(src) as response:
            assert response.status_code == 200, src


def test_pages_carry_a_content_security_policy(site: Service) -> None:
    response = site.client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.get_data(as_text=True)  # no inline script for the policy to allow


def test_the_directory_pages_through_many_labs(site: Service) -> None:
    many = [host_record(f"h-many-{i:02d}", lab_name=f"Many Lab {i:02d}") for i in range(30)]
    assert site.call("POST", "/v1/hosts", "admin", json={"hosts": many}).status_code == 201
    first = site.client.get("/labs?q=many")
    assert "Page 1 of 2" in text_of(first) and "Many Lab 24" in text_of(first) and "Many Lab 25" not in text_of(first)
    second = site.client.get("/labs?q=many&page=2")
    assert "Page 2 of 2" in text_of(second) and "Many Lab 29" in text_of(second)
    assert 'href="?q=many&amp;page=1"' in second.get_data(as_text=True)
    site.client.get("/language/ja")
    assert "2ページ中2ページ目" in text_of(site.client.get("/labs?q=many&page=2"))
