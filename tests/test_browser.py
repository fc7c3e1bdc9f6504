"""The pages in a real browser: headless Chromium from the system's packages, driven by Playwright, against
`hostmatch serve` (gunicorn) on 127.0.0.1 over the bundled sample, loaded with the real model.

What a person sees is asserted through the page (text, order, an error beside its field), never through
the app's internals, except to check that a refused upload stored nothing. Every test saves a screenshot
in the folder the test run prints at its end (`HOSTMATCH_SCREENSHOTS`, default build/screenshots).

Chromium: `/usr/bin/chromium` (Debian's `chromium` package; `.ci/run` installs it), or the path in
`HOSTMATCH_CHROMIUM`. Without it these tests fail, saying how to install it: CI must never skip them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matcher.store import Store
from tests.conftest import researcher_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # the machine has no network: no calls home
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STATEMENT = "Subduction zone earthquakes, slow slip events and tsunami early warning from seafloor geodesy."
SAMPLE_NAMES = [r["name"] for r in json.loads(
    (Path(__file__).parents[1] / "models" / "sample" / "researchers.json").read_text(encoding="utf-8")
)["researchers"]]  # fmt: skip


UNLIMITED = {f"HOSTMATCH_RATELIMIT_{name}": "100000/minute" for name in ("ANONYMOUS", "MATCHES_ANONYMOUS", "STAFF")}


class Server:
    """`hostmatch serve` over a data folder with the sample loaded, and a token per scope."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = {scope: self.cli("tokens", "create", "--name", f"browser-{scope}", "--scope", scope).strip()
                       for scope in ("staff", "admin")}  # fmt: skip
        self.log = (home / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "--home", str(home), "serve", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **UNLIMITED},  # every test is one client (127.0.0.1), faster than any person
        )
        self._wait_ready()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.home / "serve.log").read_text()
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the service did not become ready:\n" + (self.home / "serve.log").read_text())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-home")
    subprocess.run(
        [sys.executable, "-m", "scripts.cli", "--home", str(home), "db", "load-sample"], check=True, capture_output=True
    )
    running = Server(home)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("HOSTMATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail(
            "the browser tests need Chromium: apt-get install -y chromium chromium-driver (as root), or set "
            "HOSTMATCH_CHROMIUM to a Chromium binary; skip them locally with -m 'not browser'"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest, screenshot_dir: Path) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the server; a full-page screenshot is saved when the test ends."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    tab.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    context.close()


def fill_profile(page: Any, *, statement: str = STATEMENT) -> None:
    """What an applicant types into the start page."""
    page.goto("/")
    page.get_by_label("Research statement").fill(statement)
    page.get_by_label("Your institution").press_sequentially("University of Bristol")
    page.get_by_label("Country where you work").select_option("GB")
    page.get_by_label("Nationality").select_option("GB")
    page.get_by_label("Current position").select_option("postdoc")
    page.get_by_label("Year your PhD was awarded").press_sequentially("2021")
    page.get_by_label("How long would you like to stay?").press_sequentially("18")
    page.get_by_label("JSPS Postdoctoral Fellowship (Standard)").check()


def find_labs(page: Any) -> None:
    page.get_by_role("button", name="Find host labs", exact=True).last.click()
    page.wait_for_load_state()


def _follow_progress(page: Any, *, timeout: float) -> list[float]:
    """The values the call's progress bar shows (the page updates it, then reloads with the report)."""
    from playwright.sync_api import Error as PlaywrightError

    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(float(page.locator("progress").evaluate("bar => bar.value")))
            if page.locator("iframe.report-frame").count():
                return seen
            said = page.locator("[data-call-text]").inner_text()
        except PlaywrightError:  # the page is reloading
            continue
        assert "failed" not in said, said
        page.wait_for_timeout(500)
    raise AssertionError(f"the call did not finish in {timeout} s; the bar showed {seen}")


def sign_in(page: Any, server: Server, scope: str = "staff") -> None:
    page.goto("/staff/sign-in")
    page.get_by_label("API token").fill(server.tokens[scope])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


# -- the applicant ---------------------------------------------------------------------------------------


