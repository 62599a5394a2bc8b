"""ivig-audit: the command line (contract in docs/design.md).

Heavy libraries (Prefect, Great Expectations, polars) are imported inside the commands that
need them, so --help and classify answer quickly."""
import sys
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Annotated, Optional

import duckdb
import typer

from pipelines.db import MEMORY_LIMIT_ENV, AuditError, memory_limit
from pipelines.paths import DEFAULT_DB, DEFAULT_OUT

app = typer.Typer(help="IVIg prescribing audit against the AAN 2012 neuromuscular guideline.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB audit database file.")]
GuidelineOption = Annotated[Optional[str], typer.Option(
    "--guideline", help="Rule set id, or the path of a rule set YAML file (default: AAN 2012).")]
AlsoGuidelineOption = Annotated[Optional[list[str]], typer.Option(
    "--also-guideline", help="Another rule set to audit under beside the primary (--guideline), by id or "
                             "YAML path; repeat for more. order_audit and the main figures stay the primary's.")]


def _error(message: str) -> None:
    """Each line of the message on stderr (one per problem), control characters neutralised."""
    from pipelines.report import printable
    for line in message.splitlines() or [""]:
        typer.echo(f"ivig-audit: {printable(line)}", err=True)


def _fail(message: str) -> None:
    _error(message)
    sys.exit(2)


@app.command()
def run(inbox: Annotated[Optional[Path], typer.Option(
            help="Folder of extract files to ingest (none: audit the stored orders again).")] = None,
        db: DbOption = DEFAULT_DB,
        out: Annotated[Path, typer.Option(help="Folder for outputs (dashboard.html, exports/, Prefect state).")] = DEFAULT_OUT,
        guideline: GuidelineOption = None,
        also_guideline: AlsoGuidelineOption = None,
        profile: Annotated[Optional[Path], typer.Option(
            help="Site profile YAML: headers, date formats, units, delimiter, encoding, sheet.")] = None,
        site: Annotated[Optional[str], typer.Option(
            help="Site code for rows whose extract has no site column (default: the profile's, else 'local').")] = None):
    """Ingest every extract in the inbox, classify all orders, and print orders by recommendation."""
    if inbox is None and not db.exists():
        _fail(f"{db}: no audit database to audit again; give --inbox DIR with the extract files to ingest")
    if inbox is not None and not inbox.is_dir():
        _fail(f"{inbox}: inbox folder not found")
    _run_and_report(inbox, db, out, guideline, profile, site, also_guideline or [])


@app.command()
def demo(orders: Annotated[int, typer.Option(help="How many synthetic orders.")] = 5000,
         db: DbOption = DEFAULT_DB,
         out: Annotated[Path, typer.Option(help="Folder for outputs.")] = DEFAULT_OUT):
    """Generate synthetic extracts into <out>/demo/inbox (orders, assessments, and a later orders
    extract with repeats, corrections and typing errors) and audit them under every shipped rule set
    (guideline/rulesets/), AAN 2012 primary."""
    import polars as pl

    from pipelines.generate import update_extract, write_extracts
    from pipelines.paths import DEFAULT_RULESET, GUIDELINE_DIR
    from pipelines.reference import load_reference
    inbox = out / "demo" / "inbox"
    files = write_extracts(orders, inbox)
    update = inbox / "orders_update.csv"
    update_extract(pl.read_csv(files.orders, infer_schema_length=0)).write_csv(update)
    for path in (*files, update):
        typer.echo(f"Synthetic extract: {path}")
    shipped = [r for r, (path, _) in load_reference().rulesets.items() if path.parent == GUIDELINE_DIR / "rulesets"]
    _run_and_report(inbox, db, out, None, None, None, sorted(set(shipped) - {DEFAULT_RULESET}))
    from dashboards.pack import HOW_TO_GET_IT, chromium
    if chromium() is None:
        typer.echo(f"Committee pack not written: no Chromium here; {HOW_TO_GET_IT}.")
    else:
        _write_pack(db, out, "latest")


