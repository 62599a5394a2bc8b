"""Rule sets side by side: verdicts kept per profile and rule set, order_verdicts and order_audit
through the profile, the transitions mart counted by hand, `ivig-audit compare`, what a change of
rule sets re-audits, and the governance warnings. The fixture rule set is AAN 2012 with inclusion
body myositis should_not and GBS in children offer (tests/fixtures/successor-ruleset.yaml)."""
import shutil
import subprocess

import duckdb
import pytest

from pipelines import classify, db, ingest, reference
from pipelines.generate import write_extracts
from tests.conftest import CLI, FIXTURES, flow_runner, order_row, write_orders_csv

PRIMARY, SUCCESSOR = "aan-2012-ivig-nmd", "test-successor"
SUCCESSOR_FILE = FIXTURES / "successor-ruleset.yaml"
ORDER_AUDIT_COLUMNS = ["order_id", "site", "patient_key", "patient_seq", "order_date", "condition", "evidence_level",
                       "recommendation", "outside_reason", "flags", "rationale", "guideline_id", "guideline_version",
                       "rule_id", "guideline_section", "dose_g", "indication", "specialty"]
# (order, patient, indication, age, grams)
ORDERS = [("O1", 1, "inclusion body myositis", 70, 30), ("O2", 1, "IBM", 70, 40),
          ("O3", 2, "inclusion body myositis", 66, 50), ("O4", 3, "Guillain-Barre syndrome", 9, 20),
          ("O5", 4, "CIDP", 50, 100), ("O6", 4, "CIDP", 50, 110), ("O7", 5, "ITP", 40, 60)]


@pytest.fixture
def small(tmp_path):
    """The orders above in a real database, with both rule sets' reference data written."""
    loaded = reference.load_reference((SUCCESSOR_FILE,))
    con = db.connect(tmp_path / "audit.duckdb")
    ingest.prepare(con, loaded)
    for order_id, patient, text, age, grams in ORDERS:
        con.execute("""
            INSERT INTO orders (order_id, site, patient_key, patient_seq, age_years, weight_kg, order_date,
                                start_date, infusion_days, dose_g, indication, batch_id, source_row)
            VALUES (?, 'TST', ?, ?, ?, 70, DATE '2024-01-01', DATE '2024-01-01', 1, ?, ?, 1, 0)""",
                    [order_id, f"k{patient}", patient, age, grams, text])
    yield con
    con.close()


def test_each_order_has_a_verdict_under_each_rule_set_with_the_versions_behind_it(small):
    classify.classify_orders(small, PRIMARY, 0, (SUCCESSOR,))
    verdicts = {(o, r): rec for o, r, rec in small.execute(
        "SELECT order_id, ruleset_id, recommendation FROM order_verdicts").fetchall()}
    assert len(verdicts) == 2 * len(ORDERS)
    assert [verdicts[("O1", PRIMARY)], verdicts[("O1", SUCCESSOR)]] == ["insufficient_evidence", "should_not"]
    assert [verdicts[("O4", PRIMARY)], verdicts[("O4", SUCCESSOR)]] == ["insufficient_evidence", "offer"]
    assert [verdicts[("O5", PRIMARY)], verdicts[("O5", SUCCESSOR)]] == ["offer", "offer"]
    assert [verdicts[("O7", PRIMARY)], verdicts[("O7", SUCCESSOR)]] == ["outside_guideline", "outside_guideline"]
    versions = small.execute("SELECT DISTINCT ruleset_id, ruleset_version, ruleset_sha256, vocabulary_version "
                             "FROM order_verdicts ORDER BY ALL").fetchall()
    shipped = reference.load_reference().rulesets[PRIMARY][0]
    assert versions == [
        (PRIMARY, "2012-03 (reaffirmed 2015-07); rule set 1.0.0", reference.file_sha256(shipped),
         reference.vocabulary_version()),
        (SUCCESSOR, "test 0.1", reference.file_sha256(SUCCESSOR_FILE), reference.vocabulary_version())]
    # six distinct profiles (O1 and O3 differ by age) carry the seven orders' verdicts
    assert small.execute("SELECT count(*) FROM audit_profiles").fetchall() == [(6,)]
    assert small.execute("SELECT count(*) FROM profile_verdicts").fetchall() == [(12,)]


