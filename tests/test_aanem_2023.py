"""The AANEM 2023 rule set (guideline/rulesets/aanem-2023-ivig-neuromuscular.yaml): its quotes are
the abstract's words, its categories map to the shared recommendation values, and orders classified
by the real SQL in a DuckDB file get the verdicts the abstract gives; AAN 2012 verdicts stay as they
were for the same orders."""
from pathlib import Path

import pytest

from tests.conftest import classify_cases

AANEM = "aanem-2023-ivig-nmd"
ABSTRACT = Path(__file__).resolve().parents[1] / "docs" / "aanem-2023-abstract.txt"

# id, order, (condition, recommendation, flag that must be present or None), AAN 2012 recommendation
CASES = [
    ("ibm", dict(text="inclusion body myositis"), ("inclusion_body_myositis", "should_not", None), "insufficient_evidence"),
    ("ibm-code", dict(text="", code="G72.41"), ("inclusion_body_myositis", "should_not", None), "insufficient_evidence"),
    ("postpolio", dict(text="post-polio syndrome"), ("postpolio_syndrome", "should_not", None), "insufficient_evidence"),
    ("igm", dict(text="IgM paraproteinaemic neuropathy"), ("igm_paraprotein_neuropathy", "should_not", None), "insufficient_evidence"),
    ("anti-mag", dict(text="anti-MAG neuropathy"), ("igm_paraprotein_neuropathy", "should_not", None), "insufficient_evidence"),
    ("gbs-child", dict(text="GBS", age=9), ("gbs", "consider", None), "insufficient_evidence"),
    ("gbs-adult", dict(text="Guillain-Barre syndrome", age=45), ("gbs", "offer", None), "offer"),
    ("gbs-plex", dict(text="GBS", plasma_exchange=True), ("gbs", "outside_guideline", "population_not_verified"), "should_not"),
    ("cidp", dict(text="CIDP"), ("cidp", "offer", None), "offer"),
    ("mmn", dict(text="multifocal motor neuropathy"), ("mmn", "offer", None), "consider"),
    ("mg-exacerbation", dict(text="MG exacerbation"), ("myasthenia_gravis", "offer", None), "consider"),
    ("mg-crisis", dict(text="myasthenic crisis"), ("myasthenia_gravis", "offer", None), "consider"),
    ("mg-exacerbation-code", dict(text="", code="G70.01"), ("myasthenia_gravis", "offer", None), "consider"),
    ("mg-stable", dict(text="stable myasthenia gravis"), ("myasthenia_gravis", "should_not", "mg_stable_reading"), "consider"),
    ("mg-remission", dict(text="MG in remission", severity="moderate"), ("myasthenia_gravis", "should_not", "mg_stable_reading"), "consider"),
    ("mg-not-stable", dict(text="MG, not stable"), ("myasthenia_gravis", "offer", "mg_phase_not_recorded"), "consider"),
    ("mg-previous-crisis", dict(text="MG, previous crisis"), ("myasthenia_gravis", "offer", "mg_phase_not_recorded"), "consider"),
    ("mg-phase-unknown", dict(text="myasthenia gravis"), ("myasthenia_gravis", "offer", "mg_phase_not_recorded"), "consider"),
    ("mg-code-without-exacerbation", dict(text="", code="G70.00"), ("myasthenia_gravis", "offer", "mg_phase_not_recorded"), "consider"),
    ("lems", dict(text="Lambert-Eaton myasthenic syndrome"), ("lems", "consider", None), "may_consider"),
    ("dm-adult", dict(text="dermatomyositis", refractory=False), ("dermatomyositis", "offer", None), "outside_guideline"),
    ("dm-child", dict(text="dermatomyositis", age=10), ("dermatomyositis", "outside_guideline", "juvenile_dm_not_verified"), "outside_guideline"),
    ("sps", dict(text="stiff person syndrome"), ("stiff_person_syndrome", "offer", None), "outside_guideline"),
    ("sfn", dict(text="small fibre neuropathy"), ("small_fibre_neuropathy", "should_not", "sfn_cause_check"), "outside_guideline"),
    ("hmgcr", dict(text="anti-HMGCR necrotising myopathy"), ("anti_hmgcr_myopathy", "may_consider", None), "outside_guideline"),
    ("imnm", dict(text="anti-SRP myopathy"), ("necrotising_myopathy", "insufficient_evidence", "direction_not_verified"), "outside_guideline"),
    ("mfs", dict(text="Miller Fisher syndrome"), ("miller_fisher_syndrome", "insufficient_evidence", None), "insufficient_evidence"),
    ("igg", dict(text="IgG paraproteinaemic neuropathy"), ("igg_iga_paraprotein_neuropathy", "insufficient_evidence", None), "outside_guideline"),
    ("autonomic", dict(text="autonomic neuropathy"), ("autonomic_neuropathy", "insufficient_evidence", None), "outside_guideline"),
    ("brachial", dict(text="neuralgic amyotrophy"), ("idiopathic_brachial_plexopathy", "insufficient_evidence", None), "outside_guideline"),
    ("brachial-code", dict(text="", code="G54.5"), ("idiopathic_brachial_plexopathy", "insufficient_evidence", None), "outside_guideline"),
    ("dlrpn", dict(text="diabetic lumbosacral radiculoplexopathy"), ("diabetic_radiculoplexus_neuropathy", "insufficient_evidence", None), "insufficient_evidence"),
    ("pm", dict(text="polymyositis"), ("polymyositis", "insufficient_evidence", None), "insufficient_evidence"),
    ("itp", dict(text="ITP"), ("immune_thrombocytopenia", "outside_guideline", None), "outside_guideline"),
]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, loaded_reference):
    cases = [dict(id=case_id, **order) for case_id, order, _, _ in CASES]
    folder = tmp_path_factory.mktemp("aanem")
    return {ruleset: classify_cases(folder / f"{ruleset}.duckdb", cases, loaded_reference, ruleset)
            for ruleset in (AANEM, "aan-2012-ivig-nmd")}


