"""The committee pack and the findings that open the page: sentences checked against figures
computed here straight from order_audit, the PDF printed by `ivig-audit report` from the session's
real run (`audited`, tests/conftest.py), and the empty states."""
import os
import subprocess
from datetime import date

import duckdb
import pytest

from dashboards.findings import NO_ORDERS, Period, comparisons, findings
from dashboards.money import load_prices, money
from dashboards.pack import chromium
from tests.conftest import CLI, cli_env, flow_runner, write_orders_csv

SECTIONS = ("What the audit found", "Headline figures", "Change over time", "Conditions", "Level U and should-not orders",
            "Indications to review", "CIDP review", "Money", "By specialty, prescriber and site", "Data quality")
A4_POINTS = (595.3, 841.9)


def needs_chromium():
    if chromium() is None:
        if os.environ.get("IVIG_AUDIT_REQUIRE_BROWSER"):
            raise RuntimeError("chromium not found: install Debian's chromium package (.ci/run does)")
        pytest.skip("no Chromium here: `apt-get install chromium` (CI installs it)")


@pytest.fixture(scope="module")
def audit_db(audited):
    base, first, _ = audited
    assert first.returncode == 0, first.stderr
    con = duckdb.connect()
    con.execute(f"ATTACH '{base / 'audit.duckdb'}' AS audit (READ_ONLY); USE audit")
    yield con
    con.close()


def test_findings_give_the_latest_complete_quarter_against_the_one_before(audit_db):
    compared = comparisons(audit_db, Period())
    quarter = compared["quarter"]
    # the data was loaded after the hostile orders' quarter (Q1 2026) ended: it is the latest complete one
    assert quarter["ending_quarter"] == date(2026, 1, 1) and quarter["complete"]

    def weak_share(start: str, end: str) -> float:
        return audit_db.execute("""
            SELECT round(100.0 * sum(dose_g) FILTER (WHERE recommendation IN ('insufficient_evidence', 'should_not'))
                         / sum(dose_g), 1)
            FROM order_audit WHERE order_date BETWEEN ?::DATE AND ?::DATE""", [start, end]).fetchall()[0][0]
    now, before = weak_share("2026-01-01", "2026-03-31"), weak_share("2025-10-01", "2025-12-31")
    year, year_before = weak_share("2025-04-01", "2026-03-31"), weak_share("2024-04-01", "2025-03-31")
    said = findings(audit_db, compared)
    texts = [finding.text for finding in said]
    assert texts[0].startswith(f"Q1 2026: ") and f"({now:.1f}%)" in texts[0]
    assert f"from {before:.1f}% in Q4 2025 ({now - before:+.1f} points)" in texts[0]
    assert texts[1].startswith("Q2 2025 to Q1 2026: ") and f"({year:.1f}%)" in texts[1]
    assert f"{year_before:.1f}% in Q2 2024 to Q1 2025" in texts[1]
    assert {finding.section for finding in said} >= {"weak-evidence", "headline", "cidp", "data-quality"}


def test_outside_the_guideline_is_split_into_neuromuscular_and_other_uses(audit_db):
    row = comparisons(audit_db, Period.parse("2025Q3"))["quarter"]
    other, neuromuscular = audit_db.execute("""
        SELECT sum(a.dose_g) FILTER (WHERE NOT coalesce(c.neuromuscular, false)), sum(a.dose_g) FILTER (WHERE c.neuromuscular)
        FROM order_audit AS a LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
        WHERE a.recommendation = 'outside_guideline' AND a.order_date BETWEEN DATE '2025-07-01' AND DATE '2025-09-30'
        """).fetchall()[0]
    assert row["outside_other_grams"] == pytest.approx(other or 0)
    assert row["outside_neuromuscular_grams"] == pytest.approx(neuromuscular or 0)
    assert row["outside_grams"] == pytest.approx((other or 0) + (neuromuscular or 0))


