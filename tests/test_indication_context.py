"""How an indication is read (sql/audit/indication_resolution.sql, guideline/vocabulary/): each
ConText category on conditions and qualifiers, each ambiguous abbreviation with and without
support, typos in short words, words in between and in another order, and the clinical decisions
of the rule set, all through the real SQL in one DuckDB file."""
import re
from pathlib import Path

import pytest
import yaml

from pipelines.paths import GUIDELINE_DIR
from tests.conftest import classify_cases

CASES = {
    # context: negated, historical, family, uncertain; on conditions and on qualifiers
    "negated": dict(text="myasthenia ruled out"),
    "negated-then-terminated": dict(text="no evidence of GBS - now CIDP"),
    "negated-backward": dict(text="anti-MAG negative, CIDP"),
    "historical": dict(text="previous GBS 2015, now ITP"),
    "historical-only": dict(text="h/o MG"),
    "family": dict(text="mother has MG"),
    "family-other-person-only": dict(text="GBS; mum had MG"),
    "uncertain": dict(text="?GBS"),
    "uncertain-trailing": dict(text="GBS?"),
    "uncertain-beaten-by-certain": dict(text="CIDP ?MMN"),
    "differential": dict(text="CIDP vs MMN"),
    "qualifier-negated": dict(text="GBS - PLEX unavailable"),
    "qualifier-negated-forward": dict(text="GBS, no plasma exchange"),
    "qualifier-hypothetical": dict(text="GBS - PLEX if no improvement"),
    "qualifier-past-kept": dict(text="GBS, post PLEX"),
    "severity-negated": dict(text="MG - not in crisis"),
    "severity-past": dict(text="MG, previous crisis"),
    "refractory-negated": dict(text="dermatomyositis - not refractory"),
    "trigger-inside-a-term": dict(text="dermatomyositis not responding to steroids"),
    "pseudo-trigger": dict(text="CIDP - previous IVIg helped"),
    "code-vetoed-by-text": dict(text="GBS ruled out", code="G61.0"),
    # ambiguous abbreviations
    **{f"{term}-alone": dict(text=term, age=age) for term, age in (
        ("DM", 50), ("PM", 50), ("GBS", 0), ("MFS", 50), ("PPS", 5), ("AMAN", 50), ("PID", 50),
        ("SID", 50), ("AMR", 50), ("PANS", 40), ("HDN", 0))},
    "DM-code": dict(text="DM", code="M33.1"),
    "DM-word": dict(text="DM - heliotrope rash, CK 3000"),
    "DM-specialty": dict(text="DM", specialty="Rheumatology"),
    "DM-other-sense": dict(text="diabetic neuropathy (DM)"),
    "DM-other-sense-beats-specialty-support": dict(text="DM type 2", specialty="Rheumatology"),
    "DM-inside-a-longer-term": dict(text="DM amyotrophy"),
    "PM-specialty": dict(text="PM", specialty="Rheumatology"),
    "PM-afternoon": dict(text="CIDP - infusion booked pm", specialty="Rheumatology"),
    "GBS-age": dict(text="GBS", age=30),
    "GBS-neonate-neurology": dict(text="GBS", age=0, specialty="Paediatric neurology"),
    "GBS-obstetric": dict(text="GBS", age=30, specialty="Obstetrics & Gynaecology"),
    "GBS-strep-words": dict(text="GBS swab, penicillin", age=30),
    "MFS-code": dict(text="MFS", code="G61.0"),
    "MFS-word": dict(text="MFS - ataxia, ophthalmoplegia, areflexia"),
    "MFS-marfan": dict(text="MFS, aortic root", specialty="Neurology"),
    "PPS-age": dict(text="PPS", age=70),
    "AMAN-other-term": dict(text="GBS AMAN variant"),
    "ALS-not-ambiguous": dict(text="ALS"),
    "PID-words": dict(text="PID - IgG replacement"),
    "SID-words": dict(text="SID secondary to CLL"),
    "AMR-specialty": dict(text="AMR", specialty="Renal transplant"),
    "PANS-age": dict(text="PANS", age=9),
    "HDN-words": dict(text="HDN - rhesus", age=0),
    # typos
    "transposed-4": dict(text="CIPD maint"),
    "transposed-4-lower": dict(text="cdip"),
    "substituted-4-capitals": dict(text="LEMZ"),
    "substituted-4-lower-not-corrected": dict(text="lemz"),
    "never-into-an-ambiguous-abbreviation": dict(text="AMAM", specialty="Neurology"),
    "longer-word": dict(text="Lambert Eaton myasthenic syndrom"),
    # words in between, another order, the most specific still first
    "word-between": dict(text="IgM paraproteinaemic demyelinating neuropathy"),
    "brackets-between": dict(text="chronic inflammatory (demyelinating) polyradiculoneuropathy"),
    "another-order": dict(text="Polyneuropathy, chronic inflammatory demyelinating"),
    "too-far-apart": dict(text="multifocal motor and sensory neuropathy"),
    "terminator-between": dict(text="Lambert; Eaton"),
    "most-specific": dict(text="chronic inflammatory demyelinating polyneuropathy with anti-MAG antibodies"),
    # breadth
    "mnd": dict(text="MND"),
    "hiv": dict(text="HIV"),
    "igg-paraprotein": dict(text="IgG paraproteinaemic neuropathy"),
    "painful-diabetic": dict(text="painful diabetic polyneuropathy"),
    "background-yields": dict(text="HIV-associated ITP"),
    "mnd-code": dict(text="", code="G12.21"),
    # clinical decisions
    "gbs-code-alone": dict(text="", code="G61.0"),
    "gbs-code-with-text": dict(text="Guillain-Barre syndrome", code="G61.0"),
    "mg-severity-unknown": dict(text="myasthenia gravis"),
    "dm-refractory-unknown": dict(text="dermatomyositis"),
    "outside-condition": dict(text="ITP"),
    "outside-population": dict(text="mild MG"),
}


