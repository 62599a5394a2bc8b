"""Free text and codes to conditions: synonyms, abbreviations, misspellings, Unicode, codes,
specificity, and the flags that tell a reviewer how an indication was read."""
import pytest

from tests.conftest import classify_cases

TEXT_CASES = [
    # abbreviations
    ("GBS", "gbs"), ("AIDP", "gbs"), ("CIDP", "cidp"), ("MG", "myasthenia_gravis"), ("MMN", "mmn"),
    ("LEMS", "lems"), ("IBM", "inclusion_body_myositis"), ("sIBM", "inclusion_body_myositis"),
    ("PPS", "postpolio_syndrome"),  # supported by the age (45); MFS, DM, PM: tests/test_indication_context.py
    ("JDM", "juvenile_dermatomyositis"), ("ITP", "immune_thrombocytopenia"),
    ("CVID", "immunodeficiency"),
    # case, whitespace, punctuation, accents and Unicode forms
    ("  guillain   BARRE  ", "gbs"), ("Guillain-Barré syndrome", "gbs"),
    ("Guillain-Barre\u0301 syndrome", "gbs"), ("GUILLAIN–BARRÉ", "gbs"), ("C.I.D.P.", "cidp"),
    ("myasthenia\u00a0gravis", "myasthenia_gravis"), ("(CIDP)", "cidp"),
    # misspellings: listed ones and those corrected by edit distance
    ("Guillian Barre", "gbs"), ("guillain bare syndrome", "gbs"), ("Gullain-Barre", "gbs"),
    ("chronic inflamatory demyelinating polyneuropathy", "cidp"), ("myastenia gravis", "myasthenia_gravis"),
    ("dermatomyosits", "dermatomyositis"), ("polymyosits", "polymyositis"), ("Miller Fischer", "miller_fisher_syndrome"),
    ("multifocal motor neuropathey", "mmn"), ("inclusion body myosits", "inclusion_body_myositis"),
    # descriptive variants
    ("myasthenic crisis", "myasthenia_gravis"), ("MMN with conduction block", "mmn"),
    ("CIDP maintenance", "cidp"), ("CIDP - maintenance 1g/kg every 3 weeks", "cidp"),
    ("GBS 0.4g/kg/day x5", "gbs"), ("Lambert Eaton", "lems"), ("post polio", "postpolio_syndrome"),
    ("diabetic lumbosacral radiculoplexus neuropathy", "diabetic_radiculoplexus_neuropathy"),
    ("IgM paraproteinaemic neuropathy", "igm_paraprotein_neuropathy"),
    ("Kawasaki", "kawasaki_disease"), ("secondary immunodeficiency (CLL)", "immunodeficiency"),
    # most specific wins
    ("Miller Fisher variant of GBS", "miller_fisher_syndrome"),
    ("CIDP with anti-MAG antibodies", "igm_paraprotein_neuropathy"),
    ("DM amyotrophy", "diabetic_radiculoplexus_neuropathy"),
    ("juvenile dermatomyositis", "juvenile_dermatomyositis"),
    # a dose in mg is not myasthenia gravis
    ("ITP 500mg", "immune_thrombocytopenia"),
]

