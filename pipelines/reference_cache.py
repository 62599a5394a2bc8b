"""The checked reference tables (pipelines/reference.py), kept between commands in a small DuckDB file
so `ivig-audit classify` does not read, check and write the guideline data on every call.

The file is named by a hash of everything the tables are built from: every file under guideline/,
the SQL (sql/, table definitions included), the code that checks and writes them, DuckDB's version,
and the --guideline argument with the rule set file it names. A change to any of them gives another
name, so a cache is never stale, only unused; a missing, unreadable or damaged file is rebuilt.
It holds no patient data. It lives in $IVIG_AUDIT_CACHE_DIR, else $XDG_CACHE_HOME/ivig-audit, else
~/.cache/ivig-audit; where it cannot be written the tables are built without it."""
import hashlib
import os
import tempfile
from pathlib import Path

import duckdb

from pipelines import classify
from pipelines.db import quote_identifier, run_sql_file
from pipelines.paths import PROJECT_ROOT

CACHE_DIR_ENV = "IVIG_AUDIT_CACHE_DIR"
CODE = ("pipelines/reference.py", "pipelines/yaml_data.py", "pipelines/reference_cache.py")
CHOICE_TABLE = "cached_ruleset_choice"  # the rule set id --guideline resolved to; not copied out


def write_reference_tables(con: duckdb.DuckDBPyConnection, guideline: str | None) -> str:
    """Fill the ref_* and guideline_* tables of `con` as reference.write_reference does, from the
    cache when it has them; return the rule set id that --guideline names (reference.load_for)."""
    path = cache_dir() / f"reference-{cache_key(guideline)[:32]}.duckdb"
    ruleset_id = _copy_from(con, path)
    if ruleset_id is None:
        from pipelines import reference
        loaded, ruleset_id = reference.load_for(guideline)  # a bad file raises GuidelineError
        reference.write_reference(con, loaded)
        _save(path, loaded, ruleset_id)
    return ruleset_id


def cache_dir() -> Path:
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ivig-audit"


def cache_key(guideline: str | None) -> str:
    """Every file under guideline/ and sql/ (every rule set, not only the primary that
    classify.fingerprint follows), a --guideline file, the argument itself, the code that reads
    the data and DuckDB's version."""
    digest = hashlib.sha256(f"{guideline!r} {duckdb.__version__}".encode())
    named = [(str(p.relative_to(classify.PROJECT_ROOT)), p) for folder in (classify.GUIDELINE_DIR, classify.SQL_DIR)
             for p in sorted(folder.rglob("*")) if p.is_file()]
    named += [(name, PROJECT_ROOT / name) for name in CODE]
    if guideline and Path(guideline).is_file():
        named.append(("--guideline", Path(guideline)))
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _copy_from(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Copy the cached tables into `con` (defined by sql/reference_schema.sql, as write_reference
    does); None when there is no usable cache file."""
    if not path.is_file():
        return None
    try:
        con.execute(f"ATTACH {_literal(path)} AS reference_cache (READ_ONLY)")
    except duckdb.Error:
        return None
    try:
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'reference_cache' AND table_name <> ?",
            [CHOICE_TABLE]).fetchall()]
        ruleset_id = con.execute(f"SELECT ruleset_id FROM reference_cache.{CHOICE_TABLE}").fetchone()[0]
        run_sql_file(con, "reference_schema.sql")
        for table in map(quote_identifier, tables):  # the schema seeds some (ref_recommendations)
            con.execute(f"DELETE FROM main.{table}")
            con.execute(f"INSERT INTO main.{table} BY NAME SELECT * FROM reference_cache.{table}")
        return ruleset_id
    except duckdb.Error:
        return None
    finally:
        con.execute("DETACH reference_cache")


def _save(path: Path, loaded, ruleset_id: str) -> None:
    """Write the tables to `path`, whole under a temporary name then renamed, and remove older
    caches. Where the folder cannot be written there is no cache, and no error."""
    from pipelines import reference
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".building-", suffix=".duckdb")
        os.close(handle)
        os.unlink(temporary)  # DuckDB makes its own file
        with duckdb.connect(temporary) as cache:
            cache.begin()  # one transaction: row by row, each insert would be a commit to the file
            reference.write_reference(cache, loaded)
            cache.execute(f"CREATE TABLE {CHOICE_TABLE} AS SELECT ? AS ruleset_id", [ruleset_id])
            cache.commit()
        os.replace(temporary, path)
        for old in path.parent.glob("reference-*.duckdb"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, duckdb.Error):
        if temporary:
            for leftover in (temporary, f"{temporary}.wal"):
                Path(leftover).unlink(missing_ok=True)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
