"""The network's merge on real bundles (simulated sites, bundled through the site's own SQL) into a
real DuckDB file: which bundle each site contributes and why others are refused, the funnel
statistics, and the self-contained network page. The command line once, for what it prints."""
import json
import math
import re
import shutil
import subprocess

import duckdb
import pytest

from dashboards import network_page
from pipelines import db, network
from pipelines.bundle import write_bundle
from pipelines.network_demo import simulate_sites
from tests.bundle_edits import add_free_text, edit_manifest, rewrite
from tests.conftest import CLI

EXPECTED = ["S001", "S002", "S003", "S004", "S005", "S009", "S010"]
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    """Bundles of five simulated sites (S005 stopped six months early, S002 grades a third of its
    orders Level U); S001 also has a newer bundle that was altered after writing; S009 has only a
    damaged bundle; ROGUE is not in the site list; S003 shares free text with markup in it, and a
    later rule set version."""
    base = tmp_path_factory.mktemp("network")
    sites = simulate_sites(base / "sim.duckdb", 5, 20_000, stale_sites=1)
    con = duckdb.connect(str(base / "sim.duckdb"))
    con.execute("""UPDATE order_audit SET recommendation = 'insufficient_evidence', condition = 'polymyositis'
                   WHERE site = 'S002' AND hash(order_id) % 3 = 0""")
    con.execute("UPDATE order_audit SET site = 'ROGUE' WHERE site = 'S004' AND hash(order_id) % 2 = 0")
    con.close()
    drop = base / "drop"
    for site in (*sites, "ROGUE"):
        write_bundle(base / "sim.duckdb", drop, site)
    newer = write_bundle(base / "sim.duckdb", drop, "S001")
    (newer / "cidp.parquet").write_bytes(b"not what the site wrote")
    damaged = drop / "S009" / newer.name
    shutil.copytree(drop / "S003" / next((drop / "S003").iterdir()).name, damaged)
    (damaged / "manifest.json").unlink()
    s003 = next((drop / "S003").iterdir())
    add_free_text(s003, MARKUP)
    edit_manifest(free_text=True, ruleset={"id": "aan-2012-ivig-nmd", "version": "local 2.0"})(s003)
    (drop / "notes.txt").write_text("not a bundle")
    return drop


@pytest.fixture(scope="module")
def merged(drop, tmp_path_factory):
    out = tmp_path_factory.mktemp("network-out")
    seen = network.collect(drop, EXPECTED)
    con = db.connect(out / "network.duckdb")
    network.build_database(con, seen, EXPECTED, 45)
    page = network_page.publish(con, out)
    yield con, seen, page
    con.close()


def test_each_site_gets_its_latest_bundle_that_passes_and_a_status(merged, drop):
    con, seen, _ = merged
    assert con.execute("SELECT site, status, expected FROM network_sites ORDER BY site").fetchall() == [
        ("ROGUE", "refused", False), ("S001", "current", True), ("S002", "current", True), ("S003", "current", True),
        ("S004", "current", True), ("S005", "stale", True), ("S009", "refused", True), ("S010", "missing", True),
        ("notes.txt", "refused", False)]
    used = dict(con.execute("SELECT site, bundle FROM network_bundles WHERE status = 'used'").fetchall())
    assert used["S001"] == sorted(p.name for p in (drop / "S001").iterdir())[0]  # the older, intact one
    refusals = sorted(b.refusal() for b in seen if b.status == "refused")
    assert refusals == [
        f"refused bundle ROGUE/{next((drop / 'ROGUE').iterdir()).name}: site ROGUE is not in the network's site list",
        f"refused bundle S001/{sorted(p.name for p in (drop / 'S001').iterdir())[1]}: cidp.parquet: its SHA-256 is not "
        "the manifest's",
        f"refused bundle S009/{next((drop / 'S009').iterdir()).name}: no manifest.json",
        "refused notes.txt in the bundle folder: not a site folder"]
    assert con.execute("SELECT days_behind FROM network_sites WHERE site = 'S005'").fetchall()[0][0] > 150