CODE_CASES = [
    ("G61.0", "gbs"), ("G610", "gbs"), ("g61.0", "gbs"), ("G61.81", "cidp"), ("G61.82", "mmn"),
    ("G70.00", "myasthenia_gravis"), ("G70.0", "myasthenia_gravis"), ("G70.80", "lems"), ("G70.81", "lems"),
    ("G73.1", "lems"), ("M33.00", "juvenile_dermatomyositis"), ("M33.0", "juvenile_dermatomyositis"),
    ("M33.10", "dermatomyositis"), ("M33.1", "dermatomyositis"), ("M33.20", "polymyositis"),
    ("G72.41", "inclusion_body_myositis"), ("G14", "postpolio_syndrome"),
    ("E11.44", "diabetic_radiculoplexus_neuropathy"), ("E10.44", "diabetic_radiculoplexus_neuropathy"),
    ("E13.44", "diabetic_radiculoplexus_neuropathy"), ("D69.3", "immune_thrombocytopenia"),
    ("D80.1", "immunodeficiency"), ("D83.9", "immunodeficiency"), ("M30.3", "kawasaki_disease"),
]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, loaded_reference):
    cases = [dict(id=f"t{i}", text=text) for i, (text, _) in enumerate(TEXT_CASES)]
    cases += [dict(id=f"c{i}", text="", code=code) for i, (code, _) in enumerate(CODE_CASES)]
    cases += [
        dict(id="mfs-code", text="Miller Fisher syndrome", code="G61.0"),
        dict(id="gbs-code", text="GBS", code="G61.0"),
        dict(id="who-g618-text", text="MMN", code="G61.8"),
        dict(id="who-g618-alone", text="", code="G61.8"),
        dict(id="mismatch", text="CIDP", code="D69.3"),
        dict(id="unknown-code", text="", code="Z99.9"),
        dict(id="text-unrecognised-code-known", text="neuropathy", code="G61.81"),
        dict(id="ambiguous-text", text="CIDP or MMN"),
        dict(id="ambiguous-text-code-decides", text="CIDP or MMN", code="G61.82"),
        dict(id="query", text="?GBS"),
        dict(id="query-word", text="possible CIDP"),
        dict(id="igm-code-alone", text="", code="D47.2"),
        dict(id="igm-code-text", text="anti-MAG", code="D47.2"),
    ]
    return classify_cases(tmp_path_factory.mktemp("vocab") / "vocab.duckdb", cases, loaded_reference)


@pytest.mark.parametrize("index, text, condition", [(i, t, c) for i, (t, c) in enumerate(TEXT_CASES)],
                         ids=[t for t, _ in TEXT_CASES])
def test_text_to_condition(verdicts, index, text, condition):
    assert verdicts[f"t{index}"]["condition"] == condition


@pytest.mark.parametrize("index, code, condition", [(i, c, k) for i, (c, k) in enumerate(CODE_CASES)],
                         ids=[c for c, _ in CODE_CASES])
def test_code_to_condition(verdicts, index, code, condition):
    assert verdicts[f"c{index}"]["condition"] == condition


def test_text_decides_between_conditions_sharing_a_code(verdicts):
    assert verdicts["mfs-code"]["condition"] == "miller_fisher_syndrome"
    assert verdicts["gbs-code"]["condition"] == "gbs"
    assert verdicts["who-g618-text"]["condition"] == "mmn"
    assert "text_code_mismatch" not in verdicts["mfs-code"]["flags"]


def test_ambiguous_code_without_text_is_unknown(verdicts):
    row = verdicts["who-g618-alone"]
    assert (row["condition"], row["recommendation"]) == (None, "unknown_indication")
    assert "code_ambiguous" in row["flags"]
    assert verdicts["igm-code-alone"]["recommendation"] == "unknown_indication"
    assert verdicts["igm-code-text"]["condition"] == "igm_paraprotein_neuropathy"


def test_text_and_code_that_disagree_are_flagged(verdicts):
    row = verdicts["mismatch"]
    assert row["condition"] == "cidp" and "text_code_mismatch" in row["flags"]


def test_unknown_code_and_unrecognised_text_are_flagged(verdicts):
    assert "code_not_recognised" in verdicts["unknown-code"]["flags"]
    assert verdicts["unknown-code"]["recommendation"] == "unknown_indication"
    row = verdicts["text-unrecognised-code-known"]
    assert row["condition"] == "cidp" and "indication_not_recognised" in row["flags"]


def test_text_naming_two_conditions(verdicts):
    assert verdicts["ambiguous-text"]["recommendation"] == "unknown_indication"
    assert "indication_ambiguous" in verdicts["ambiguous-text"]["flags"]
    assert verdicts["ambiguous-text-code-decides"]["condition"] == "mmn"


def test_uncertain_diagnosis_is_flagged(verdicts):
    assert "diagnosis_uncertain" in verdicts["query"]["flags"]
    assert "diagnosis_uncertain" in verdicts["query-word"]["flags"]
    assert verdicts["query"]["condition"] == "gbs"


def test_spelling_correction_is_flagged(verdicts):
    index = next(i for i, (t, _) in enumerate(TEXT_CASES) if t == "myastenia gravis")
    assert "spelling_corrected" in verdicts[f"t{index}"]["flags"]