@app.command()
def report(db: DbOption = DEFAULT_DB,
           out: Annotated[Path, typer.Option(help="Folder for the pack and its chart images.")] = DEFAULT_OUT,
           period: Annotated[str, typer.Option(help="The quarter the pack reports, e.g. 2025Q3, against the quarter "
                                               "before and its 12 months against the 12 before (default: latest, "
                                               "the latest complete quarter).")] = "latest",
           prices: Annotated[Optional[Path], typer.Option(help="Price table (YAML, guideline/schema/prices.schema.json; "
                                                          "default: the example prices).")] = None):
    """Write the committee pack: <out>/committee-pack.pdf (A4) and each chart as SVG and PNG in
    <out>/charts/, printed by Chromium."""
    _write_pack(db, out, period, prices)


def _write_pack(db: Path, out: Path, period: str, prices: Path | None = None) -> None:
    from dashboards.findings import Period
    from dashboards.money import load_prices
    from dashboards.pack import write_pack
    from pipelines.db import check_writable, connect
    chosen = Period.parse(period)
    price_table = load_prices(prices) if prices else load_prices()
    check_writable(out, "outputs")
    con = connect(db, read_only=True)
    try:
        pack = write_pack(con, out, chosen, price_table)
    finally:
        con.close()
    typer.echo(f"Committee pack: {pack} (charts in {pack.parent / 'charts'})")


def _run_and_report(inbox: Path | None, db: Path, out: Path, guideline: str | None, profile: Path | None,
                    site: str | None, also_guidelines: list[str] = ()) -> None:
    """What a user can get wrong stops here with one line, before Prefect starts: a bad profile, a
    short pseudonymisation key, a folder that cannot be written, a database another run is writing
    (its lock is held from here to the end)."""
    from pipelines import prefect_env, pseudonym, report
    from pipelines.db import check_writable, run_lock
    from pipelines.profile import load_profile
    site_profile = load_profile(profile, site)
    pseudonym.resolve_key(db)
    check_writable(out, "outputs")
    check_writable(db.parent, "database")
    with run_lock(db):
        prefect_env.configure(out, quiet_failures=True)
        from pipelines.serve import prefect_api
        with prefect_api(one_off=True,
                         while_starting=lambda: import_module("pipelines.flow").import_for(inbox, db, site_profile)):
            from pipelines.flow import NoUsableFile, audit_run
            try:
                summary = audit_run(inbox=inbox, db_path=db, out_dir=out, guideline=guideline,
                                    profile_path=profile, site=site, also_guidelines=list(also_guidelines))
            except NoUsableFile as exc:
                if exc.summary:
                    report.print_run(exc.summary)
                raise
        report.print_run(summary)


@app.command()
def serve(cron: Annotated[str, typer.Option(help="Cron schedule, e.g. '0 6 * * 1' (Mondays 06:00).")],
          inbox: Annotated[Path, typer.Option(help="Folder of extract files; each run takes the new ones.")] = Path("inbox"),
          db: DbOption = DEFAULT_DB,
          out: Annotated[Path, typer.Option(help="Folder for outputs and Prefect state.")] = DEFAULT_OUT,
          guideline: GuidelineOption = None,
          also_guideline: AlsoGuidelineOption = None,
          profile: Annotated[Optional[Path], typer.Option(help="Site profile YAML.")] = None,
          site: Annotated[Optional[str], typer.Option(help="Site code for extracts without a site column.")] = None):
    """Run the audit on a cron schedule through Prefect until stopped (Ctrl-C or SIGTERM)."""
    from pipelines import prefect_env
    from pipelines.db import check_writable
    from pipelines.profile import load_profile
    if not inbox.is_dir():
        _fail(f"{inbox}: inbox folder not found")
    load_profile(profile, site)
    check_writable(out, "outputs")
    check_writable(db.parent, "database")
    prefect_env.configure(out)
    from pipelines.serve import prefect_api
    from pipelines.serve import serve as serve_flow
    parameters = {"inbox": str(inbox.resolve()), "db_path": str(db.resolve()), "out_dir": str(out.resolve()),
                  "guideline": guideline, "profile_path": str(profile.resolve()) if profile else None, "site": site,
                  "also_guidelines": also_guideline or []}
    with prefect_api() as own_server:
        serve_flow(cron, parameters, own_server)


