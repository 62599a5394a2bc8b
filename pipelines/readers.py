"""Read one extract file (CSV, Excel or Parquet) into DuckDB, every field as text:

- raw_rows(source_row, <standard column names of its kind>): the data rows, headers mapped with
  the site profile; source_row 1 is the first row after the header (a view of temp table raw_file);
- raw_rejects(source_row, reasons): CSV lines that could not be split into the header's fields.

Nothing from the file becomes SQL text: CSV columns are read as c1..cN and renamed here, Excel
frames are registered, Parquet column names are quoted identifiers, values are bound parameters.
"""
import codecs
import csv
import hashlib
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.db import quote_identifier
from pipelines.profile import SiteProfile

EXTRACT_COLUMNS = {
    "orders": (
        "order_id", "patient_id", "age_years", "date_of_birth", "sex", "weight_kg", "height_cm",
        "order_date", "start_date", "infusion_days", "dose_g", "product", "indication", "diagnosis_code",
        "severity", "refractory", "plasma_exchange", "with_methylprednisolone", "specialty", "department",
        "prescriber_id", "site"),
    "assessments": ("patient_id", "assessment_date", "measure", "value", "site"),
}
REQUIRED_COLUMNS = {
    "orders": ("order_id", "patient_id", "weight_kg", "order_date", "dose_g",
               ("age_years", "date_of_birth"), ("indication", "diagnosis_code")),
    "assessments": ("patient_id", "assessment_date", "measure", "value"),
}
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t", "|")
HEAD_BYTES = 1 << 16
BLOCK_BYTES = 1 << 20


class UnreadableFile(Exception):
    """The file cannot be used at all; the message says why (it becomes the batch's reason)."""


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the bytes tells: identity (sha256) and how the text is encoded."""
    sha256: str
    size: int
    head: bytes
    valid_utf8: bool
    mixed_line_endings: bool


@dataclass
class Extract:
    kind: str
    headers: list[str]
    note: str | None = None
    problem: str | None = None  # set when the file is rejected (its rows, if any, are quarantined)


def standard_name(header: str) -> str:
    """'Order ID ' -> 'order_id': headers compare in lower case with runs of other characters as _."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def inspect_file(path: Path) -> FileFacts:
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    valid_utf8, crlf, bare_lf, size, previous_cr = True, False, False, 0, False
    head = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
            if not head:
                head = block[:HEAD_BYTES]
            size += len(block)
            # the byte-level tests first: they are many times faster than decoding or counting
            if valid_utf8 and not (block.isascii() and not utf8.getstate()[0]):
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    valid_utf8 = False
            if previous_cr or b"\r" in block:
                crlf = crlf or b"\r\n" in block or (previous_cr and block.startswith(b"\n"))
                lf_count = block.count(b"\n") - block.count(b"\r\n") - (previous_cr and block.startswith(b"\n"))
                bare_lf = bare_lf or lf_count > 0
            else:
                bare_lf = bare_lf or b"\n" in block
            previous_cr = block.endswith(b"\r")
    return FileFacts(digest.hexdigest(), size, head, valid_utf8, crlf and bare_lf)


