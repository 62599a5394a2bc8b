"""The reference tables `classify` keeps between calls (pipelines/reference_cache.py): the same
tables as building them from guideline/, and never stale: an edited file changes the verdict."""
import shutil

import pytest

from tests.conftest import FIXTURES
from pipelines import classify, db, reference, reference_cache
from pipelines.single_order import classify_one

ORDER = dict(code=None, age=40, severity=None, specialty=None, refractory=None, plasma_exchange=None,
             with_methylprednisolone=None)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(reference_cache.CACHE_DIR_ENV, str(folder))
    return folder


def _tables(con) -> dict[str, list]:
    names = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name SIMILAR TO '(ref|guideline)_.*' ORDER BY 1").fetchall()]
    return {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in names}


def test_cached_tables_are_the_tables_built_from_guideline(cache):
    built = db.connect(":memory:")
    reference.write_reference(built, reference.load_reference())
    first, second = db.connect(":memory:"), db.connect(":memory:")
    assert reference_cache.write_reference_tables(first, None) == "aan-2012-ivig-nmd"  # builds the cache
    assert len(list(cache.glob("reference-*.duckdb"))) == 1
    assert reference_cache.write_reference_tables(second, None) == "aan-2012-ivig-nmd"  # reads it
    expected = _tables(built)
    assert "guideline_rules" in expected and expected["guideline_rules"]
    assert _tables(first) == expected
    assert _tables(second) == expected


def test_editing_a_rule_set_file_changes_the_verdict(cache, tmp_path):
    policy = tmp_path / "policy.yaml"
    shutil.copy(FIXTURES / "local-policy.yaml", policy)
    assert classify_one("ITP", guideline=str(policy), **ORDER)["recommendation"] == "consider"
    assert classify_one("ITP", guideline=str(policy), **ORDER)["recommendation"] == "consider"  # from the cache
    policy.write_text(policy.read_text().replace("level: B\n    direction: for\n    recommendation: consider",
                                                 "level: A\n    direction: for\n    recommendation: offer"))
    assert classify_one("ITP", guideline=str(policy), **ORDER)["recommendation"] == "offer"
    assert len(list(cache.glob("reference-*.duckdb"))) == 1  # the stale one is gone


def test_the_key_follows_every_file_under_guideline(tmp_path, monkeypatch):
    copy = tmp_path / "guideline"  # a copy of the project's data, as classify.fingerprint reads it
    shutil.copytree(classify.GUIDELINE_DIR, copy)
    shutil.copytree(classify.SQL_DIR, tmp_path / "sql")
    for name, value in (("PROJECT_ROOT", tmp_path), ("GUIDELINE_DIR", copy), ("SQL_DIR", tmp_path / "sql")):
        monkeypatch.setattr(classify, name, value)
    before = reference_cache.cache_key(None)
    assert reference_cache.cache_key(None) == before
    conditions = copy / "vocabulary" / "conditions.yaml"
    conditions.write_text(conditions.read_text().replace("terms: [cidp, acidp,", "terms: [cidp, acidp, cidpp,"))
    assert reference_cache.cache_key(None) != before


def test_a_damaged_cache_is_rebuilt(cache):
    assert classify_one("CIDP", guideline=None, **ORDER)["recommendation"] == "offer"
    [cached] = cache.glob("reference-*.duckdb")
    cached.write_bytes(b"not a database")
    assert classify_one("CIDP", guideline=None, **ORDER)["recommendation"] == "offer"
    with db.connect(":memory:") as con:
        assert reference_cache.write_reference_tables(con, None) == "aan-2012-ivig-nmd"  # rebuilt, readable


def test_a_bad_rule_set_is_refused_with_a_cache_too(cache, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text((FIXTURES / "local-policy.yaml").read_text().replace("level: B", "level: Z"))
    for _ in range(2):
        with pytest.raises(reference.GuidelineError, match="policy.yaml"):
            classify_one("ITP", guideline=str(policy), **ORDER)
    assert not list(cache.glob("reference-*.duckdb"))