YES_NO_OPTIONS = ("--refractory", "--plasma-exchange", "--methylprednisolone")
YesNoOption = {"metavar": "[yes|no]"}


@app.command()
def bundle(db: DbOption = DEFAULT_DB,
           out: Annotated[Path, typer.Option(help="Drop folder shared with the network; the bundle goes to <out>/<SITE>/<time>/.")] = Path("bundles"),
           site: Annotated[Optional[str], typer.Option(help="Site to bundle (default: the database's only site).")] = None,
           until: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Last day of the period (default: the site's latest order).")] = None,
           months: Annotated[int, typer.Option(help="Calendar months in the period, up to --until.")] = 12,
           allow_free_text: Annotated[bool, typer.Option("--allow-free-text", help="Include indication texts typed for 5 or more patients that named no usable indication.")] = False):
    """Write a site bundle for a network audit: Parquet aggregates and a manifest, no patient-level
    data, small numbers suppressed."""
    from pipelines.bundle import write_bundle
    typer.echo(str(write_bundle(db, out, site, until.date() if until else None, months, allow_free_text)))


@app.command()
def network(bundles: Annotated[Path, typer.Option(help="Drop folder of the sites' bundles (<SITE>/<time>/).")] = Path("bundles"),
            out: Annotated[Path, typer.Option(help="Folder for network.duckdb, network_dashboard.html and Prefect state.")] = DEFAULT_OUT / "network",
            expect: Annotated[Optional[list[str]], typer.Option(help="A site the network expects (repeat); shown as missing without a bundle.")] = None,
            stale_after_days: Annotated[int, typer.Option(help="A site whose period ends this many days before the newest site's is stale.")] = 45):
    """Merge the latest bundle of every site into the network database and publish the network
    dashboard; a bundle that fails its manifest check is refused with its reason."""
    if not bundles.is_dir():
        _fail(f"{bundles}: bundle folder not found")

    def run_network():
        from pipelines.network_flow import network_run
        return network_run(bundle_dir=bundles, out_dir=out, expected_sites=expect or [],
                           stale_after_days=stale_after_days)
    _network_and_report(out, run_network)


@app.command("network-demo")
def network_demo(out: Annotated[Path, typer.Option(help="Folder for the demo sites, their bundles and the network.")] = DEFAULT_OUT / "network-demo"):
    """Generate three sites, audit and bundle each on its own, and build their network dashboard."""
    from pipelines.network_demo import run_demo
    _network_and_report(out, lambda: run_demo(out))


def _network_and_report(out: Path, run_network) -> None:
    from pipelines import prefect_env
    prefect_env.configure(out, quiet_failures=True)
    from pipelines.serve import prefect_api
    with prefect_api(one_off=True, while_starting=lambda: import_module("pipelines.network_flow")):
        summary = run_network()
    for line in summary.refusals:
        typer.echo(line, err=True)
    for line in summary.lines():
        typer.echo(line)


@app.command()
def classify(text: Annotated[str, typer.Argument(help="Indication as typed by the prescriber.")],
             code: Annotated[Optional[str], typer.Option(help="ICD-10 or ICD-10-CM code.")] = None,
             age: Annotated[Optional[str], typer.Option(
                 metavar="YEARS", help="Age at order in whole years, 0-120. Not assumed when not given: a rule that "
                      "depends on age then cannot grade the order.")] = None,
             severity: Annotated[Optional[str], typer.Option(help="mild / moderate / severe.")] = None,
             specialty: Annotated[Optional[str], typer.Option(
                 help="Prescribing specialty (it can support an abbreviation such as DM or GBS).")] = None,
             refractory: Annotated[Optional[str], typer.Option(
                 "--refractory", help="Standard therapy failed: yes or no (alone: yes).", **YesNoOption)] = None,
             plasma_exchange: Annotated[Optional[str], typer.Option(
                 "--plasma-exchange", help="Given with plasma exchange: yes or no (alone: yes).", **YesNoOption)] = None,
             methylprednisolone: Annotated[Optional[str], typer.Option(
                 "--methylprednisolone", help="Given with IV methylprednisolone: yes or no (alone: yes).",
                 **YesNoOption)] = None,
             guideline: GuidelineOption = None):
    """Classify one order and print the verdict with its reason and guideline section."""
    from pipelines.single_order import classify_one
    verdict = classify_one(text, code=code, age=_age(age), severity=severity, specialty=specialty,
                           refractory=_yes_no("--refractory", refractory),
                           plasma_exchange=_yes_no("--plasma-exchange", plasma_exchange),
                           with_methylprednisolone=_yes_no("--methylprednisolone", methylprednisolone),
                           guideline=guideline)
    level = f" (Level {verdict['evidence_level']})" if verdict["evidence_level"] else ""
    outside = f" ({verdict['outside_reason']})" if verdict["outside_reason"] else ""
    typer.echo(f"{verdict['recommendation']}{level}{outside}")
    typer.echo(f"condition: {verdict['condition'] or '-'}")
    typer.echo(f"flags: {', '.join(verdict['flags']) or '-'}")
    typer.echo(f"section: {verdict['guideline_section'] or '-'}")
    typer.echo(f"rationale: {verdict['rationale']}")


def _age(value: str | None) -> int | None:
    """Whole years from 0 to 120 (the checks quarantine other ages in extracts), or not given."""
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) > 120:
        _fail(f"--age must be a whole number of years from 0 to 120, not {value!r}")
    return int(value)


