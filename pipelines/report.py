"""What a run prints: progress over the inbox, files, rows, quarantine reasons, and orders by
recommendation (rich tables on the terminal).

Text from data (file names, headers, indications, reasons) reaches the terminal only through
printable() and as plain text (rich Text, markup off): "[/]" or "CIDP [maintenance]" print as they
are, and escape sequences or other control characters in them show as \\x1b and the like instead
of acting on the terminal."""
import math
import re
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipelines.db import connect

console = Console()
# C0 and C1 control characters, and the invisible marks that reorder or hide text (bidi controls)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def printable(value) -> str:
    """Text safe to print: each control character written as its escape (\\x1b, \\n, \\u202e)."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), str(value))


def say(text: str) -> None:
    """One line of plain text (no markup), control characters neutralised."""
    console.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def print_frame(frame: pl.DataFrame, fmt: str = "table", title: str | None = None) -> None:
    """CSV with the values exact (lists and structs as text: CSV has no nested values), or a table
    for reading: numbers rounded, with thousands separators, and never cut (their column is never
    narrower than they are: text columns and headers fold instead; a table wider than the terminal
    is printed whole, and the terminal wraps its lines)."""
    if fmt == "csv":
        nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
        print(frame.with_columns(pl.col(name).map_elements(_as_text, return_dtype=pl.String) for name in nested)
              .write_csv(), end="")
        return
    table = Table(title=Text(printable(title)) if title else None)
    columns = []
    for name in frame.columns:
        values = frame[name].to_list()
        decimals = _decimals([float(v) for v in values if isinstance(v, (float, Decimal))])
        cells = [_cell(v, decimals) for v in values]
        columns.append(cells)
        widest = max(map(len, cells), default=0)
        if frame[name].dtype.is_numeric():  # never narrower than its numbers; the header may fold
            table.add_column(Text(printable(name)), justify="right", overflow="fold", min_width=widest)
        else:
            table.add_column(Text(printable(name)), overflow="fold", min_width=min(max(widest, len(name)), 12))
    for row in zip(*columns):
        table.add_row(*map(Text, row))
    needed = 1 + sum(column.min_width + 3 for column in table.columns)
    if needed > console.width:
        table.width = needed
    console.print(table, crop=False)


def _decimals(numbers: list[float]) -> int:
    """Decimals for a column of numbers: as few as show each to 2 decimals (3 significant digits in
    a column whose numbers are all below 1), the same for the whole column."""
    finite = [abs(n) for n in numbers if math.isfinite(n)]
    biggest = max(finite, default=0)
    most = 2 if biggest >= 1 or biggest == 0 else min(6, 2 - math.floor(math.log10(biggest)))
    return max((len(f"{n:.{most}f}".rstrip("0").partition(".")[2]) for n in finite), default=0)


def _as_text(value) -> str:
    """A list (polars hands it over as a Series) as its items joined with '; ', each exact."""
    items = value.to_list() if isinstance(value, pl.Series) else value
    if isinstance(items, list):
        return "; ".join("" if item is None else str(item) for item in items)
    return str(items)


def _cell(value, decimals: int = 2) -> str:
    """A value as shown: numbers rounded to `decimals`, with thousands separators; lists joined
    with '; '; text with its control characters neutralised."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return printable(value)
    if isinstance(value, int) or not math.isfinite(value):
        return f"{value:,}"
    return f"{float(value):,.{decimals}f}"


@contextmanager
def file_progress(total: int):
    """A progress bar over the inbox; yields done(batch) to call after each file, which also prints
    one line per file (so a log without a terminal still shows where the run got to)."""
    columns = (TextColumn("Ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}", markup=False))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("", total=total)

        def done(batch) -> None:
            name = printable(Path(batch.source_file).name)
            progress.console.print(
                f"{name}: {batch.status} ({batch.rows_read:,} read, {batch.rows_loaded:,} loaded of which "
                f"{batch.rows_replaced:,} replaced, {batch.rows_quarantined:,} quarantined, "
                f"{batch.rows_unchanged:,} unchanged)", markup=False, highlight=False, soft_wrap=True)
            progress.update(task, advance=1, description=name)
        yield done


def cidp_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """CIDP patients reviewed, and those suspected of overuse."""
    return con.execute("SELECT count(*), count(*) FILTER (WHERE overuse_suspected) FROM cidp_review").fetchall()[0]