def test_spend_prices_each_order_by_its_product_and_keeps_unpriced_grams_apart(audit_db):
    prices = {**load_prices(), "prices": [{"product": "Privigen", "per_gram": 10.0}, {"product": "Octagam", "per_gram": 20.0}]}
    spent = money(audit_db, prices)
    expected, priced, unpriced = audit_db.execute("""
        SELECT sum(a.dose_g * CASE o.product WHEN 'Privigen' THEN 10 WHEN 'Octagam' THEN 20 END),
               sum(a.dose_g) FILTER (WHERE o.product IN ('Privigen', 'Octagam')),
               sum(a.dose_g) FILTER (WHERE o.product IS NULL OR o.product NOT IN ('Privigen', 'Octagam'))
        FROM order_audit AS a JOIN orders AS o USING (site, order_id)""").fetchall()[0]
    assert spent["total_spend"] == pytest.approx(expected)
    assert sum(line["grams"] for line in spent["use"]) == pytest.approx(priced)
    assert spent["unpriced_grams"] == pytest.approx(unpriced) and unpriced > 0
    assert 0 < spent["dosing_weight"]["grams"] < priced + unpriced
    assert 0 < spent["cidp"]["grams"] < priced + unpriced


def test_the_shipped_prices_are_marked_as_an_example():
    prices = load_prices()
    assert prices["example"] is True and "replace" in prices["source"]


def test_a_period_without_orders_says_so(audit_db):
    assert [finding.text for finding in findings(audit_db, comparisons(audit_db, Period.parse("2001Q1")))] == [NO_ORDERS]


def test_a_period_that_is_not_a_quarter_stops_with_one_line(tmp_path):
    done = subprocess.run([CLI, "report", "--db", str(tmp_path / "none.duckdb"), "--period", "2025Q5"],
                          capture_output=True, text=True, env=cli_env("pack-period"), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["ivig-audit: --period: '2025Q5' is not 'latest' or a quarter such as 2025Q3"]


@pytest.fixture(scope="module")
def pack(audited, tmp_path_factory):
    """`ivig-audit report` on the session's run: the PDF, its pages' sizes and text."""
    needs_chromium()
    from pypdf import PdfReader
    base, _, _ = audited
    out = tmp_path_factory.mktemp("pack")
    done = subprocess.run([CLI, "report", "--db", str(base / "audit.duckdb"), "--out", str(out)],
                          capture_output=True, text=True, env=cli_env("e2e-test-key"), timeout=300)
    assert done.returncode == 0, done.stderr
    reader = PdfReader(out / "committee-pack.pdf")
    return {"out": out, "stdout": done.stdout, "sizes": [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages],
            "pages": [page.extract_text() for page in reader.pages]}


def test_the_pack_is_a4_with_numbered_pages_and_every_section(pack):
    pages = len(pack["sizes"])
    assert 3 <= pages <= 30
    assert all(size == pytest.approx(A4_POINTS, abs=1) for size in pack["sizes"])
    text = "\n".join(pack["pages"])
    for heading in SECTIONS:
        assert heading in text, heading
    for number, page_text in enumerate(pack["pages"], start=1):
        assert f"Page {number} of {pages}" in page_text
        lines = [line.strip() for line in page_text.splitlines() if line.strip() and not line.strip().startswith("Page ")]
        assert lines[-1] not in SECTIONS, f"page {number} ends with a heading alone"
    assert "Committee pack: " in pack["stdout"]
    assert "Example prices, not real ones" in text


def test_the_pack_writes_each_chart_as_svg_and_png(pack):
    charts = pack["out"] / "charts"
    names = {path.stem for path in charts.iterdir()}
    assert names == {"grams_by_recommendation", "share_trend", "condition_grams"}
    for name in names:
        assert (charts / f"{name}.svg").read_text(encoding="utf-8").startswith("<svg")
        assert (charts / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert not (pack["out"] / ".pack").exists()  # its working files are gone


def test_an_empty_database_says_no_orders_on_the_page(tmp_path, prefect_server):
    """A run whose only extract has a header and no rows: no chart with bare axes, the findings and
    every chart's place say there are no orders."""
    write_orders_csv(tmp_path / "inbox" / "orders.csv", [])
    flow_runner(tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out", "empty-pack")
    page = (tmp_path / "out" / "dashboard.html").read_text(encoding="utf-8")
    assert 'id="figure-' not in page and 'class="chart"' not in page
    assert page.count(NO_ORDERS) == 1 + 5 + 1  # the findings, each of the five charts' places, the money section


def test_the_cidp_list_puts_most_overuse_flags_first(audit_db):
    """The committee reads first the patients with the most reasons to suspect overuse."""
    counts = [n for (n,) in audit_db.execute(
        """SELECT len(list_intersect(string_split(m.flags, ', '),
                                     (SELECT list(flag) FROM ref_cidp_review_flags WHERE suspects_overuse)))
           FROM mart_cidp_suspected AS m ORDER BY rowid""").fetchall()]
    assert len(counts) > 5 and len(set(counts)) > 1
    assert counts == sorted(counts, reverse=True)