def _yes_no(option: str, value: str | None) -> bool | None:
    """yes/no, y/n, true/false, 1/0 (the extracts' spellings), or not given."""
    if value is None:
        return None
    from pipelines.profile import SiteProfile
    answer = value.strip().lower()
    if answer not in SiteProfile.yes_values + SiteProfile.no_values:
        _fail(f"{option} takes yes or no (or nothing, for yes), not {value!r}")
    return answer in SiteProfile.yes_values


@app.command()
def sql(query: Annotated[str, typer.Argument(help="SQL to run, read-only.")],
        db: DbOption = DEFAULT_DB,
        format: Annotated[str, typer.Option("--format", help="table or csv.")] = "table"):
    """Run a read-only query against the audit database."""
    import duckdb

    from pipelines import report
    from pipelines.db import connect
    format = format.lower()
    if format not in ("table", "csv"):
        _fail(f"--format must be table or csv, not {format!r}")
    con = connect(db, read_only=True)
    try:
        result = con.sql(query)
        frame = result.pl() if result is not None else None
    except duckdb.Error as exc:
        _fail(str(exc).splitlines()[0])
    finally:
        con.close()
    if frame is None:
        _fail("the statement returned no rows to show")
    report.print_frame(frame, format)


@app.command()
def compare(from_ruleset: Annotated[str, typer.Argument(metavar="A", help="Rule set id the verdicts move from.")],
            to_ruleset: Annotated[str, typer.Argument(metavar="B", help="Rule set id the verdicts move to.")],
            db: DbOption = DEFAULT_DB,
            format: Annotated[str, typer.Option("--format", help="table or csv.")] = "table"):
    """What changes from rule set A to rule set B: orders, patients and grams per condition and pair
    of verdicts (mart_ruleset_transitions; both must have been audited, e.g. run --also-guideline B)."""
    from pipelines import report
    from pipelines.db import connect
    format = format.lower()
    if format not in ("table", "csv"):
        _fail(f"--format must be table or csv, not {format!r}")
    con = connect(db, read_only=True)
    try:
        try:
            audited = [r for (r,) in con.execute("SELECT ruleset_id FROM audit_rulesets ORDER BY ALL").fetchall()]
        except duckdb.CatalogException:  # a database from before rule sets were audited side by side
            audited = []
        for ruleset in (from_ruleset, to_ruleset):
            if ruleset not in audited:
                _fail(f"{db}: rule set '{ruleset}' was not audited in this database (audited: {', '.join(audited) or 'none'})")
        frame = con.sql("""
            SELECT condition, from_recommendation AS "from", to_recommendation AS "to", orders, patients, grams
            FROM mart_ruleset_transitions WHERE from_ruleset_id = ? AND to_ruleset_id = ?
            ORDER BY from_recommendation = to_recommendation, grams DESC, condition""",
                        params=[from_ruleset, to_ruleset]).pl()
    finally:
        con.close()
    report.print_frame(frame, format, title=None if format == "csv" else f"From {from_ruleset} to {to_ruleset}")


