"""Rule sets are schema-checked data: broken files are refused with a message naming the file and
the problem, and a second rule set (a local policy) works with no code change."""
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
    assert set(meta["governance"]) == {"status", "authored_by", "checked_by", "date_reviewed", "next_review"}


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
