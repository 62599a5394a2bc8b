"""Read one extract file (CSV, gzip-compressed CSV, Excel or Parquet) into DuckDB, every field as text:

- raw_rows(source_row, <standard column names of its kind>): the data rows, headers mapped with
  the site profile; source_row 1 is the first row after the header (a view of temp table raw_file);
- raw_rejects(source_row, line, order_id, reasons): rows held back before staging: CSV lines that
  could not be split into the header's fields, rows holding NUL bytes, a last line without a line
  end (the file may still be being written), and the first row of a file whose first row looks like
  data (row 0). `line` is the line in the file and `order_id` the row's order id field, where known;
  the raw line is never kept.

Nothing from the file becomes SQL text: CSV columns are read as c1..cN and renamed here, Excel
frames are registered, Parquet column names are quoted identifiers, values are bound parameters.
No value from the file reaches a reason or note either: header names are shown only when they look
like names (a header row that is really data would otherwise show hospital numbers and birth dates).
"""
import codecs
import csv
import gzip
import hashlib
import io
import re
import tempfile
import zlib
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
GZIP_CSV_SUFFIXES = tuple(f"{suffix}.gz" for suffix in CSV_SUFFIXES)  # DuckDB reads them as they are
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t", "|")
HEAD_BYTES = 1 << 16
BLOCK_BYTES = 1 << 20
INCOMPLETE_LAST_LINE = ("incomplete_last_line: the last line has no line end (the file may still have been "
                        "being written); held back, it loads when the complete file comes")
NUL_BYTES = "nul_bytes: the row holds NUL bytes (binary data, not text)"


class UnreadableFile(Exception):
    """The file cannot be used at all; the message says why (it becomes the batch's reason)."""


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the bytes tells: identity (sha256 of the bytes as stored) and, of the text
    (decompressed when gzip), its size, encoding, line ends and NUL bytes."""
    sha256: str
    size: int
    head: bytes
    valid_utf8: bool
    mixed_line_endings: bool
    has_nul: bool
    ends_with_line_end: bool
    line_ends: int
    problem: str | None = None  # why the bytes cannot be read as text at all (a damaged gzip file)


@dataclass
class Extract:
    kind: str
    headers: list[str]
    note: str | None = None
    problem: str | None = None  # set when the file is rejected (its rows, if any, are quarantined)


def standard_name(header: str) -> str:
    """'Order ID ' -> 'order_id': headers compare in lower case with runs of other characters as _."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def extract_type(path: Path) -> str:
    """The file type by its name: '.csv' for orders.csv, '.csv.gz' for orders.csv.gz."""
    suffixes = [suffix.lower() for suffix in path.suffixes[-2:]]
    return "".join(suffixes) if suffixes[-1:] == [".gz"] else path.suffix.lower()


class _Hashed(io.RawIOBase):
    """A binary file whose bytes go through a digest as they are read."""
    def __init__(self, stored, digest):
        self.stored, self.digest = stored, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.stored.readinto(buffer)
        self.digest.update(memoryview(buffer)[:count])
        return count


def inspect_file(path: Path) -> FileFacts:
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    valid_utf8, crlf, bare_lf, size, previous_cr, has_nul, line_ends = True, False, False, 0, False, False, 0
    head, last, problem = b"", b"", None
    with path.open("rb") as stored:
        hashed = io.BufferedReader(_Hashed(stored, digest), BLOCK_BYTES)
        text = gzip.GzipFile(fileobj=hashed, mode="rb") if path.suffix.lower() == ".gz" else hashed
        try:
            for block in iter(lambda: text.read(BLOCK_BYTES), b""):
                if not head:
                    head = block[:HEAD_BYTES]
                size += len(block)
                last = block[-1:]
                # the byte-level tests first: they are many times faster than decoding
                if valid_utf8 and not (block.isascii() and not utf8.getstate()[0]):
                    try:
                        utf8.decode(block)
                    except UnicodeDecodeError:
                        valid_utf8 = False
                has_nul = has_nul or b"\x00" in block
                line_ends += block.count(b"\n")
                if previous_cr or b"\r" in block:
                    crlf = crlf or b"\r\n" in block or (previous_cr and block.startswith(b"\n"))
                    lf_count = block.count(b"\n") - block.count(b"\r\n") - (previous_cr and block.startswith(b"\n"))
                    bare_lf = bare_lf or lf_count > 0
                else:
                    bare_lf = bare_lf or b"\n" in block
                previous_cr = block.endswith(b"\r")
        except (OSError, EOFError, zlib.error):
            if text is hashed:
                raise
            problem = "not a gzip file, or a damaged one"
        for _ in iter(lambda: hashed.read(BLOCK_BYTES), b""):  # the rest of the bytes, for the hash
            pass
    return FileFacts(digest.hexdigest(), size, head, valid_utf8, crlf and bare_lf, has_nul,
                     last in (b"\n", b"\r"), line_ends, problem)


