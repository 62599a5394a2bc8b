"""A site bundle: what one hospital shares with a network audit (the OHDSI network-study model:
each site runs the same analysis on its own data and shares only results).

A bundle is a folder <drop>/<SITE>/<bundle_id>/ of Parquet aggregates and a manifest.json (format,
site, period, rule set and vocabulary versions, product version, each file's rows and SHA-256).
The aggregates come from the SQL models in sql/bundle/, run on a read-only connection to the site's
audit database: no patient key or number, no order or prescriber id, no free text unless the site
allows it, and counts under 5 suppressed as on the committee dashboard. The bundle is written
under a dot-name and renamed into place, so a network never reads half of one.

check_bundle is the network's manifest check; the writer runs it on its own output too, so a model
that drifts from the format below cannot produce a bundle the network would refuse."""
import hashlib
import json
import os
import re
import shutil
from datetime import date, datetime, timezone
from importlib.metadata import version
from pathlib import Path

import duckdb

from pipelines.db import AuditError, connect, run_sql_file
from pipelines.yaml_data import check_schema

BUNDLE_FORMAT = "ivig-audit-bundle/1"
MANIFEST = "manifest.json"
SITE_CODE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,39}$")  # a folder name; no leading dot
SUPPRESSION = ("counts of 1 to 4 are empty (null), and where one column has exactly one such count, "
               "its next smallest is empty too; grams are empty where their orders are")

# The format: each file's columns and DuckDB types, in order (sql/bundle/<name>.sql makes them).
TABLES: dict[str, dict[str, str]] = {
    "totals": {"orders": "BIGINT", "patients": "BIGINT", "grams": "DOUBLE"},
    "recommendations": {"recommendation": "VARCHAR", "orders": "BIGINT", "patients": "BIGINT", "grams": "DOUBLE"},
    "conditions": {"condition": "VARCHAR", "condition_label": "VARCHAR", "orders": "BIGINT", "patients": "BIGINT",
                   "grams": "DOUBLE"},
    "cidp": {"patients_reviewed": "BIGINT", "overuse_suspected": "BIGINT"},
    "quarters": {"quarter": "DATE", "order_group": "VARCHAR", "orders": "BIGINT", "grams": "DOUBLE"},
}
FREE_TEXT_TABLES: dict[str, dict[str, str]] = {
    "indication_texts": {"indication": "VARCHAR", "orders": "BIGINT", "patients": "BIGINT"},
}
COUNT_COLUMNS = ("orders", "patients", "patients_reviewed", "overuse_suspected")


class BundleRefused(AuditError):
    """A bundle that fails the manifest check; the message is the reason."""


