"""The network audit's steps: find the latest bundle of every site in the drop folder, check each
(a refused bundle gets one line, and the site's next older bundle is tried), and merge the bundles
used into the network database, whose marts (sql/network/) compare each site with the network."""
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from pipelines import dictionary
from pipelines.bundle import FREE_TEXT_TABLES, SITE_CODE, TABLES, BundleRefused, check_bundle
from pipelines.db import AuditError, insert_rows, quote_identifier, run_sql_file

# In dependency order: each reads the tables the ones before it made.
MARTS = ("sites", "measures", "funnel_limits", "condition_grams", "quarterly", "quarterly_deciles")


@dataclass
class BundleSeen:
    """A bundle the network looked at: used (the site's latest that passed the check) or refused."""
    site: str
    bundle: str
    folder: Path
    status: str
    reason: str | None = None
    manifest: dict | None = None

    def refusal(self) -> str:
        return f"refused bundle {self.site}/{self.bundle}: {self.reason}" if self.bundle else \
            f"refused {self.folder.name} in the bundle folder: {self.reason}"


def collect(drop_dir: Path, expected_sites: list[str]) -> list[BundleSeen]:
    """Per site folder, its bundles newest first (bundle folders are named by when they were
    written) until one passes the check; names starting with a dot are bundles being written."""
    if not drop_dir.is_dir():
        raise AuditError(f"{drop_dir}: bundle folder not found")
    with duckdb.connect() as reader:  # reads every bundle's Parquet files
        return [bundle for site_folder in sorted(p for p in drop_dir.iterdir() if not p.name.startswith("."))
                for bundle in _site_bundles(site_folder, expected_sites, reader)]


def _site_bundles(site_folder: Path, expected_sites: list[str], reader: duckdb.DuckDBPyConnection) -> list[BundleSeen]:
    """The site's bundles looked at: newest first, down to the first that passes the check."""
    site = site_folder.name
    if not site_folder.is_dir() or not SITE_CODE.match(site):
        return [BundleSeen(site, "", site_folder, "refused", "not a site folder")]
    seen = []
    for folder in sorted((p for p in site_folder.iterdir() if not p.name.startswith(".")), reverse=True):
        try:
            if expected_sites and site not in expected_sites:
                raise BundleRefused(f"site {site} is not in the network's site list")
            if not folder.is_dir():
                raise BundleRefused("not a bundle folder")
            manifest = check_bundle(folder, site, reader)
            if manifest["bundle_id"] != folder.name:
                raise BundleRefused(f"the manifest's bundle_id {manifest['bundle_id']} is not its folder's name")
        except BundleRefused as exc:
            seen.append(BundleSeen(site, folder.name, folder, "refused", str(exc)))
            continue
        seen.append(BundleSeen(site, folder.name, folder, "used", manifest=manifest))
        break
    return seen


def build_database(con: duckdb.DuckDBPyConnection, seen: list[BundleSeen], expected_sites: list[str],
                   stale_after_days: int) -> None:
    """Replace the network database's tables: the bundles seen, the used bundles' aggregates (one
    table per bundle file, with the site), and the marts; then describe every table."""
    run_sql_file(con, "network/bundles.sql")
    insert_rows(con, "network_bundles", [_bundle_row(b) for b in seen])
    used = [b for b in seen if b.status == "used"]
    for name, columns in (TABLES | FREE_TEXT_TABLES).items():
        table = quote_identifier(f"network_{name}")
        names = ", ".join(quote_identifier(c) for c in columns)
        con.execute(f"CREATE OR REPLACE TABLE {table} (site VARCHAR, "
                    + ", ".join(f"{quote_identifier(c)} {t}" for c, t in columns.items()) + ")")
        files = [(b.site, str(b.folder / f"{name}.parquet")) for b in used if f"{name}.parquet" in b.manifest["files"]]
        if files:
            con.execute("CREATE OR REPLACE TEMP TABLE bundle_files (site VARCHAR, file VARCHAR)")
            con.executemany("INSERT INTO bundle_files VALUES (?, ?)", files)
            con.execute(f"INSERT INTO {table} SELECT f.site, {', '.join(f'p.{quote_identifier(c)}' for c in columns)} "
                        "FROM read_parquet(?, filename = true) AS p JOIN bundle_files AS f ON f.file = p.filename",
                        [[file for _, file in files]])
    for mart in MARTS:
        run_sql_file(con, f"network/{mart}.sql", {"expected_sites": expected_sites,
                                                  "stale_after_days": stale_after_days})
    dictionary.apply_comments(con)


def _bundle_row(bundle: BundleSeen) -> dict:
    manifest = bundle.manifest or {}
    return {
        "site": bundle.site, "bundle": bundle.bundle, "status": bundle.status, "reason": bundle.reason,
        "made_at": _utc(manifest["created_at"]) if manifest else None,
        "period_start": date.fromisoformat(manifest["period"]["start"]) if manifest else None,
        "period_end": date.fromisoformat(manifest["period"]["end"]) if manifest else None,
        "bundle_format": manifest.get("bundle_format"),
        "product_version": manifest["product"]["version"] if manifest else None,
        "ruleset_id": manifest["ruleset"]["id"] if manifest else None,
        "ruleset_version": manifest["ruleset"]["version"] if manifest else None,
        "vocabulary_sha256": manifest["vocabulary"]["sha256"] if manifest else None,
        "free_text": manifest.get("free_text"),
    }


def _utc(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc).replace(tzinfo=None)