def read_extract(con: duckdb.DuckDBPyConnection, path: Path, facts: FileFacts,
                 profile: SiteProfile) -> Extract:
    """Fill raw_rows and raw_rejects from the file. Raises UnreadableFile when there are no rows to
    keep; returns an Extract with `problem` set when rows were read but the file cannot be loaded."""
    con.execute("CREATE OR REPLACE TEMP TABLE raw_rejects "
                "(source_row BIGINT, line BIGINT, order_id VARCHAR, reasons VARCHAR[])")
    suffix = extract_type(path)
    if facts.problem:
        raise UnreadableFile(facts.problem)
    if facts.size == 0:
        raise UnreadableFile("empty file")
    if suffix in CSV_SUFFIXES + GZIP_CSV_SUFFIXES:
        return _map_columns(con, _read_csv(con, path, facts, profile), profile, True, profile.delimiter)
    if suffix in EXCEL_SUFFIXES:
        return _map_columns(con, _read_excel(con, path, profile), profile, True)
    if suffix in PARQUET_SUFFIXES:
        return _map_columns(con, _read_parquet(con, path), profile, False)
    readable = ", ".join(CSV_SUFFIXES + GZIP_CSV_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES)
    raise UnreadableFile(f"unsupported file type '{suffix or '(none)'}' (readable: {readable})")


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, facts: FileFacts, profile: SiteProfile) -> list[str]:
    encoding = _encoding(facts, profile)
    source, workdir, complete = path, None, facts.ends_with_line_end
    if encoding not in ("utf-8", "utf-8-sig") or facts.mixed_line_endings:
        # beside DuckDB's spills, in the run's private scratch folder (pipelines/db.py): the copy
        # holds every raw identifier, and a killed run's copy is removed by the next run
        scratch = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        workdir = tempfile.TemporaryDirectory(prefix="decoded-", dir=scratch)
        source = Path(workdir.name) / "extract.csv"
        complete = _rewrite_as_utf8(path, encoding, source)
    try:
        with _open(source, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            head = handle.read(HEAD_BYTES)
        delimiter = profile.delimiter or _sniff_delimiter(head)
        try:
            headers = next(csv.reader(io.StringIO(head), delimiter=delimiter))
        except (StopIteration, csv.Error) as exc:
            raise UnreadableFile("no header line could be read") from exc
        if any("\x00" in header for header in headers):
            raise UnreadableFile("binary content (NUL bytes in the header line), not a text extract: without a "
                                 "header no row can be counted (UTF-16 without a byte-order mark? the site "
                                 "profile can say encoding: utf-16)")
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
        order_column = _positions(headers, profile)[0].get("order_id")
        _hold_back_unsplit_lines(con, source, delimiter, order_column)
    finally:
        if workdir:
            workdir.cleanup()
    if facts.has_nul:
        _hold_back(con, " OR ".join(f"contains(c{i}, chr(0))" for i in range(1, len(headers) + 1)),
                   order_column, NUL_BYTES)
    if not complete:
        _hold_back_last_row(con, order_column, facts.line_ends + 1)
    return headers


def _hold_back_unsplit_lines(con: duckdb.DuckDBPyConnection, source: Path, delimiter: str,
                             order_column: int | None) -> None:
    """raw_rejects from DuckDB's rejected lines: the row, the line in the file, the order id field
    and what was wrong (DuckDB's error type, and the column counts: never the line's text)."""
    # DuckDB numbers rejected records from 1 = header; data rows around them keep their true numbers
    con.execute("""
        INSERT INTO raw_rejects
        SELECT line - 1, NULL,
               nullif(trim(string_split(any_value(csv_line), ?)[?], '" ' || chr(9) || chr(10) || chr(13)), ''),
               list(reason ORDER BY reason)
        FROM (SELECT line, any_value(csv_line) AS csv_line,
                     'csv_structure: ' || lower(error_type) || coalesce(' (' || nullif(regexp_extract(
                         arg_min(error_message, column_idx), 'Expected Number of Columns: [0-9]+ Found: [0-9]+'), '')
                         || ')', '') AS reason
              FROM csv_rejects GROUP BY line, error_type)
        GROUP BY line""", [delimiter, order_column])
    starts = con.execute("SELECT line - 1, min(line_byte_position) FROM csv_rejects GROUP BY line ORDER BY 2")\
        .fetchall()
    if not starts:
        return
    rows, positions = zip(*starts)
    con.execute("""
        UPDATE raw_rejects SET line = found.line
        FROM (SELECT unnest(?) AS source_row, unnest(?) AS line) AS found
        WHERE raw_rejects.source_row = found.source_row""", [list(rows), _line_numbers(source, list(positions))])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE raw_file AS
        WITH shifts AS (
            SELECT source_row - row_number() OVER (ORDER BY source_row) AS good_rows_before FROM raw_rejects
        )
        SELECT * REPLACE (
            parsed_row + (SELECT count(*) FROM shifts WHERE good_rows_before < parsed_row) AS parsed_row)
        FROM raw_file""")


def _hold_back(con: duckdb.DuckDBPyConnection, condition: str, order_column: int | None, reason: str,
               line: int | None = None) -> None:
    """Move the rows of raw_file that meet `condition` (SQL over c1..cN and parsed_row) to raw_rejects."""
    order_id = f"nullif(replace(c{order_column}, chr(0), ''), '')" if order_column else "NULL"
    con.execute(f"INSERT INTO raw_rejects SELECT parsed_row, ?, {order_id}, [?] FROM raw_file WHERE {condition}",
                [line, reason])
    con.execute(f"DELETE FROM raw_file WHERE {condition}")


def _hold_back_last_row(con: duckdb.DuckDBPyConnection, order_column: int | None, line: int) -> None:
    """A file whose last line has no line end may still be being written: its last row is held back,
    whatever else is wrong with it (a cut "STM" would load as site "ST"); the complete file, when it
    comes, is another content and is read again."""
    last_row = con.execute("SELECT greatest((SELECT max(parsed_row) FROM raw_file), "
                           "(SELECT max(source_row) FROM raw_rejects))").fetchall()[0][0]
    if last_row is None:  # a header alone
        return
    updated = con.execute("UPDATE raw_rejects SET reasons = [?], line = ? WHERE source_row = ?",
                          [INCOMPLETE_LAST_LINE, line, last_row]).fetchall()[0][0]
    if not updated:
        _hold_back(con, f"parsed_row = {int(last_row)}", order_column, INCOMPLETE_LAST_LINE, line)


def _line_numbers(source: Path, byte_positions: list[int]) -> list[int]:
    """The line (1 = the first) at each byte position (ascending) of a file, counting its line ends."""
    numbers, lines_before, offset = [], 0, 0
    with _open(source, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            end = offset + len(block)
            while len(numbers) < len(byte_positions) and byte_positions[len(numbers)] < end:
                numbers.append(lines_before + block.count(b"\n", 0, byte_positions[len(numbers)] - offset) + 1)
            if len(numbers) == len(byte_positions):
                break
            lines_before, offset = lines_before + block.count(b"\n"), end
    return numbers + [lines_before + 1] * (len(byte_positions) - len(numbers))


def _open(path: Path, mode: str, **text_options):
    """The file's content: decompressed when its name ends in .gz."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode, **text_options)
    return path.open(mode, **text_options)


def _encoding(facts: FileFacts, profile: SiteProfile) -> str:
    if profile.encoding != "auto":
        return profile.encoding
    if facts.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8" if facts.valid_utf8 else "windows-1252"


def _rewrite_as_utf8(path: Path, encoding: str, target: Path) -> bool:
    """A UTF-8 copy with \\n line endings, for files DuckDB cannot read as they are (another
    encoding, or CRLF and LF mixed). Streams in blocks; a CR at a block's end waits for the next.
    Returns whether the text ends with a line end."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending, last = "", ""
    with _open(path, "rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        for block in iter(lambda: source.read(BLOCK_BYTES), b""):
            text = pending + decoder.decode(block)
            text, pending = (text[:-1], "\r") if text.endswith("\r") else (text, "")
            out.write(text.replace("\r\n", "\n").replace("\r", "\n"))
            last = text[-1:] or last
        text = (pending + decoder.decode(b"", final=True)).replace("\r\n", "\n").replace("\r", "\n")
        out.write(text)
    return (text[-1:] or last) in ("\n", "\r")


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


def _positions(headers: list[str], profile: SiteProfile) -> tuple[dict[str, int], list[str], list[tuple[int, str]]]:
    """The file's columns by standard name (1 = the first column), the standard names found twice
    (the second is not loaded), and the other columns (number, header)."""
    renamed = {standard_name(theirs): ours for ours, theirs in profile.columns.items()}
    position: dict[str, int] = {}
    repeated, other = [], []
    for index, header in enumerate(headers, 1):
        name = renamed.get(standard_name(header), standard_name(header))
        if name in position:
            repeated.append(name)
        elif any(name in columns for columns in EXTRACT_COLUMNS.values()):
            position[name] = index
        else:
            other.append((index, header))
    return position, repeated, other


def _map_columns(con: duckdb.DuckDBPyConnection, headers: list[str], profile: SiteProfile, header_row: bool,
                 delimiter: str | None = None) -> Extract:
    """raw_rows from raw_file: the site's headers mapped to standard names, the kind recognised.
    header_row: the headers are the file's first row (CSV, Excel), not column names (Parquet);
    delimiter: the one the site profile gives, if any."""
    position, repeated, other = _positions(headers, profile)
    kind = profile.kind or ("assessments" if "measure" in position and "order_id" not in position else "orders")
    missing = [" or ".join(c) if isinstance(c, tuple) else c for c in REQUIRED_COLUMNS[kind]
               if not any(name in position for name in (c if isinstance(c, tuple) else (c,)))]
    select = ", ".join(f"c{position[c]} AS {c}" if c in position else f"NULL::VARCHAR AS {c}"
                       for c in EXTRACT_COLUMNS[kind])
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw_rows AS SELECT parsed_row AS source_row, {select} FROM raw_file")
    other_delimiter = next((d for d in DELIMITERS if delimiter and len(headers) == 1 and d != delimiter
                            and d in headers[0]), None)
    if missing and other_delimiter:
        problem = (f"the header line has no {delimiter!r} (the delimiter of the site profile) but has "
                   f"{other_delimiter!r}: the file is not in this site's format")
        return Extract(kind, headers, None, problem)
    if not position:  # not an extract's header, maybe not a header at all: no name of it is shown
        if header_row and any(header.strip() and not _looks_like_a_name(header) for header in headers):
            problem = (f"first row looks like data, not a header ({len(headers)} columns; none is a standard "
                       "column or one the site profile names)")
            # the first row is a row of the file too: held back with the others
            con.execute("INSERT INTO raw_rejects VALUES (0, 1, NULL, [?])", [f"file_rejected: {problem}"])
        else:
            problem = (f"not an {kind} extract: none of its {len(headers)} columns is a standard column or one "
                       "the site profile names (their names are not shown)")
        return Extract(kind, headers, None, problem)
    shown = [f"a second {name} column" for name in repeated]
    shown += [name for name in position if name not in EXTRACT_COLUMNS[kind]]
    shown += [header if header.strip() else f"(unnamed column {index})" for index, header in other
              if not header.strip() or _looks_like_a_name(header)]
    hidden = sum(1 for _, header in other if header.strip() and not _looks_like_a_name(header))
    if hidden:
        shown.append(f"{hidden} whose header looks like data, not a name (not shown)")
    note = f"columns not in the standard extract, not loaded: {', '.join(shown)}" if shown else None
    problem = f"not an {kind} extract: missing column(s) {', '.join(missing)}" if missing else None
    return Extract(kind, headers, note, problem)


def _looks_like_a_name(header: str) -> bool:
    """A column name, not a value: short, printable, starting with a letter, without digits (a
    hospital number or a date has them)."""
    return (len(header) <= 64 and header[:1].isalpha() and header.isprintable()
            and not any(character.isdigit() for character in header))