@pytest.fixture(scope="module")
def read(tmp_path_factory, loaded_reference):
    return classify_cases(tmp_path_factory.mktemp("context") / "context.duckdb",
                          [dict(id=name, **order) for name, order in CASES.items()], loaded_reference)


def verdict(row):
    return row["condition"], row["recommendation"]


@pytest.mark.parametrize("name, condition, recommendation, flag", [
    ("negated", None, "unknown_indication", "mention_negated"),
    ("negated-then-terminated", "cidp", "offer", "mention_negated"),
    ("negated-backward", "cidp", "offer", "mention_negated"),
    ("historical", "immune_thrombocytopenia", "outside_guideline", "mention_historical"),
    ("historical-only", None, "unknown_indication", "mention_historical"),
    ("family", None, "unknown_indication", "mention_family"),
    ("family-other-person-only", "gbs", "offer", "mention_family"),
    ("uncertain", "gbs", "offer", "diagnosis_uncertain"),
    ("uncertain-trailing", "gbs", "offer", "diagnosis_uncertain"),
    ("uncertain-beaten-by-certain", "cidp", "offer", "diagnosis_uncertain"),
    ("differential", None, "unknown_indication", "indication_ambiguous"),
    ("qualifier-negated", "gbs", "offer", "mention_negated"),
    ("qualifier-negated-forward", "gbs", "offer", "mention_negated"),
    ("qualifier-hypothetical", "gbs", "offer", None),
    ("qualifier-past-kept", "gbs", "should_not", "ivig_with_plasma_exchange"),
    ("severity-negated", "myasthenia_gravis", "consider", "mg_severity_not_recorded"),
    ("severity-past", "myasthenia_gravis", "consider", "mg_severity_not_recorded"),
    ("refractory-negated", "dermatomyositis", "outside_guideline", "dm_not_refractory"),
    ("trigger-inside-a-term", "dermatomyositis", "may_consider", None),
    ("pseudo-trigger", "cidp", "offer", None),
    ("code-vetoed-by-text", None, "unknown_indication", "text_code_mismatch"),
])
def test_context_of_a_mention(read, name, condition, recommendation, flag):
    row = read[name]
    assert verdict(row) == (condition, recommendation), row["rationale"]
    if flag:
        assert flag in row["flags"]