def read_extract(con: duckdb.DuckDBPyConnection, path: Path, facts: FileFacts,
                 profile: SiteProfile) -> Extract:
    """Fill raw_rows and raw_rejects from the file. Raises UnreadableFile when there are no rows to
    keep; returns an Extract with `problem` set when rows were read but the file cannot be loaded."""
    con.execute("CREATE OR REPLACE TEMP TABLE raw_rejects (source_row BIGINT, reasons VARCHAR[])")
    suffix = path.suffix.lower()
    if facts.size == 0:
        raise UnreadableFile("empty file")
    if suffix in CSV_SUFFIXES:
        headers = _read_csv(con, path, facts, profile)
    elif suffix in EXCEL_SUFFIXES:
        headers = _read_excel(con, path, profile)
    elif suffix in PARQUET_SUFFIXES:
        headers = _read_parquet(con, path)
    else:
        readable = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES)
        raise UnreadableFile(f"unsupported file type '{suffix or '(none)'}' (readable: {readable})")
    return _map_columns(con, headers, profile)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, facts: FileFacts, profile: SiteProfile) -> list[str]:
    encoding = _encoding(facts, profile)
    if encoding != "utf-16" and b"\x00" in facts.head:
        raise UnreadableFile("binary content (NUL bytes), not a text extract")
    source, workdir = path, None
    if encoding not in ("utf-8", "utf-8-sig") or facts.mixed_line_endings:
        # beside DuckDB's spills, in the run's private scratch folder (pipelines/db.py): the copy
        # holds every raw identifier, and a killed run's copy is removed by the next run
        scratch = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        workdir = tempfile.TemporaryDirectory(prefix="decoded-", dir=scratch)
        source = Path(workdir.name) / "extract.csv"
        _rewrite_as_utf8(path, encoding, source)
    try:
        with source.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            head = handle.read(HEAD_BYTES)
        delimiter = profile.delimiter or _sniff_delimiter(head)
        try:
            headers = next(csv.reader(io.StringIO(head), delimiter=delimiter))
        except (StopIteration, csv.Error) as exc:
            raise UnreadableFile(f"no header line ({exc or 'no text'})") from exc
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(1, len(headers) + 1)) + "}"
        con.execute("DROP TABLE IF EXISTS csv_rejects; DROP TABLE IF EXISTS csv_rejects_scan")
        try:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE raw_file AS
                SELECT row_number() OVER () AS parsed_row, *
                FROM read_csv(?, auto_detect = false, header = true, delim = ?, quote = '"', escape = '"',
                              columns = {columns}, max_line_size = 20000000,
                              store_rejects = true, rejects_table = 'csv_rejects',
                              rejects_scan = 'csv_rejects_scan')""", [str(source), delimiter]).fetchall()
        except duckdb.Error as exc:
            raise UnreadableFile(f"cannot be read as CSV: {str(exc).splitlines()[0]}") from exc
    finally:
        if workdir:
            workdir.cleanup()
    # DuckDB numbers rejected records from 1 = header; data rows around them keep their true numbers
    con.execute("""
        INSERT INTO raw_rejects
        SELECT line - 1, list(reason ORDER BY reason)
        FROM (SELECT line, 'csv_structure: ' || lower(error_type) || ' (' || arg_min(error_message, column_idx) || ')' AS reason
              FROM csv_rejects GROUP BY line, error_type)
        GROUP BY line""")
    if not con.execute("SELECT count(*) FROM raw_rejects").fetchall()[0][0]:
        return headers
    con.execute("""
        CREATE OR REPLACE TEMP TABLE raw_file AS
        WITH shifts AS (
            SELECT source_row - row_number() OVER (ORDER BY source_row) AS good_rows_before FROM raw_rejects
        )
        SELECT * REPLACE (
            parsed_row + (SELECT count(*) FROM shifts WHERE good_rows_before < parsed_row) AS parsed_row)
        FROM raw_file""")
    return headers


def _encoding(facts: FileFacts, profile: SiteProfile) -> str:
    if profile.encoding != "auto":
        return profile.encoding
    if facts.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8" if facts.valid_utf8 else "windows-1252"


def _rewrite_as_utf8(path: Path, encoding: str, target: Path) -> None:
    """A UTF-8 copy with \\n line endings, for files DuckDB cannot read as they are (another
    encoding, or CRLF and LF mixed). Streams in blocks; a CR at a block's end waits for the next."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = ""
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        for block in iter(lambda: source.read(BLOCK_BYTES), b""):
            text = pending + decoder.decode(block)
            text, pending = (text[:-1], "\r") if text.endswith("\r") else (text, "")
            out.write(text.replace("\r\n", "\n").replace("\r", "\n"))
        out.write((pending + decoder.decode(b"", final=True)).replace("\r\n", "\n").replace("\r", "\n"))


def _sniff_delimiter(head: str) -> str:
    first_line = head.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_excel(con: duckdb.DuckDBPyConnection, path: Path, profile: SiteProfile) -> list[str]:
    import polars as pl
    try:
        frame = pl.read_excel(path, sheet_name=profile.sheet, infer_schema_length=0) if profile.sheet \
            else pl.read_excel(path, sheet_id=1, infer_schema_length=0)
    except Exception as exc:  # fastexcel raises its own error types for every kind of bad workbook
        raise UnreadableFile(f"cannot be read as a workbook: {str(exc).splitlines()[0]}") from exc
    headers = frame.columns
    excel_frame = frame.rename({name: f"c{i}" for i, name in enumerate(headers, 1)})
    con.register("excel_frame", excel_frame)
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE raw_file AS
            SELECT row_number() OVER () AS parsed_row, * FROM excel_frame""")
    finally:
        con.unregister("excel_frame")
    return headers


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        headers = [row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        select = ", ".join(f"CAST({quote_identifier(h)} AS VARCHAR) AS c{i}" for i, h in enumerate(headers, 1))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE raw_file AS
            SELECT row_number() OVER () AS parsed_row, {select} FROM read_parquet(?)""", [str(path)])
    except duckdb.Error as exc:
        raise UnreadableFile(f"cannot be read as Parquet: {str(exc).splitlines()[0]}") from exc
    return headers


def _map_columns(con: duckdb.DuckDBPyConnection, headers: list[str], profile: SiteProfile) -> Extract:
    """raw_rows from raw_file: the site's headers mapped to standard names, the kind recognised."""
    renamed = {standard_name(theirs): ours for ours, theirs in profile.columns.items()}
    position: dict[str, int] = {}
    ignored = []
    for index, header in enumerate(headers, 1):
        name = renamed.get(standard_name(header), standard_name(header))
        if name in position:
            ignored.append(f"{header} (a second {name} column)")
        elif not any(name in columns for columns in EXTRACT_COLUMNS.values()):
            ignored.append(header or f"(unnamed column {index})")
        else:
            position[name] = index
    kind = profile.kind or ("assessments" if "measure" in position and "order_id" not in position else "orders")
    missing = [" or ".join(c) if isinstance(c, tuple) else c for c in REQUIRED_COLUMNS[kind]
               if not any(name in position for name in (c if isinstance(c, tuple) else (c,)))]
    ignored += [headers[i - 1] for name, i in position.items() if name not in EXTRACT_COLUMNS[kind]]
    select = ", ".join(f"c{position[c]} AS {c}" if c in position else f"NULL::VARCHAR AS {c}"
                       for c in EXTRACT_COLUMNS[kind])
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw_rows AS SELECT parsed_row AS source_row, {select} FROM raw_file")
    note = f"columns not in the standard extract, not loaded: {', '.join(ignored)}" if ignored else None
    problem = f"not an {kind} extract: missing column(s) {', '.join(missing)}" if missing else None
    return Extract(kind, headers, note, problem)
