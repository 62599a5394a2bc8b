"""A run's files in the out folder: the committee page and the full lists behind it.

They are written into <out>/.publishing and moved into place (rename) only once the database they
come from is final, so after a kill they are never ahead of it. The lists grow with the orders
(hundreds of MB at 10M), so they are written only when what they list changed: <out>/exports/.built_from
records the database and the build of its marts (derived_state) they were written from."""
import os
import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from dashboards import page

STAGING = ".publishing"
STAMP = ".built_from"


class Publication:
    """The page and lists of one run, staged in <out>/.publishing (emptied first: a killed run's
    files go)."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.staging = out_dir / STAGING
        shutil.rmtree(self.staging, ignore_errors=True)
        (self.staging / "exports").mkdir(parents=True)
        self.lists_stamp: str | None = None  # set when the lists were written anew

    def stage_lists(self, con: duckdb.DuckDBPyConnection, db_path: Path) -> dict[str, Path]:
        """Write the full lists when those in <out>/exports are from another build or missing; return
        where each will be."""
        final = {name: self.out_dir / "exports" / path.name for name, path in page.export_paths(self.staging).items()}
        stamp = f"{Path(db_path).resolve()} {con.execute('SELECT fingerprint, built_at FROM derived_state').fetchall()}"
        written = self.out_dir / "exports" / STAMP
        if not (written.exists() and written.read_text(encoding="utf-8") == stamp
                and all(path.exists() for path in final.values())):
            page.export_lists(con, self.staging)
            self.lists_stamp = stamp
        return final

    def stage_page(self, con: duckdb.DuckDBPyConnection, ruleset_id: str, run_started: datetime,
                   exports: dict[str, Path]) -> Path:
        page.publish(con, self.staging, ruleset_id, run_started, exports)
        return self.out_dir / "dashboard.html"

    def move_into_place(self) -> None:
        """After the database is final: the lists (their old stamp first gone, so a kill midway
        leaves them to be written again), their stamp, then the page."""
        exports = self.out_dir / "exports"
        if self.lists_stamp is not None:
            exports.mkdir(exist_ok=True)
            (exports / STAMP).unlink(missing_ok=True)
            for path in sorted((self.staging / "exports").iterdir()):
                os.replace(path, exports / path.name)
            (exports / STAMP).write_text(self.lists_stamp, encoding="utf-8")
        os.replace(self.staging / "dashboard.html", self.out_dir / "dashboard.html")
        shutil.rmtree(self.staging)