def test_an_applicant_sees_eligibility_then_ranked_labs_with_reasons_and_evidence(
    page: Any, screenshot_dir: Path
) -> None:
    fill_profile(page)
    find_labs(page)
    assert page.get_by_role("heading", name="Host labs for you").is_visible()
    eligibility = page.locator(".verdict").first
    assert "Eligible" in eligibility.inner_text() and "Postdoctoral Fellowship (Standard)" in eligibility.inner_text()
    first = page.locator(".match").first
    assert "Subduction Zone Seismology" in first.locator("h3").inner_text()
    text = first.inner_text()
    assert "Research topic" in text and "strong topic fit" in text and "Why: the closest texts" in text
    assert "research statement" in text  # my text, beside their paper
    order = page.locator("h2").all_inner_texts()
    assert order.index("Programmes you may apply to") < order.index("Ranked host labs")
    page.locator(".verdict details").nth(1).click()  # open one refusal, to show its reasons
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.screenshot(path=str(screenshot_dir / "readme-applicant-results.png"))


def test_a_filter_changes_the_list(page: Any) -> None:
    fill_profile(page)
    find_labs(page)
    before = page.locator(".match h3").all_inner_texts()
    page.get_by_label("Region").select_option("Kansai")
    page.get_by_role("button", name="Update the list").click()
    page.wait_for_load_state()
    after = page.locator(".match h3").all_inner_texts()
    assert after and after != before
    prefectures = {m.split(" · ")[-1] for m in page.locator(".match .match-meta").all_inner_texts()}
    assert prefectures <= {"Mie", "Shiga", "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama"}, prefectures


def test_ticked_labs_download_as_csv_and_print_alone(page: Any, tmp_path: Path) -> None:
    fill_profile(page)
    find_labs(page)
    names = page.locator(".match h3 a").all_inner_texts()
    page.locator(".match").nth(1).get_by_label("Shortlist").check()
    page.locator(".match").nth(3).get_by_label("Shortlist").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the ticked labs (CSV)").click()
    saved = tmp_path / "shortlist.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.read_text(encoding="utf-8").splitlines()))
    assert [r["lab"] for r in rows] == [names[1], names[3]] and [r["rank"] for r in rows] == ["2", "4"]
    page.emulate_media(media="print")
    shown = [m for m in page.locator(".match").all() if m.is_visible()]
    assert len(shown) == 2 and not page.locator(".filters").is_visible()
    page.emulate_media(media="screen")


def test_a_lab_page_opens_from_the_results(page: Any) -> None:
    fill_profile(page)
    find_labs(page)
    link = page.locator(".match h3 a").first
    name = link.inner_text()
    link.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert "Places left" in page.inner_text("body")


def test_a_bibtex_file_fills_the_publications(page: Any, tmp_path: Path) -> None:
    bib = tmp_path / "mine.bib"
    bib.write_text(
        '@article{k1, title={Slow slip beneath the {Nankai} trough}, author={Ota, Keiko and M{\\"u}ller, Jana},'
        " year={2023}, abstract={Seafloor geodesy of slow slip events.}}\n",
        encoding="utf-8",
    )
    fill_profile(page)
    page.get_by_label("Or read your publications from a file").set_input_files(str(bib))
    page.get_by_role("button", name="Read publications from the file").click()
    page.wait_for_load_state()
    assert page.locator("#pub-0-title").input_value() == "Slow slip beneath the Nankai trough"
    assert page.locator("#pub-0-coauthors").input_value() == "Keiko Ota; Jana Müller"
    assert page.get_by_label("Research statement").input_value() == STATEMENT  # the rest is kept


def test_a_wrong_field_shows_its_error_beside_it_and_keeps_the_rest(page: Any) -> None:
    fill_profile(page)
    page.get_by_label("Year your PhD was awarded").fill("last year")
    find_labs(page)
    error = page.locator("#phd_year-error")
    assert "Enter the year your PhD was awarded as four digits, like 2021." in error.inner_text()
    field = page.locator("#group-phd_year")
    assert field.locator("#phd_year-error").count() == 1  # beside the field, not only in the summary
    assert page.locator(".error-summary a[href='#phd_year']").is_visible()
    assert page.get_by_label("Research statement").input_value() == STATEMENT
    assert page.get_by_label("Your institution").input_value() == "University of Bristol"


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any) -> None:
    fill_profile(page)
    page.evaluate("document.querySelector('form.profile-form input[name=csrf_token]').remove()")
    find_labs(page)
    assert "Something in the request was wrong" in page.inner_text("h1")
    assert page.locator(".match").count() == 0