def test_context_is_said_in_the_rationale(read):
    assert "set aside by context: gbs (negated)" in read["negated-then-terminated"]["rationale"]
    assert "mg (family)" in read["family"]["rationale"]


@pytest.mark.parametrize("term", ["DM", "PM", "GBS", "MFS", "PPS", "AMAN", "PID", "SID", "AMR", "PANS", "HDN"])
def test_an_ambiguous_abbreviation_alone_is_not_graded(read, term):
    row = read[f"{term}-alone"]
    assert verdict(row) == (None, "unknown_indication") and "abbreviation_ambiguous" in row["flags"]
    assert f'"{term.lower()}" not graded: it may mean' in row["rationale"]


@pytest.mark.parametrize("name, condition", [
    ("DM-code", "dermatomyositis"), ("DM-word", "dermatomyositis"), ("DM-specialty", "dermatomyositis"),
    ("DM-inside-a-longer-term", "diabetic_radiculoplexus_neuropathy"),
    ("PM-specialty", "polymyositis"), ("GBS-age", "gbs"), ("GBS-neonate-neurology", "gbs"),
    ("MFS-code", "miller_fisher_syndrome"), ("MFS-word", "miller_fisher_syndrome"), ("PPS-age", "postpolio_syndrome"),
    ("AMAN-other-term", "gbs"), ("ALS-not-ambiguous", "motor_neurone_disease"), ("PID-words", "immunodeficiency"),
    ("SID-words", "immunodeficiency"), ("AMR-specialty", "transplant_rejection"), ("PANS-age", "other_neurology"),
    ("HDN-words", "haemolytic_disease_newborn"),
])
def test_an_ambiguous_abbreviation_counts_with_support(read, name, condition):
    row = read[name]
    assert row["condition"] == condition and "abbreviation_ambiguous" not in row["flags"], row["rationale"]


@pytest.mark.parametrize("name, condition", [
    ("DM-other-sense", "diabetic_neuropathy"), ("DM-other-sense-beats-specialty-support", None),
    ("PM-afternoon", "cidp"), ("GBS-obstetric", None), ("GBS-strep-words", None), ("MFS-marfan", None),
])
def test_an_ambiguous_abbreviation_read_in_its_other_sense_does_not_count(read, name, condition):
    row = read[name]
    assert row["condition"] == condition and "abbreviation_ambiguous" in row["flags"], row["rationale"]


@pytest.mark.parametrize("name, condition, corrected", [
    ("transposed-4", "cidp", True), ("transposed-4-lower", "cidp", True), ("substituted-4-capitals", "lems", True),
    ("substituted-4-lower-not-corrected", None, False), ("never-into-an-ambiguous-abbreviation", None, False),
    ("longer-word", "lems", True),
])
def test_typos_in_short_words(read, name, condition, corrected):
    row = read[name]
    assert row["condition"] == condition, row["rationale"]
    assert ("spelling_corrected" in row["flags"]) is corrected


@pytest.mark.parametrize("name, condition", [
    ("word-between", "igm_paraprotein_neuropathy"), ("brackets-between", "cidp"), ("another-order", "cidp"),
    ("too-far-apart", None), ("terminator-between", None), ("most-specific", "igm_paraprotein_neuropathy"),
])
def test_terms_across_words_in_between_and_in_another_order(read, name, condition):
    assert read[name]["condition"] == condition, read[name]["rationale"]


@pytest.mark.parametrize("name, condition", [
    ("mnd", "motor_neurone_disease"), ("hiv", "hiv_related"), ("igg-paraprotein", "igg_iga_paraprotein_neuropathy"),
    ("painful-diabetic", "diabetic_neuropathy"), ("background-yields", "immune_thrombocytopenia"),
    ("mnd-code", "motor_neurone_disease"),
])
def test_uses_the_guideline_does_not_grade_are_named(read, name, condition):
    assert verdict(read[name]) == (condition, "outside_guideline")
    assert read[name]["outside_reason"] == "condition"