@pytest.mark.parametrize("case_id, order, expected, aan_2012", CASES, ids=[c[0] for c in CASES])
def test_aanem_verdict(verdicts, case_id, order, expected, aan_2012):
    condition, recommendation, flag = expected
    row = verdicts[AANEM][case_id]
    assert (row["condition"], row["recommendation"]) == (condition, recommendation), row["rationale"]
    if flag:
        assert flag in row["flags"]
    assert row["guideline_id"] == AANEM
    # the same order under AAN 2012 keeps the verdict it had
    assert verdicts["aan-2012-ivig-nmd"][case_id]["recommendation"] == aan_2012


def test_mg_phase_flags_only_when_not_recorded(verdicts):
    for case_id in ("mg-exacerbation", "mg-crisis", "mg-exacerbation-code", "mg-stable"):
        assert "mg_phase_not_recorded" not in verdicts[AANEM][case_id]["flags"]


def test_outside_reason_says_condition_or_population(verdicts):
    assert verdicts[AANEM]["itp"]["outside_reason"] == "condition"
    assert verdicts[AANEM]["gbs-plex"]["outside_reason"] == "population"
    assert verdicts["aan-2012-ivig-nmd"]["sps"]["outside_reason"] == "condition"


def test_graded_rationales_quote_the_abstract(verdicts):
    abstract = " ".join(ABSTRACT.read_text(encoding="utf-8").split())
    for case_id, row in verdicts[AANEM].items():
        if row["rule_id"]:
            quoted = row["rationale"].split('"')[1]
            assert "AANEM 2023, Abstract" in row["rationale"] and quoted in abstract, case_id


def test_every_quote_is_in_the_abstract_and_every_rule_says_how_it_was_verified(loaded_reference):
    abstract = " ".join(ABSTRACT.read_text(encoding="utf-8").split())
    _, document = loaded_reference.rulesets[AANEM]
    for rule in document["rules"]:
        assert " ".join(rule["statement"].split()) in abstract, rule["id"]
        assert rule["verified"]["how"] in ("abstract", "summary", "not_found"), rule["id"]


def test_categories_map_to_the_shared_values_and_the_rule_set_is_a_draft(loaded_reference):
    _, document = loaded_reference.rulesets[AANEM]
    meta = document["ruleset"]
    mapping = {c["id"]: c["recommendation"] for c in meta["categories"]}
    assert mapping == {"recommended-class-i": "offer", "recommended-class-ii": "consider",
                       "considered-class-iv": "may_consider", "not-recommended-class-i": "should_not",
                       "not-recommended-exception": "should_not", "insufficient": "insufficient_evidence",
                       "insufficient-class-iv": "insufficient_evidence"}
    assert (meta["governance"]["status"], meta["governance"]["clinical_check"]) == ("draft", "pending")
    assert "10.1002/mus.27922" in meta["citation"]