def test_transitions_count_orders_patients_and_grams(small):
    classify.classify_orders(small, PRIMARY, 0, (SUCCESSOR,))
    db.run_models(small, ["marts/patient_ruleset_paths.sql", "marts/ruleset_transitions.sql"])
    rows = small.execute("""
        SELECT from_recommendation, to_recommendation, condition, orders, patients, grams
        FROM mart_ruleset_transitions WHERE from_ruleset_id = ? AND to_ruleset_id = ? ORDER BY condition""",
                         [PRIMARY, SUCCESSOR]).fetchall()
    assert rows == [
        ("offer", "offer", "cidp", 2, 1, 210.0),  # O5, O6: one patient
        ("insufficient_evidence", "offer", "gbs", 1, 1, 20.0),  # O4, a child
        ("outside_guideline", "outside_guideline", "immune_thrombocytopenia", 1, 1, 60.0),  # O7
        ("insufficient_evidence", "should_not", "inclusion_body_myositis", 3, 2, 120.0),  # O1-O3: two patients
    ]
    backwards = small.execute("""
        SELECT from_recommendation, to_recommendation, condition, orders, patients, grams
        FROM mart_ruleset_transitions WHERE from_ruleset_id = ? AND to_ruleset_id = ? ORDER BY condition""",
                              [SUCCESSOR, PRIMARY]).fetchall()
    assert backwards == [(b, a, c, o, p, g) for a, b, c, o, p, g in rows]


def test_order_audit_keeps_its_columns_and_values_when_other_rule_sets_are_audited(small):
    classify.classify_orders(small, PRIMARY)
    cursor = small.execute("SELECT * FROM order_audit ORDER BY order_id")
    alone = cursor.fetchall()
    assert [d[0] for d in cursor.description] == ORDER_AUDIT_COLUMNS
    classify.classify_orders(small, PRIMARY, 0, (SUCCESSOR,))
    assert small.execute("SELECT * FROM order_audit ORDER BY order_id").fetchall() == alone
    assert {row[11] for row in alone} == {PRIMARY}


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """sql/ and guideline/ copied, and the fingerprint pointed at the copy, to edit them safely."""
    root = tmp_path / "project"
    for folder in (classify.SQL_DIR, classify.GUIDELINE_DIR):
        shutil.copytree(folder, root / folder.name)
    code = [root / "pipelines" / path.name for path in classify.FINGERPRINTED if path.is_file()]
    for path in code:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes((classify.PROJECT_ROOT / "pipelines" / path.name).read_bytes())
    monkeypatch.setattr(classify, "PROJECT_ROOT", root)
    monkeypatch.setattr(classify, "FINGERPRINTED", (root / "sql", root / "guideline", *code))
    monkeypatch.setattr(classify, "NOT_FINGERPRINTED", (root / "sql" / "dictionary.yaml", root / "guideline" / "rulesets"))
    return root


def test_a_column_description_does_not_force_a_rebuild_and_the_verdict_sql_does(project_copy):
    primary = project_copy / "guideline" / "rulesets" / "aan-2012-ivig-neuromuscular.yaml"
    before = classify.fingerprint(PRIMARY, primary)

    def edited(path, old, new) -> str:
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return classify.fingerprint(PRIMARY, primary)

    assert edited(project_copy / "sql" / "dictionary.yaml", "Number of orders.", "How many orders.") == before
    other = project_copy / "guideline" / "rulesets" / "another.yaml"
    other.write_text("a rule set of its own: its hash decides\n", encoding="utf-8")
    assert classify.fingerprint(PRIMARY, primary) == before
    changed = edited(project_copy / "sql" / "audit" / "profile_verdicts.sql", "rule_order) = 1", "rule_order) <= 1")
    assert changed != before
    assert edited(project_copy / "pipelines" / "reference.py", "def ", "def  ") != changed
    assert classify.fingerprint(PRIMARY, SUCCESSOR_FILE) != classify.fingerprint(PRIMARY, primary)


