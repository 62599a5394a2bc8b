"""Rule sets are schema-checked data: broken files are refused with a message naming the file and
the problem, and a second rule set (a local policy) works with no code change."""
import copy
import datetime
import shutil
import unicodedata
from pathlib import Path

import pytest

from pipelines import reference
from tests.conftest import FIXTURES, classify_cases

BROKEN = FIXTURES / "broken_rulesets"
EXPECTED = dict(line.split("\t") for line in (BROKEN / "EXPECTED.txt").read_text().splitlines())


@pytest.mark.parametrize("name, fragment", sorted(EXPECTED.items()))
def test_broken_rule_set_is_refused_with_a_clear_message(loaded_reference, name, fragment):
    conditions = {c["id"] for c in loaded_reference.vocabulary["conditions"]}
    with pytest.raises(reference.GuidelineError) as error:
        reference.load_ruleset(BROKEN / name, conditions)
    message = str(error.value)
    assert name in message and fragment in message


def test_shipped_rule_set_records_its_status_and_governance(loaded_reference):
    _, document = loaded_reference.rulesets["aan-2012-ivig-nmd"]
    meta = document["ruleset"]
    assert meta["publisher_status"] == "retired" and "2015" in meta["status_note"]
    assert "Neurology 2012;78:1009-1015" in meta["citation"]
    governance = meta["governance"]
    assert set(governance) == {"status", "authored_by", "checked_by", "clinical_check", "date_reviewed", "next_review"}
    # the clinical check is pending, so the rule set is a draft (the schema refuses active without it)
    assert (governance["status"], governance["clinical_check"]) == ("draft", "pending")


def test_active_needs_a_completed_clinical_check(tmp_path, loaded_reference):
    conditions = {c["id"] for c in loaded_reference.vocabulary["conditions"]}
    text = (BROKEN / "active_without_clinical_check.yaml").read_text(encoding="utf-8")
    checked = tmp_path / "checked.yaml"
    checked.write_text(text.replace("clinical_check: pending", "clinical_check: completed"), encoding="utf-8")
    assert reference.load_ruleset(checked, conditions)["ruleset"]["governance"]["status"] == "active"
    with pytest.raises(reference.GuidelineError, match="clinical_check: 'completed' was expected"):
        reference.load_ruleset(BROKEN / "active_without_clinical_check.yaml", conditions)


def test_governance_warnings_say_draft_pending_and_review_overdue(loaded_reference):
    _, document = loaded_reference.rulesets["aan-2012-ivig-nmd"]
    before_review = reference.governance_warnings(document, datetime.date(2027, 11, 26))
    assert before_review == [
        "AAN 2012 is draft, not active: its verdicts are not yet approved for use.",
        "AAN 2012: clinical check pending (checked by: pending pharmacy committee clinical check)."]
    after_review = reference.governance_warnings(document, datetime.date(2027, 11, 27))
    assert after_review[2:] == ["AAN 2012: next review was due 2027-11-26 and has passed."]
    active = copy.deepcopy(document)
    active["ruleset"]["governance"].update(status="active", clinical_check="completed")
    assert reference.governance_warnings(active, datetime.date(2027, 1, 1)) == []


def test_vocabulary_version_follows_the_vocabulary_content(tmp_path, loaded_reference):
    assert loaded_reference.vocabulary_version == reference.vocabulary_version()
    folder = tmp_path / "vocabulary"
    shutil.copytree(reference.VOCABULARY_DIR, folder)
    assert reference.vocabulary_version(folder) == loaded_reference.vocabulary_version
    codes = folder / "codes.yaml"
    codes.write_text(codes.read_text(encoding="utf-8") + "\n# a comment changes the version too\n", encoding="utf-8")
    assert reference.vocabulary_version(folder) != loaded_reference.vocabulary_version


def test_every_rule_section_names_a_section_of_the_guideline_text(loaded_reference):
    seed = Path(__file__).resolve().parents[1] / "docs" / "aan-2012-ivig-neuromuscular-guideline.txt"
    text = _plain(seed.read_text(encoding="utf-8"))
    _, document = loaded_reference.rulesets["aan-2012-ivig-nmd"]
    for rule in document["rules"] + document["flag_rules"]:
        for part in rule["section"].replace(";", ">").split(">"):
            words = _plain(part).strip().replace(" and clinical context", "")
            assert words.split(" (")[0] in text, (rule["id"], part)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def test_local_policy_is_a_new_file_and_no_code(tmp_path):
    loaded, ruleset_id = reference.load_for(str(FIXTURES / "local-policy.yaml"))
    assert ruleset_id == "local-policy-example"
    verdicts = classify_cases(tmp_path / "local.duckdb",
                              [dict(id="itp", text="ITP"), dict(id="gbs", text="GBS")], loaded, ruleset_id)
    assert verdicts["itp"]["recommendation"] == "consider"
    assert verdicts["itp"]["guideline_id"] == "local-policy-example"
    assert "Local policy 4.2" in verdicts["itp"]["rationale"]
    # the local policy has no GBS rule: GBS is outside it
    assert verdicts["gbs"]["recommendation"] == "outside_guideline"


def test_unknown_rule_set_id_is_refused(loaded_reference):
    with pytest.raises(reference.GuidelineError, match="unknown rule set 'nope'"):
        reference.resolve_ruleset(loaded_reference, "nope")


EXAMPLE_POLICY = Path(__file__).resolve().parents[1] / "sample_data" / "rulesets" / "example-hospital-policy.yaml"


def test_example_hospital_policy_follows_aan_2012_except_where_it_says(tmp_path):
    loaded, ruleset_id = reference.load_for(str(EXAMPLE_POLICY))
    cases = [dict(id="ibm", text="inclusion body myositis"), dict(id="sps", text="stiff person syndrome"),
             dict(id="cidp", text="CIDP"), dict(id="gbs-child", text="GBS", age=9), dict(id="itp", text="ITP")]
    local = classify_cases(tmp_path / "local.duckdb", cases, loaded, ruleset_id)
    aan = classify_cases(tmp_path / "aan.duckdb", cases, loaded)
    assert {k: (v["recommendation"], v["flags"]) for k, v in local.items()} == {
        "ibm": ("should_not", []), "sps": ("consider", ["local_review_required"]), "cidp": ("offer", []),
        "gbs-child": ("insufficient_evidence", []), "itp": ("outside_guideline", [])}
    assert '4.3 Inclusion body myositis: "IVIg is not funded for inclusion body myositis."' in local["ibm"]["rationale"]
    # the rules it takes from AAN 2012 say so, with AAN 2012's own quote
    assert local["cidp"]["guideline_section"].startswith("AAN 2012: Analysis of evidence")
    assert local["cidp"]["evidence_level"] == "A" and local["cidp"]["guideline_id"] == "example-hospital-policy"
    assert (aan["ibm"]["recommendation"], aan["sps"]["recommendation"]) == ("insufficient_evidence", "outside_guideline")


def test_a_rule_set_based_on_an_unknown_one_is_refused(tmp_path):
    for name in ("example-hospital-policy.yaml", "example-hospital-policy.txt"):
        text = (EXAMPLE_POLICY.parent / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("based_on: aan-2012-ivig-nmd", "based_on: aan-2021"), encoding="utf-8")
    with pytest.raises(reference.GuidelineError) as error:
        reference.load_for(str(tmp_path / "example-hospital-policy.yaml"))
    assert str(error.value).startswith(f"{tmp_path / 'example-hospital-policy.yaml'}: ruleset.based_on: unknown rule set 'aan-2021'")