def write_bundle(db_path: Path, drop_dir: Path, site: str | None = None, until: date | None = None,
                 months: int = 12, allow_free_text: bool = False) -> Path:
    """Write the bundle of `site` (default: the database's only site) for the `months` calendar
    months up to `until` (default: the site's latest order date); return its folder."""
    if months < 1:
        raise AuditError("--months must be at least 1")
    con = connect(db_path, read_only=True, writable_dir=drop_dir)  # Parquet goes to the drop folder only
    try:
        site = _site(con, db_path, site)
        period_end = until or con.execute("SELECT max(order_date) FROM order_audit WHERE site = ?",
                                          [site]).fetchall()[0][0]
        period = {"site": site, "period_start": _months_back(period_end, months), "period_end": period_end}
        tables = TABLES | (FREE_TEXT_TABLES if allow_free_text else {})
        for name in tables:
            run_sql_file(con, f"bundle/{name}.sql", period)
        run_sql_file(con, "bundle/provenance.sql", {"site": site})
        provenance = con.execute("SELECT * FROM bundle_provenance").fetchall()
        if len(provenance) != 1:
            raise AuditError(f"{db_path}: the orders of site {site} were classified under {len(provenance)} rule "
                             "sets; run the audit again so that one rule set classifies them all")
        created = datetime.now(timezone.utc)
        bundle_id = created.strftime("%Y%m%dT%H%M%S.%fZ")
        partial = drop_dir / site / f".{bundle_id}.partial"
        partial.mkdir(parents=True)
        try:
            files = {}
            for name in tables:
                path = partial / f"{name}.parquet"
                con.table(f"bundle_{name}").write_parquet(str(path))
                rows = con.execute(f"SELECT count(*) FROM bundle_{name}").fetchall()[0][0]
                files[path.name] = {"rows": rows, "sha256": _sha256(path)}
            ruleset_id, ruleset_version, vocabulary_sha256 = provenance[0]
            manifest = {
                "bundle_format": BUNDLE_FORMAT, "site": site, "bundle_id": bundle_id,
                "created_at": created.isoformat(),
                "period": {"start": period["period_start"].isoformat(), "end": period_end.isoformat()},
                "product": {"name": "ivig-audit", "version": version("ivig-audit")},
                "ruleset": {"id": ruleset_id, "version": ruleset_version},
                "vocabulary": {"sha256": vocabulary_sha256},
                "suppression": SUPPRESSION, "free_text": allow_free_text, "files": files,
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            check_bundle(partial, site)
            folder = drop_dir / site / bundle_id
            os.replace(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return folder
    finally:
        con.close()


def _site(con: duckdb.DuckDBPyConnection, db_path: Path, site: str | None) -> str:
    if not con.execute("SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'order_audit') "
                       "+ (SELECT count(*) FROM duckdb_views() WHERE view_name = 'order_audit')").fetchall()[0][0]:
        raise AuditError(f"{db_path}: no audited orders here (run 'ivig-audit run' first)")
    sites = [s for (s,) in con.execute("SELECT DISTINCT site FROM order_audit ORDER BY site").fetchall()]
    if site is None:
        if len(sites) != 1:
            raise AuditError(f"{db_path}: the database holds sites {', '.join(sites) or '(none)'}: "
                             "name the one to bundle with --site")
        site = sites[0]
    if site not in sites:
        raise AuditError(f"{db_path}: no audited orders of site {site!r} (sites: {', '.join(sites) or 'none'})")
    if not SITE_CODE.match(site):
        raise AuditError(f"site code {site!r} cannot name a bundle folder (letters, digits, '.', '-' and '_', "
                         "not starting with '.')")
    return site


def _months_back(end: date, months: int) -> date:
    """The first day of the calendar month `months - 1` months before `end`'s month."""
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def check_bundle(folder: Path, site: str, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """The network's manifest check: return the manifest of a bundle that passes, else raise
    BundleRefused with the first problem found. `con`: an in-memory DuckDB connection to read the
    Parquet files with (one for many bundles; by default one for this bundle)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BundleRefused(f"no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleRefused(f"{MANIFEST} is not JSON ({exc})") from None
    check_schema(manifest, "bundle_manifest.schema.json", Path(MANIFEST), BundleRefused)
    if manifest["bundle_format"] != BUNDLE_FORMAT:
        raise BundleRefused(f"bundle format {manifest['bundle_format']!r} is not {BUNDLE_FORMAT!r}, "
                            "the one this network reads")
    if manifest["site"] != site:
        raise BundleRefused(f"the manifest names site {manifest['site']!r}, but the bundle is in the folder of {site!r}")
    try:
        datetime.fromisoformat(manifest["created_at"])
    except ValueError:
        raise BundleRefused(f"the manifest's created_at {manifest['created_at']!r} is not a date and time") from None
    if manifest["period"]["start"] > manifest["period"]["end"]:
        raise BundleRefused("the manifest's period ends before it starts")
    tables = TABLES | (FREE_TEXT_TABLES if manifest["free_text"] else {})
    expected = {f"{name}.parquet" for name in tables}
    listed = set(manifest["files"])
    present = {p.name for p in folder.iterdir()} - {MANIFEST}
    if not manifest["free_text"] and listed & {f"{name}.parquet" for name in FREE_TEXT_TABLES}:
        raise BundleRefused("it holds free text (indication_texts.parquet) but its manifest says free_text: false")
    for problem, names in (("the format requires", expected - listed), ("the format has no", listed - expected),
                           ("listed but missing:", listed - present), ("not in the manifest:", present - listed)):
        if names:
            raise BundleRefused(f"{problem} {', '.join(sorted(names))}")
    reader = con or duckdb.connect()
    try:
        for name, columns in tables.items():
            _check_file(reader, folder / f"{name}.parquet", manifest["files"][f"{name}.parquet"], columns)
    finally:
        if con is None:
            reader.close()
    return manifest


def _check_file(con: duckdb.DuckDBPyConnection, path: Path, listed: dict, columns: dict[str, str]) -> None:
    if _sha256(path) != listed["sha256"]:
        raise BundleRefused(f"{path.name}: its SHA-256 is not the manifest's")
    try:
        parquet = con.read_parquet(str(path))
        found = dict(zip(parquet.columns, map(str, parquet.types)))
    except duckdb.Error as exc:
        raise BundleRefused(f"{path.name}: not readable as Parquet ({str(exc).splitlines()[0]})") from None
    if list(found.items()) != list(columns.items()):
        raise BundleRefused(f"{path.name}: columns {_columns(found)} are not the format's {_columns(columns)}")
    counts = [c for c in COUNT_COLUMNS if c in columns]
    rows, *small = parquet.aggregate(", ".join(
        ["count(*)", *(f"count(*) FILTER ({c} BETWEEN 1 AND 4)" for c in counts)])).fetchall()[0]
    if rows != listed["rows"]:
        raise BundleRefused(f"{path.name}: {rows} rows, the manifest says {listed['rows']}")
    for column, n in zip(counts, small):
        if n:
            raise BundleRefused(f"{path.name}: {n} {column} count(s) under 5 not suppressed")


def _columns(columns: dict[str, str]) -> str:
    return "(" + ", ".join(f"{name} {data_type}" for name, data_type in columns.items()) + ")"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
