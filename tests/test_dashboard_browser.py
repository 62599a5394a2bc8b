"""The committee page opened in headless Chromium (Debian's chromium; .ci/run installs it): the
charts are drawn, no script errors, no network request, and markup typed into a hostile extract
stays inert text. The page comes from the session's real `ivig-audit run` (`audited`,
tests/conftest.py), whose inbox holds the hostile orders."""
import csv
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import FORMULA, MARKUP

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
if not Path(CHROMIUM).exists():
    if os.environ.get("IVIG_AUDIT_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} not found: install Debian's chromium package (.ci/run does)")
    pytest.skip("no Chromium here: `apt-get install chromium` (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def published(audited):
    base, first, _ = audited
    assert first.returncode == 0, first.stderr
    return base / "out"


@pytest.fixture(scope="module")
def rendered(published):
    """What Chromium saw: the page, errors, requests and dialogs."""
    from playwright.sync_api import sync_playwright
    seen = {"errors": [], "requests": [], "dialogs": []}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: seen["errors"].append(str(error)))
        page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
        page.on("request", lambda request: seen["requests"].append(request.url))
        page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
        page.goto((published / "dashboard.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
        seen["charts"] = page.locator(".js-plotly-plot").count()
        seen["bars"] = page.locator(".js-plotly-plot .bars path").count()
        seen["text"] = page.inner_text("body")
        seen["images"] = page.locator("img").count()
        seen["scripts"] = page.locator("script").count()
        browser.close()
    return seen


def test_the_page_draws_every_chart_without_errors_or_network(rendered, published):
    assert rendered["errors"] == []
    assert rendered["requests"] == [(published / "dashboard.html").as_uri()]
    assert rendered["charts"] == 4 and rendered["bars"] > 50


def test_every_section_shows_real_numbers(rendered):
    text = rendered["text"]
    for heading in ("Headline figures", "Grams per month", "Conditions", "Level U and should-not orders",
                    "Indications to review", "CIDP review", "By specialty, prescriber and site", "Data quality"):
        assert heading in text
    # outside_guideline split by its reason, under the headline table's outside row
    assert "Condition not graded by this rule set" in text and "Condition graded, but not for this population" in text
    assert "AAN 2012" in text and "retired" in text
    assert "CIDP patients reviewed" in text and "Top quarantine reasons" in text


def test_hostile_markup_is_shown_as_text_and_never_runs(rendered):
    assert rendered["dialogs"] == []
    assert rendered["images"] == 0  # the injected <img> was not parsed as an element
    assert MARKUP["indication"] in rendered["text"]
    assert MARKUP["specialty"] in rendered["text"]
    assert rendered["scripts"] == 6  # 4 figure data blocks, plotly.js, the drawing script: none injected


def test_no_raw_patient_identifier_in_the_page_or_exports(published):
    files = [published / "dashboard.html", *sorted((published / "exports").glob("*.csv"))]
    assert len(files) == 9
    for path in files:
        assert b"MRN" not in path.read_bytes(), path.name


def test_exported_text_cannot_run_as_a_spreadsheet_formula(published):
    with (published / "exports" / "weak_evidence_orders.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (published / "exports" / "usage_by_group.csv").open(encoding="utf-8") as handle:
        groups = [row["group_value"] for row in csv.DictReader(handle)]
    assert {(row["indication"], row["specialty"]) for row in rows if row["order_id"].startswith("X")} == {
        (MARKUP["indication"], MARKUP["specialty"]), ("'" + FORMULA["indication"], "'" + FORMULA["specialty"])}
    assert "'" + FORMULA["specialty"] in groups
    cells = [value for row in rows for value in row.values()] + groups
    assert not any(value.startswith(("=", "+", "-", "@")) for value in cells)