def test_adding_and_changing_a_rule_set_audits_its_profiles_only(tmp_path, prefect_server):
    """A second run that adds a rule set, and a third that changes it, classify its profiles and
    leave the primary's verdicts as they were (a mark put on them survives: no full rebuild);
    the page and the summary show the comparison and the draft's warnings; compare prints it."""
    inbox, database, out = tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out"
    write_extracts(400, inbox, seed=3)
    write_orders_csv(inbox / "hand.csv", [order_row("IBM1", indication="inclusion body myositis", dose_g="55"),
                                          order_row("GBS1", indication="GBS", age_years="8", dose_g="25")])
    successor = tmp_path / "successor.yaml"
    shutil.copyfile(SUCCESSOR_FILE, successor)
    run = lambda **options: flow_runner(inbox, database, out, "comparison-key", **options)  # noqa: E731
    run()
    with duckdb.connect(str(database)) as con:
        assert con.execute("SELECT ruleset_id, is_primary FROM audit_rulesets").fetchall() == [(PRIMARY, True)]
        con.execute("UPDATE profile_verdicts SET rationale = 'mark'")
        profiles = con.execute("SELECT count(*) FROM audit_profiles").fetchall()[0][0]

    run(also_guidelines=[str(successor)])
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT ruleset_id, count(*), count(*) FILTER (WHERE rationale = 'mark') "
                           "FROM profile_verdicts GROUP BY ALL ORDER BY ALL").fetchall() == [
            (PRIMARY, profiles, profiles), (SUCCESSOR, profiles, 0)]
        moves = dict(((c, a, b), n) for c, a, b, n in con.execute("""
            SELECT condition, from_recommendation, to_recommendation, orders FROM mart_ruleset_transitions
            WHERE from_ruleset_id = ? AND from_recommendation <> to_recommendation""", [PRIMARY]).fetchall())
    assert moves[("inclusion_body_myositis", "insufficient_evidence", "should_not")] >= 1
    assert moves[("gbs", "insufficient_evidence", "offer")] >= 1
    page = (out / "dashboard.html").read_text(encoding="utf-8")
    assert "What changes under Test successor" in page and "governance status is draft, not active" in page
    assert "next review was due 2021-01-01" in page and 'id="figure-transitions-0"' in page

    compare = subprocess.run([CLI, "compare", PRIMARY, SUCCESSOR, "--db", str(database), "--format", "csv"],
                             capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0, compare.stderr
    lines = compare.stdout.splitlines()
    assert lines[0] == "condition,from,to,orders,patients,grams"
    assert lines[1].startswith("inclusion_body_myositis,insufficient_evidence,should_not,") or \
        lines[1].startswith("gbs,insufficient_evidence,offer,")
    unknown = subprocess.run([CLI, "compare", PRIMARY, "nope", "--db", str(database)],
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        f"ivig-audit: {database}: rule set 'nope' was not audited in this database "
        f"(audited: {PRIMARY}, {SUCCESSOR})"]

    successor.write_text(successor.read_text(encoding="utf-8").replace(
        "    level: B\n    direction: for\n    recommendation: offer", "    level: U\n    direction: insufficient\n"
        "    recommendation: insufficient_evidence", 1), encoding="utf-8")
    run(also_guidelines=[str(successor)])
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM profile_verdicts WHERE rationale = 'mark'").fetchall() == [(profiles,)]
        assert con.execute("""SELECT count(*) FROM mart_ruleset_transitions WHERE from_ruleset_id = ?
                              AND condition = 'gbs' AND from_recommendation <> to_recommendation""",
                           [PRIMARY]).fetchall() == [(0,)]
        assert con.execute("SELECT DISTINCT ruleset_sha256 FROM profile_verdicts WHERE ruleset_id = ?",
                           [SUCCESSOR]).fetchall() == [(reference.file_sha256(successor),)]


def test_the_printed_pack_leaves_out_the_chart_it_cannot_draw_and_keeps_the_table(small):
    """The pack has no plotly.js: the transition chart is on the page only, not a blank box on
    paper; the table of conditions whose verdict changes carries the same moves."""
    from dashboards import comparison, page
    classify.classify_orders(small, PRIMARY, 0, (SUCCESSOR,))
    db.run_models(small, ["marts/patient_ruleset_paths.sql", "marts/ruleset_transitions.sql"])
    db.run_sql_file(small, "marts/ruleset_governance.sql")
    section = page._template().environment.get_template("_ruleset_comparison.html")
    sections = comparison.sections(small)
    on_page, on_paper = (section.render(comparisons=sections, pack=pack) for pack in (False, True))
    assert 'id="chart-transitions-0"' in on_page and 'id="chart-transitions-0"' not in on_paper
    assert "Conditions whose verdict changes" in on_paper and "Inclusion body myositis" in on_paper