@app.command()
def export(table: Annotated[str, typer.Argument(help="Table or view to export (see `ivig-audit docs`).")],
           db: DbOption = DEFAULT_DB,
           format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
           out: Annotated[Optional[Path], typer.Option(help="File to write (default: <table>.<format>).")] = None):
    """Export a table: CSV with spreadsheet formulas neutralised, or Parquet."""
    from pipelines.db import connect
    from pipelines.export import export as export_relation
    format = format.lower()
    target = out or Path(f"{table}.{format}")
    con = connect(db, read_only=True, writable_files=(target,))
    try:
        export_relation(con, table, target.resolve(), format)
    finally:
        con.close()
    typer.echo(str(target))


@app.command()
def docs(db: DbOption = DEFAULT_DB,
         out: Annotated[Path, typer.Option(help="Markdown file to write.")] = DEFAULT_OUT / "data_dictionary.md"):
    """Write the data dictionary (every table and column, from the database's own comments)."""
    from pipelines.db import connect
    from pipelines.dictionary import markdown
    con = connect(db, read_only=True)
    try:
        text = markdown(con)
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(str(out))


@app.command()
def generate(orders: Annotated[int, typer.Option(help="How many orders.")],
             out: Annotated[Path, typer.Option(help="Folder to write the extract into.")],
             seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")] = 2012,
             profile: Annotated[Optional[Path], typer.Option(
                 help="Write them as the site this profile describes does (headers, units, dates, delimiter...).")] = None,
             shape: Annotated[str, typer.Option(
                 help="standard, or mixed: about 12 orders per patient at random dates, most patients with some "
                      "CIDP orders, a tenth of orders Level U or should-not.")] = "standard"):
    """Write synthetic orders and assessments extracts in the standard formats (or a site's)."""
    from pipelines.generate import SHAPES, write_extracts
    from pipelines.profile import load_profile
    if orders < 1:
        _fail("--orders must be at least 1")
    if shape not in SHAPES:
        _fail(f"--shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    for path in write_extracts(orders, out, seed, load_profile(profile) if profile else None, shape):
        typer.echo(str(path))


def _bare_flags_mean_yes(args: list[str]) -> list[str]:
    """classify's --refractory, --plasma-exchange and --methylprednisolone take yes or no, and alone
    mean yes (typer has no option with an optional value, so a bare one gets its "yes" here)."""
    given = []
    for index, arg in enumerate(args):
        given.append(arg)
        following = args[index + 1] if index + 1 < len(args) else None
        if arg in YES_NO_OPTIONS and (following is None or following.startswith("-")):
            given.append("yes")
    return given


def main() -> None:
    """Failures a user can cause (bad input, a folder that cannot be read or written, a memory limit
    too small) end with one line on stderr and exit status 2."""
    try:
        app(args=_bare_flags_mean_yes(sys.argv[1:]))
    except AuditError as exc:
        _fail(str(exc))
    except duckdb.OutOfMemoryException as exc:
        _fail(f"DuckDB ran out of memory under {MEMORY_LIMIT_ENV}={memory_limit()}: raise it "
              f"({str(exc).splitlines()[0]})")
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
