"""A run's files in the out folder: the committee page and the full lists behind it.

They are written into <out>/.publishing and moved into place (rename) only once the database they
come from is final, so after a kill they are never ahead of it. The lists grow with the orders
(hundreds of MB at 10M), so they are written only when what they list changed: <out>/exports/.built_from
records the database and the build of its marts (derived_state) they were written from. The page is
drawn again only when the database file, the day or the page's code changed
(<out>/.dashboard_built_from); a run with nothing new only puts its own time on it."""
import hashlib
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.export import export_lists, list_paths
from pipelines.paths import PROJECT_ROOT

STAGING = ".publishing"
STAMP = ".built_from"
PAGE_STAMP = ".dashboard_built_from"
RUN_TIME = re.compile(r'(<time class="run-started">)[^<]*(</time>)')  # the first: in the page's header


class Publication:
    """The page and lists of one run, staged in <out>/.publishing (emptied first: a killed run's
    files go)."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.staging = out_dir / STAGING
        shutil.rmtree(self.staging, ignore_errors=True)
        (self.staging / "exports").mkdir(parents=True)
        self.lists_stamp: str | None = None  # set when the lists were written anew
        self.page_stamp: tuple[str, datetime] | None = None  # set when the page was drawn anew

    def stage_lists(self, con: duckdb.DuckDBPyConnection, db_path: Path) -> dict[str, Path]:
        """Write the full lists when those in <out>/exports are from another build or missing; return
        where each will be."""
        final = {name: self.out_dir / "exports" / path.name for name, path in list_paths(self.staging).items()}
        stamp = f"{Path(db_path).resolve()} {con.execute('SELECT fingerprint, built_at FROM derived_state').fetchall()}"
        written = self.out_dir / "exports" / STAMP
        if not (written.exists() and written.read_text(encoding="utf-8") == stamp
                and all(path.exists() for path in final.values())):
            export_lists(con, self.staging)
            self.lists_stamp = stamp
        return final

    def stage_page(self, con: duckdb.DuckDBPyConnection, ruleset_id: str, run_started: datetime,
                   exports: dict[str, Path], read_in_place: Path | None = None) -> Path:
        """The page; read_in_place: the database `con` reads where it is (nothing new). The page of
        the last run is then kept, with this run's time put on it, when it was drawn from that very
        file on the same day by the same code; else the page is drawn anew (plotly imported then only)."""
        final = self.out_dir / "dashboard.html"
        stamped = self.out_dir / PAGE_STAMP
        if (read_in_place and final.exists() and stamped.exists()
                and stamped.read_text(encoding="utf-8") == _page_stamp(read_in_place, ruleset_id, run_started)):
            html, found = RUN_TIME.subn(rf"\g<1>{run_started:%Y-%m-%d %H:%M}\g<2>", final.read_text(encoding="utf-8"), 1)
            if found:
                (self.staging / "dashboard.html").write_text(html, encoding="utf-8")
                return final
        from dashboards import page
        page.publish(con, self.staging, ruleset_id, run_started, exports)
        self.page_stamp = (ruleset_id, run_started)
        return final

    def move_into_place(self, db_path: Path) -> None:
        """After the database is final: the lists (their old stamp first gone, so a kill midway
        leaves them to be written again), their stamp, then the page, and when it was drawn anew
        its stamp, from the database file as it now is (db_path, after its swap)."""
        exports = self.out_dir / "exports"
        if self.lists_stamp is not None:
            exports.mkdir(exist_ok=True)
            (exports / STAMP).unlink(missing_ok=True)
            for path in sorted((self.staging / "exports").iterdir()):
                os.replace(path, exports / path.name)
            (exports / STAMP).write_text(self.lists_stamp, encoding="utf-8")
        page_stamp = self.out_dir / PAGE_STAMP
        if self.page_stamp is not None:
            page_stamp.unlink(missing_ok=True)
        os.replace(self.staging / "dashboard.html", self.out_dir / "dashboard.html")
        if self.page_stamp is not None and db_path.exists():
            page_stamp.write_text(_page_stamp(db_path, *self.page_stamp), encoding="utf-8")
        shutil.rmtree(self.staging)


def _page_stamp(db_path: Path, ruleset_id: str, run_started: datetime) -> str:
    """What the page was drawn from: the database file as it is (a run that writes swaps in a new
    file; a run with nothing new only reads it), the day (the rule sets' review dates are compared
    with it), the primary rule set and the page's own code."""
    database = db_path.resolve().stat()
    code = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "dashboards").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            code.update(path.read_bytes())
    return (f"{db_path.resolve()} {database.st_ino} {database.st_size} {database.st_mtime_ns} "
            f"{run_started:%Y-%m-%d} {ruleset_id} {code.hexdigest()}")