def test_the_merged_tables_are_the_bundles_own_figures(merged, drop):
    con, seen, _ = merged
    for bundle in (b for b in seen if b.status == "used"):
        for name in ("totals", "recommendations", "quarters"):
            own = duckdb.sql(f"SELECT * FROM read_parquet('{bundle.folder / name}.parquet') ORDER BY ALL").fetchall()
            assert con.execute(f"SELECT * EXCLUDE (site) FROM network_{name} WHERE site = ? ORDER BY ALL",
                               [bundle.site]).fetchall() == own


def test_funnel_limits_pool_the_current_sites_and_flag_the_outlier(merged):
    con, _, _ = merged
    rows = con.sql("SELECT * FROM network_measures WHERE measure = 'orders_level_u'").pl().to_dicts()
    pooled = [r for r in rows if r["status"] == "current" and r["rate"] is not None]
    p = sum(r["numerator"] for r in pooled) / sum(r["denominator"] for r in pooled)
    for row in rows:
        assert row["network_rate"] == pytest.approx(p)
        assert row["upper_95"] == pytest.approx(min(1, p + 1.96 * math.sqrt(p * (1 - p) / row["denominator"])))
        assert row["lower_998"] == pytest.approx(max(0, p - 3.09 * math.sqrt(p * (1 - p) / row["denominator"])))
    assert {r["site"]: r["funnel_position"] for r in rows}["S002"] == "above 99.8% limit"
    assert "S005" not in {r["site"] for r in pooled} and {r["site"] for r in rows} >= {"S005"}
    grams = con.execute("""SELECT count(*), count(upper_95), count(*) FILTER (funnel_position <> 'suppressed'), count(percentile)
                           FROM network_measures WHERE unit = 'grams'""").fetchall()[0]
    assert grams[0] > 0 and grams[1:3] == (0, 0) and grams[3] > 0
    limits = con.execute("""SELECT min(n), max(n), bool_and(lower_998 <= lower_95 AND lower_95 <= network_rate
                                   AND network_rate <= upper_95 AND upper_95 <= upper_998)
                            FROM network_funnel_limits WHERE measure = 'orders_level_u'""").fetchall()[0]
    largest = max(r["denominator"] for r in rows)
    assert limits == (max(1, round(1.1 * largest / 100)), round(1.1 * largest), True)


def test_the_network_page_is_self_contained_and_escapes_what_bundles_say(merged):
    _, _, page = merged
    html = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert MARKUP not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Sites used different rule sets or vocabularies" in html and "local 2.0" in html
    assert all(f"funnel_{m}" in html for m in ("orders_level_u", "orders_outside_guideline", "cidp_overuse_suspected"))
    for status in ("stale", "missing", "refused"):
        assert f"<strong>{status}</strong>" in html


def test_the_command_line_prints_each_refused_bundle_and_goes_on(drop, tmp_path):
    result = subprocess.run([CLI, "network", "--bundles", str(drop), "--out", str(tmp_path), *sum(
        (["--expect", site] for site in EXPECTED), [])], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused ")]
    assert len(refused) == 4 and "S009/" in refused[2] and refused[2].endswith("no manifest.json")
    assert "S005: stale (period to 2025-06-30)" in result.stdout and "S010: missing" in result.stdout
    assert (tmp_path / "network_dashboard.html").exists()
    missing = subprocess.run([CLI, "network", "--bundles", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert (missing.returncode, missing.stderr.strip()) == (2, f"ivig-audit: {tmp_path / 'nowhere'}: bundle folder not found")
    bad_db = subprocess.run([CLI, "bundle", "--db", str(tmp_path / "none.duckdb")], capture_output=True, text=True)
    assert bad_db.returncode == 2 and bad_db.stderr.count("\n") == 1 and "no audit database here" in bad_db.stderr


def test_a_network_with_no_bundle_yet_shows_every_site_missing(tmp_path):
    (tmp_path / "drop").mkdir()
    con = db.connect(tmp_path / "network.duckdb")
    network.build_database(con, network.collect(tmp_path / "drop", ["S001", "S002"]), ["S001", "S002"], 45)
    html = network_page.publish(con, tmp_path).read_text(encoding="utf-8")
    assert con.execute("SELECT site, status FROM network_sites ORDER BY site").fetchall() == [
        ("S001", "missing"), ("S002", "missing")]
    con.close()
    assert "No site has a bundle to compare yet" in html
