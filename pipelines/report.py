"""What a run prints: progress over the inbox, files, rows, quarantine reasons, and orders by
recommendation (rich tables on the terminal)."""
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.db import connect

console = Console()


def print_frame(frame: pl.DataFrame, fmt: str = "table", title: str | None = None) -> None:
    if fmt == "csv":
        print(frame.write_csv(), end="")
        return
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name, justify="right" if frame[name].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@contextmanager
def file_progress(total: int):
    """A progress bar over the inbox; yields done(batch) to call after each file, which also prints
    one line per file (so a log without a terminal still shows where the run got to)."""
    columns = (TextColumn("Ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("", total=total)

        def done(batch) -> None:
            progress.console.print(
                f"{Path(batch.source_file).name}: {batch.status} ({batch.rows_read} read, {batch.rows_loaded} "
                f"loaded, {batch.rows_quarantined} quarantined, {batch.rows_unchanged} unchanged)",
                markup=False, highlight=False, soft_wrap=True)
            progress.update(task, advance=1, description=Path(batch.source_file).name)
        yield done


def cidp_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """CIDP patients reviewed, and those suspected of overuse."""
    return con.execute("SELECT count(*), count(*) FILTER (WHERE overuse_suspected) FROM cidp_review").fetchall()[0]


def print_run(summary) -> None:
    if summary.key_warning:
        console.print(f"[yellow]Warning:[/] {summary.key_warning}")
    batches = pl.DataFrame([{
        "file": Path(b.source_file).name, "status": b.status, "batch": b.batch_id, "read": b.rows_read,
        "loaded": b.rows_loaded, "quarantined": b.rows_quarantined, "unchanged": b.rows_unchanged,
        "note": b.reason or ""} for b in summary.batches])
    if batches.is_empty():
        console.print("No extract files in the inbox.")
    else:
        print_frame(batches, title="Extract files")
    for batch in summary.batches:
        if batch.status == "rejected":
            console.print(f"Rejected: {batch.source_file}: {batch.reason}", markup=False, highlight=False,
                          soft_wrap=True)
    con: duckdb.DuckDBPyConnection = connect(summary.db_path, read_only=True)
    try:
        run_batches = [b.batch_id for b in summary.batches if b.status != "skipped"]
        top_reasons = con.sql("""
            SELECT reason AS "quarantine reason", count(*) AS rows
            FROM quarantine, unnest(reasons) AS r(reason)
            WHERE list_contains(?, batch_id)
            GROUP BY reason ORDER BY rows DESC, reason LIMIT 10""", params=[run_batches]).pl()
        by_recommendation = con.sql("""
            SELECT recommendation, orders, patients, grams, pct_orders AS "% orders", pct_grams AS "% grams"
            FROM mart_recommendation_summary ORDER BY sort_order""").pl()
        cidp_flags = con.sql("""
            SELECT f.flag, count(r.patient_key) AS patients,
                   CASE WHEN f.suspects_overuse THEN 'yes' ELSE 'no (informational)' END AS "suspects overuse"
            FROM ref_cidp_review_flags AS f
            LEFT JOIN (SELECT patient_key, unnest(flags) AS flag FROM cidp_review) AS r USING (flag)
            GROUP BY ALL ORDER BY patients DESC, f.flag""").pl()
        reviewed, suspected = cidp_counts(con)
        ruleset = con.execute(
            "SELECT short_name, version, publisher_status FROM guideline_rulesets WHERE ruleset_id = ?",
            [summary.ruleset_id]).fetchall()[0]
    finally:
        con.close()
    if not top_reasons.is_empty():
        print_frame(top_reasons, title="Top quarantine reasons in this run")
    print_frame(by_recommendation,
                title=f"Orders by recommendation: {ruleset[0]} ({ruleset[1]}; publisher status: {ruleset[2]})")
    print_frame(cidp_flags, title=f"CIDP patients reviewed: {reviewed}, overuse suspected: {suspected}")
    console.print(f"Database: {summary.db_path}")
    console.print(f"Dashboard: {summary.dashboard} ({summary.dashboard.stat().st_size / 1e6:.1f} MB, built in "
                  f"{summary.dashboard_seconds:.1f} s; full lists in {summary.dashboard.parent / 'exports'})")


def run_markdown(con: duckdb.DuckDBPyConnection, summary) -> str:
    """The run summary as Markdown, for the Prefect artifact operators read in the UI."""
    def cell(value) -> str:
        return str("" if value is None else value).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")

    lines = [f"# IVIg audit run: {summary.ruleset_id}", "",
             f"Database: `{summary.db_path}`. Dashboard: [{summary.dashboard.name}]({summary.dashboard.resolve().as_uri()})",
             "", "## Files", "", "| file | status | read | loaded | quarantined | unchanged | note |",
             "|---|---|---:|---:|---:|---:|---|"]
    lines += [f"| {cell(Path(b.source_file).name)} | {b.status} | {b.rows_read} | {b.rows_loaded} | "
              f"{b.rows_quarantined} | {b.rows_unchanged} | {cell(b.reason)} |" for b in summary.batches]
    lines += ["", "## Grams by recommendation", "", "| recommendation | orders | grams | % of grams |",
              "|---|---:|---:|---:|"]
    lines += [f"| {r} | {o:,} | {g:,.0f} | {p or 0:.1f} |" for r, o, g, p in con.execute(
        "SELECT recommendation, orders, grams, pct_grams FROM mart_recommendation_summary ORDER BY sort_order").fetchall()]
    reviewed, suspected = cidp_counts(con)
    lines += ["", "## CIDP review", "", f"{reviewed} CIDP patients reviewed; {suspected} suspected of overuse.", ""]
    return "\n".join(lines)
