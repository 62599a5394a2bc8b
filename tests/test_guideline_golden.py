"""One golden case for every graded use and population in the AAN 2012 guideline, classified by the
real SQL in a DuckDB file. Expected values come from the guideline text (see the rule set)."""
import pytest

from tests.conftest import classify_cases

# id, order, expected (condition, level, recommendation, flag that must be present or None)
GOLDEN = [
    ("gbs-adult", dict(text="Guillain-Barre syndrome", age=45), ("gbs", "A", "offer", None)),
    ("gbs-adult-at-18", dict(text="GBS", age=18), ("gbs", "A", "offer", None)),
    ("gbs-child", dict(text="GBS", age=9), ("gbs", "U", "insufficient_evidence", None)),
    ("gbs-child-at-17", dict(text="GBS", age=17), ("gbs", "U", "insufficient_evidence", None)),
    ("gbs-plex-column", dict(text="GBS", plasma_exchange=True), ("gbs", "B", "should_not", "ivig_with_plasma_exchange")),
    ("gbs-plex-text", dict(text="GBS following plasma exchange"), ("gbs", "B", "should_not", "ivig_with_plasma_exchange")),
    ("gbs-plex-child", dict(text="GBS", age=8, plasma_exchange=True), ("gbs", "B", "should_not", None)),
    ("gbs-no-plex", dict(text="GBS - no plasma exchange"), ("gbs", "A", "offer", None)),
    ("gbs-mp", dict(text="GBS", methylprednisolone=True), ("gbs", "A", "offer", "methylprednisolone_level_u")),
    ("gbs-mp-text", dict(text="GBS with IV methylprednisolone"), ("gbs", "A", "offer", "methylprednisolone_level_u")),
    ("cidp", dict(text="CIDP"), ("cidp", "A", "offer", None)),
    ("mg-moderate", dict(text="myasthenia gravis", severity="moderate"), ("myasthenia_gravis", "B", "consider", None)),
    ("mg-severe", dict(text="myasthenia gravis", severity="severe"), ("myasthenia_gravis", "B", "consider", None)),
    ("mg-crisis", dict(text="myasthenic crisis"), ("myasthenia_gravis", "B", "consider", None)),
    ("mg-exacerbation", dict(text="MG exacerbation"), ("myasthenia_gravis", "B", "consider", None)),
    ("mg-exacerbation-code", dict(text="", code="G70.01"), ("myasthenia_gravis", "B", "consider", None)),
    ("mg-mild-column", dict(text="myasthenia gravis", severity="mild"), ("myasthenia_gravis", None, "outside_guideline", "mg_mild_not_covered")),
    ("mg-mild-text", dict(text="mild MG"), ("myasthenia_gravis", None, "outside_guideline", "mg_mild_not_covered")),
    ("mg-unknown", dict(text="myasthenia gravis"), ("myasthenia_gravis", "B", "consider", "mg_severity_not_recorded")),
    ("mmn", dict(text="multifocal motor neuropathy"), ("mmn", "B", "consider", None)),
    ("dm-refractory-column", dict(text="dermatomyositis", refractory=True), ("dermatomyositis", "C", "may_consider", None)),
    ("dm-refractory-text", dict(text="nonresponsive dermatomyositis"), ("dermatomyositis", "C", "may_consider", None)),
    ("dm-not-refractory", dict(text="dermatomyositis", refractory=False), ("dermatomyositis", None, "outside_guideline", "dm_not_refractory")),
    # the rule set's missing-qualifier decision: read as the population the evidence covers, flagged
    ("dm-refractory-unknown", dict(text="dermatomyositis"), ("dermatomyositis", "C", "may_consider", "dm_refractory_not_recorded")),
    ("dm-child", dict(text="refractory dermatomyositis", age=12), ("dermatomyositis", None, "outside_guideline", "juvenile_dm_not_covered")),
    ("jdm", dict(text="juvenile dermatomyositis", age=10, refractory=True), ("juvenile_dermatomyositis", None, "outside_guideline", "juvenile_dm_not_covered")),
    ("lems", dict(text="Lambert-Eaton myasthenic syndrome"), ("lems", "C", "may_consider", None)),
    ("igm", dict(text="IgM paraprotein associated neuropathy"), ("igm_paraprotein_neuropathy", "U", "insufficient_evidence", None)),
    ("anti-mag", dict(text="anti-MAG neuropathy"), ("igm_paraprotein_neuropathy", "U", "insufficient_evidence", None)),
    ("ibm", dict(text="inclusion body myositis"), ("inclusion_body_myositis", "U", "insufficient_evidence", None)),
    ("pm", dict(text="polymyositis"), ("polymyositis", "U", "insufficient_evidence", None)),
    ("diabetic", dict(text="diabetic amyotrophy"), ("diabetic_radiculoplexus_neuropathy", "U", "insufficient_evidence", None)),
    ("drpn", dict(text="diabetic radiculoplexus neuropathy"), ("diabetic_radiculoplexus_neuropathy", "U", "insufficient_evidence", None)),
    ("mfs", dict(text="Miller Fisher syndrome"), ("miller_fisher_syndrome", "U", "insufficient_evidence", None)),
    ("postpolio", dict(text="post-polio syndrome"), ("postpolio_syndrome", "U", "insufficient_evidence", None)),
    ("itp", dict(text="ITP"), ("immune_thrombocytopenia", None, "outside_guideline", None)),
    ("pid", dict(text="primary immunodeficiency"), ("immunodeficiency", None, "outside_guideline", None)),
    ("kawasaki", dict(text="Kawasaki disease", age=3), ("kawasaki_disease", None, "outside_guideline", None)),
    ("blank", dict(text=""), (None, None, "unknown_indication", "indication_blank")),
    ("see-notes", dict(text="see notes"), (None, None, "unknown_indication", "indication_placeholder")),
    ("question-mark", dict(text="?"), (None, None, "unknown_indication", "indication_blank")),
    ("gibberish", dict(text="xqzt plorf"), (None, None, "unknown_indication", "indication_not_recognised")),
]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, loaded_reference):
    cases = [dict(id=case_id, **order) for case_id, order, _ in GOLDEN]
    return classify_cases(tmp_path_factory.mktemp("golden") / "golden.duckdb", cases, loaded_reference)


@pytest.mark.parametrize("case_id, order, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_case(verdicts, case_id, order, expected):
    condition, level, recommendation, flag = expected
    row = verdicts[case_id]
    assert (row["condition"], row["evidence_level"], row["recommendation"]) == (condition, level, recommendation)
    if flag:
        assert flag in row["flags"]
    assert row["guideline_id"] == "aan-2012-ivig-nmd"
    assert row["rationale"]


def test_graded_verdicts_cite_a_guideline_section(verdicts):
    for row in verdicts.values():
        if row["evidence_level"]:
            assert row["guideline_section"] and row["guideline_section"] in row["rationale"]


def test_mild_mg_is_never_consider(verdicts):
    assert verdicts["mg-mild-column"]["recommendation"] != "consider"
    assert verdicts["mg-mild-text"]["recommendation"] != "consider"