def test_every_condition_says_whether_it_is_neuromuscular(loaded_reference):
    conditions = loaded_reference.vocabulary["conditions"]
    assert all(isinstance(c["neuromuscular"], bool) for c in conditions)
    other = [c for c in conditions if c["scope"] == "other"]
    assert {c["neuromuscular"] for c in other} == {True, False}
    assert all(c["neuromuscular"] for c in conditions if c["scope"] == "graded")


def test_a_gbs_code_alone_is_flagged_as_possibly_miller_fisher(read):
    alone = read["gbs-code-alone"]
    assert verdict(alone) == ("gbs", "offer") and "code_default_condition" in alone["flags"]
    assert "Miller Fisher syndrome is an inclusion term under G61.0" in alone["rationale"]
    assert "code_default_condition" not in read["gbs-code-with-text"]["flags"]


def test_a_missing_qualifier_is_read_alike_for_every_condition(read, loaded_reference):
    """The rule set's one decision: graded as the population the evidence covers, and flagged."""
    _, document = loaded_reference.rulesets["aan-2012-ivig-nmd"]
    assert "missing-qualifier" in {d["id"] for d in document["ruleset"]["decisions"]}
    mg, dm = read["mg-severity-unknown"], read["dm-refractory-unknown"]
    assert (mg["recommendation"], mg["evidence_level"], mg["flags"]) == ("consider", "B", ["mg_severity_not_recorded"])
    assert (dm["recommendation"], dm["evidence_level"], dm["flags"]) == ("may_consider", "C", ["dm_refractory_not_recorded"])


def test_outside_guideline_says_why(read):
    assert (read["outside-condition"]["recommendation"], read["outside-condition"]["outside_reason"]) == (
        "outside_guideline", "condition")
    assert (read["outside-population"]["recommendation"], read["outside-population"]["outside_reason"]) == (
        "outside_guideline", "population")
    assert read["gbs-code-alone"]["outside_reason"] is None


def test_rationales_quote_the_guideline_as_it_stands_and_mark_our_words(read, loaded_reference):
    guideline = " ".join((Path(__file__).resolve().parents[1] / "docs" / "aan-2012-ivig-neuromuscular-guideline.txt")
                         .read_text(encoding="utf-8").split())
    _, document = loaded_reference.rulesets["aan-2012-ivig-nmd"]
    for rule in document["rules"] + document["flag_rules"]:
        assert " ".join(rule["statement"].split()) in guideline, rule["id"]
    mg = read["mg-severity-unknown"]["rationale"]
    quoted = re.findall(r'"([^"]+)"', mg)
    assert quoted and all(q in guideline for q in quoted)
    assert "Audit note: Severity is not recorded" in mg


def test_context_triggers_are_data_with_a_schema():
    context = yaml.safe_load((GUIDELINE_DIR / "vocabulary" / "context.yaml").read_text(encoding="utf-8"))["context"]
    assert {t["category"] for t in context["triggers"]} == {"negated", "historical", "family", "uncertain"}
    assert {t["direction"] for t in context["triggers"]} == {"forward", "backward", "bidirectional"}
    assert {";", ",", "but", "now"} <= set(context["terminators"])


@pytest.mark.parametrize("file, old, new, message", [
    ("context.yaml", "terms: [post, following, ex]", "terms: [post, following, ex, previous]",
     "context phrase 'previous' is listed more than once"),
    ("abbreviations.yaml", "  - term: HDN\n", "  - term: HDX\n", "'HDX' is not a term of condition"),
    ("context.yaml", "      direction: forward\n", "      direction: sideways\n", "sideways"),
])
def test_a_broken_context_or_abbreviation_file_is_refused(tmp_path, file, old, new, message):
    from pipelines.reference import GuidelineError, load_vocabulary
    folder = tmp_path / "vocabulary"
    folder.mkdir()
    for path in (GUIDELINE_DIR / "vocabulary").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        (folder / path.name).write_text(text.replace(old, new, 1) if path.name == file else text, encoding="utf-8")
    with pytest.raises(GuidelineError, match=re.escape(message)):
        load_vocabulary(folder)