def ruleset_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The run summary's lines on the rule sets: each governance warning (mart_ruleset_governance),
    and for each rule set audited beside the primary, how many orders and grams change verdict."""
    lines = [f"Warning: rule set {name}: {warning}" for name, warnings in con.execute(
        "SELECT short_name, warnings FROM mart_ruleset_governance").fetchall() for warning in warnings]
    lines += [f"Also audited under {name}: {orders:,} orders ({grams:,.0f} g) would change verdict "
              f"(ivig-audit compare {primary} {other})"
              for primary, other, name, orders, grams in con.execute("""
                SELECT p.ruleset_id, g.ruleset_id, g.short_name,
                       coalesce(sum(t.orders) FILTER (WHERE t.from_recommendation <> t.to_recommendation), 0),
                       coalesce(sum(t.grams) FILTER (WHERE t.from_recommendation <> t.to_recommendation), 0)
                FROM mart_ruleset_governance AS g
                JOIN mart_ruleset_governance AS p ON p.is_primary
                LEFT JOIN mart_ruleset_transitions AS t
                  ON t.from_ruleset_id = p.ruleset_id AND t.to_ruleset_id = g.ruleset_id
                WHERE NOT g.is_primary
                GROUP BY ALL ORDER BY g.ruleset_id""").fetchall()]
    return lines


def print_run(summary) -> None:
    if summary.key_warning:
        say(f"Warning: {summary.key_warning}")
    batches = pl.DataFrame([{
        "file": Path(b.source_file).name, "status": b.status, "batch": b.batch_id, "read": b.rows_read,
        "loaded": b.rows_loaded, "replaced": b.rows_replaced, "quarantined": b.rows_quarantined,
        "unchanged": b.rows_unchanged, "note": b.reason or ""} for b in summary.batches])
    if not any(b.reason for b in summary.batches):
        batches = batches.drop("note", strict=False)
    if summary.inbox is None:
        say("No inbox given: nothing ingested; the orders in the database were audited again.")
    elif batches.is_empty():
        say("No extract files in the inbox.")
    else:
        print_frame(batches, title="Extract files")
    for batch in summary.batches:
        if batch.status == "rejected":
            say(f"Rejected: {batch.source_file}: {batch.reason}")
        elif batch.status == "skipped" and batch.batch_id is None:  # not read (files seen before have a batch)
            say(f"Skipped: {batch.source_file}: {batch.reason}")
    con: duckdb.DuckDBPyConnection = connect(summary.db_path, read_only=True)
    try:
        run_batches = [b.batch_id for b in summary.batches if b.status != "skipped"]
        top_reasons = _frame(con, """
            SELECT reason AS "quarantine reason", count(*) AS rows
            FROM quarantine, unnest(reasons) AS r(reason)
            WHERE list_contains(?, batch_id)
            GROUP BY reason ORDER BY rows DESC, reason LIMIT 10""", [run_batches])
        by_recommendation = _frame(con, """
            SELECT recommendation, orders, patients, grams, pct_orders AS "% orders", pct_grams AS "% grams"
            FROM mart_recommendation_summary ORDER BY sort_order""")
        cidp_flags = _frame(con, """
            SELECT f.flag, count(r.patient_key) AS patients,
                   CASE WHEN f.suspects_overuse THEN 'yes' ELSE 'no (informational)' END AS "suspects overuse"
            FROM ref_cidp_review_flags AS f
            LEFT JOIN (SELECT patient_key, unnest(flags) AS flag FROM cidp_review) AS r USING (flag)
            GROUP BY ALL ORDER BY patients DESC, f.flag""")
        reviewed, suspected = cidp_counts(con)
        ruleset = con.execute(
            "SELECT short_name, version, publisher_status FROM guideline_rulesets WHERE ruleset_id = ?",
            [summary.ruleset_id]).fetchall()[0]
        rulesets = ruleset_lines(con)
    finally:
        con.close()
    if not top_reasons.is_empty():
        print_frame(top_reasons, title="Top quarantine reasons in this run")
    print_frame(by_recommendation,
                title=f"Orders by recommendation: {ruleset[0]} ({ruleset[1]}; publisher status: {ruleset[2]})")
    print_frame(cidp_flags, title=f"CIDP patients reviewed: {reviewed}, overuse suspected: {suspected}")
    for line in rulesets:
        say(line)
    say(f"Database: {summary.db_path}")
    say(f"Dashboard: {summary.dashboard} ({summary.dashboard.stat().st_size / 1e6:.1f} MB, built in "
        f"{summary.dashboard_seconds:.1f} s; full lists in {summary.dashboard.parent / 'exports'})")


def _frame(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> pl.DataFrame:
    """A small query's rows as a frame, built from Python values: DuckDB's .pl() goes through
    pyarrow, whose import (0.1-0.3 s) a run with nothing new would otherwise pay for three tables."""
    cursor = con.execute(query, params or [])
    names = [column[0] for column in cursor.description]
    return pl.DataFrame(cursor.fetchall(), schema=names, orient="row")


def run_markdown(con: duckdb.DuckDBPyConnection, summary) -> str:
    """The run summary as Markdown, for the Prefect artifact operators read in the UI."""
    def cell(value) -> str:
        return printable("" if value is None else value).replace("|", "\\|").replace("<", "&lt;")

    lines = [f"# IVIg audit run: {summary.ruleset_id}", "",
             f"Database: `{summary.db_path}`. Dashboard: [{summary.dashboard.name}]({summary.dashboard.resolve().as_uri()})",
             "", "## Files", "",
             "| file | status | read | loaded | of which replaced | quarantined | unchanged | note |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {cell(Path(b.source_file).name)} | {b.status} | {b.rows_read:,} | {b.rows_loaded:,} | "
              f"{b.rows_replaced:,} | {b.rows_quarantined:,} | {b.rows_unchanged:,} | {cell(b.reason)} |"
              for b in summary.batches]
    lines += ["", "## Grams by recommendation", "", "| recommendation | orders | grams | % of grams |",
              "|---|---:|---:|---:|"]
    lines += [f"| {r} | {o:,} | {g:,.0f} | {p or 0:.1f} |" for r, o, g, p in con.execute(
        "SELECT recommendation, orders, grams, pct_grams FROM mart_recommendation_summary ORDER BY sort_order").fetchall()]
    reviewed, suspected = cidp_counts(con)
    lines += ["", "## CIDP review", "", f"{reviewed} CIDP patients reviewed; {suspected} suspected of overuse.", ""]
    if rulesets := ruleset_lines(con):
        lines += ["## Rule sets", ""] + [f"- {cell(line)}" for line in rulesets] + [""]
    return "\n".join(lines)
