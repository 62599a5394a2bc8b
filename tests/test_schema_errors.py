"""The data files (rule sets, vocabulary, checks registries, treatment parameters, site profiles) are
checked against schemas that refuse keys they do not know, so a misspelt key is never silently
ignored; every problem is listed, one line each."""
import json
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from pipelines import reference
from pipelines.paths import GUIDELINE_DIR
from pipelines.profile import ProfileError, load_profile

ROOT = Path(__file__).parents[1]
SHIPPED = [(path, "ruleset.schema.json") for path in sorted((GUIDELINE_DIR / "rulesets").glob("*.yaml"))] + [
    (path, "vocabulary.schema.json") for path in sorted((GUIDELINE_DIR / "vocabulary").glob("*.yaml"))] + [
    (path, "checks.schema.json") for path in sorted((GUIDELINE_DIR / "checks").glob("*.yaml"))] + [
    (GUIDELINE_DIR / "treatment" / f"{name}.yaml", f"{name}.schema.json") for name in ("courses", "cidp_review")] + [
    (ROOT / "sample_data" / "profiles" / "example-site.yaml", "site_profile.schema.json"),
    (ROOT / "tests" / "fixtures" / "local-policy.yaml", "ruleset.schema.json"),
    (ROOT / "sample_data" / "rulesets" / "example-hospital-policy.yaml", "ruleset.schema.json")]


def mappings(node, path=()):
    """Every mapping in a document, with its path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from mappings(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from mappings(value, path + (index,))


@pytest.mark.parametrize("path, schema_name", SHIPPED, ids=[p.name for p, _ in SHIPPED])
def test_a_misspelt_key_anywhere_in_a_shipped_file_is_refused(path, schema_name):
    schema = json.loads((GUIDELINE_DIR / "schema" / schema_name).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert not list(validator.iter_errors(document))  # the shipped file passes
    places = [place for place, _ in mappings(document)]
    for place, mapping in mappings(document):
        mapping["misspeled_key"] = 1
    found = {tuple(error.absolute_path) for error in validator.iter_errors(document)}
    missed = [place for place in places
              if place not in found and place + ("misspeled_key",) not in found]
    assert missed == []


def test_every_problem_of_a_rule_set_is_listed_one_line_each(tmp_path):
    text = (ROOT / "tests" / "fixtures" / "local-policy.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "policy.yaml"
    broken.write_text(text.replace("short_name:", "shortname:").replace("    level: B", "    levle: B", 1)
                      .replace("publisher_status: local", "publisher_status: locale"), encoding="utf-8")
    with pytest.raises(reference.GuidelineError) as error:
        reference.load_for(str(broken))
    assert sorted(str(error.value).splitlines()) == [
        f"{broken}: rules[0]: Additional properties are not allowed ('levle' was unexpected)",
        f"{broken}: ruleset.publisher_status: 'locale' is not one of "
        "['current', 'reaffirmed', 'retired', 'superseded', 'local']",
        f"{broken}: ruleset: 'short_name' is a required property",
        f"{broken}: ruleset: Additional properties are not allowed ('shortname' was unexpected)"]


def test_every_problem_of_a_vocabulary_file_is_listed(tmp_path):
    folder = tmp_path / "vocabulary"
    shutil.copytree(GUIDELINE_DIR / "vocabulary", folder)
    conditions = folder / "conditions.yaml"
    document = yaml.safe_load(conditions.read_text(encoding="utf-8"))
    document["conditions"][0]["term"] = ["x"]
    document["conditions"][2]["specifity"] = 1
    conditions.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(reference.GuidelineError) as error:
        reference.load_vocabulary(folder)
    assert [line.split(": ", 1)[1] for line in str(error.value).splitlines()] == [
        "conditions[0]: Additional properties are not allowed ('term' was unexpected)",
        "conditions[2]: Additional properties are not allowed ('specifity' was unexpected)"]


def test_every_problem_of_a_site_profile_is_listed(tmp_path):
    profile = tmp_path / "site.yaml"
    profile.write_text("site: RVH\nencodng: utf-8\nunits: {dose: grains}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(profile)
    assert str(error.value).splitlines() == [
        f"{profile}: top level: Additional properties are not allowed ('encodng' was unexpected)",
        f"{profile}: units.dose: 'grains' is not one of ['g', 'mg']"]