def test_public_pages_never_show_an_applicants_name(page: Any) -> None:
    for path in ("/", "/labs", "/labs?q=earthquake", "/labs/h-b10", "/docs"):
        page.goto(path)
        html = page.content()
        assert not [name for name in SAMPLE_NAMES if name in html], path
    fill_profile(page)
    find_labs(page)
    assert not [name for name in SAMPLE_NAMES if name in page.content()]


def test_an_anonymous_browser_cannot_open_staff_pages(page: Any) -> None:
    for path in ("/staff/", "/staff/researchers", "/staff/researchers/r-a-01", "/staff/calls", "/staff/audit"):
        page.goto(path)
        assert "/staff/sign-in" in page.url, path
        assert page.get_by_role("heading", name="Sign in as programme staff").is_visible()


def test_the_japanese_switch_changes_the_interface(page: Any) -> None:
    page.goto("/labs")
    page.get_by_role("link", name="日本語").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "研究室一覧"
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "日本の受入研究室を探す"
    assert page.get_by_label("外国人特別研究員（一般）").count() == 1


# -- staff ------------------------------------------------------------------------------------------------


def test_staff_sign_in_see_a_labs_candidates_and_sign_out(page: Any, server: Server) -> None:
    sign_in(page, server)
    page.get_by_role("link", name="Labs", exact=True).first.click()
    page.get_by_label("Words").fill("tsunami")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Candidates").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Candidates for")
    first = page.locator(".match").first.inner_text()
    assert any(name in first for name in SAMPLE_NAMES) and "Research topic" in first
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    page.goto("/staff/labs")
    assert "/staff/sign-in" in page.url


def test_an_upload_with_one_bad_record_shows_it_and_writes_nothing(page: Any, server: Server, tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    good = researcher_record("r-browser-ok", name="Una Goodrecord")
    bad = researcher_record("r-browser-bad", name="Bea Badrecord", phd="once upon a time")
    people.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    sign_in(page, server)
    page.goto("/staff/upload")
    page.get_by_label("Researchers", exact=True).check()
    page.get_by_label("File", exact=True).set_input_files(str(people))
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_load_state()
    report = page.inner_text("main")
    assert "1 record has a problem" in report and "Nothing was written" in report and "phd" in report
    assert page.get_by_role("button", name=re.compile("^Write")).count() == 0
    store = Store(f"sqlite:///{server.home / 'hostmatch.sqlite3'}")
    assert store.get_researcher("r-browser-ok") is None and store.get_researcher("r-browser-bad") is None
    store.engine.dispose()


def test_staff_run_a_call_and_see_its_progress_reach_the_report(
    page: Any, server: Server, screenshot_dir: Path
) -> None:
    sign_in(page, server)
    page.goto("/staff/calls")
    page.get_by_label("Name of the call (optional)").fill("Sample call")
    page.get_by_role("button", name="Run the call").click()
    page.wait_for_url(re.compile(r"/staff/calls/\d"))
    seen = _follow_progress(page, timeout=240)
    assert seen[-1] == 100 and seen == sorted(seen), seen  # the bar only moves forward, and reaches the end
    assert "applicants assigned" in page.inner_text("main")
    report = page.frame_locator("iframe.report-frame")
    assert report.locator("h1").inner_text().startswith("Call assignment")
    assert report.locator("img").count() == 2
    links = page.locator(".downloads a").all_inner_texts()
    assert links == ["assignments.csv", "shortlists.csv", "report.json", "report.html"]
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.screenshot(path=str(screenshot_dir / "readme-staff-call-report.png"))


def test_the_api_documentation_renders_from_local_files(page: Any) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock-summary-path", has_text="/v1/matches").count() == 1
    assert not failed, failed
